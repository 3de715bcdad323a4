/**
 * `kvflow engine` and `kvflow gateway` take their flags from field tables (src/config/engine-fields.ts,
 * gateway-fields.ts, server-fields.ts), as `simulate` does: every flag is a field, the defaults are the
 * library's, each field's flag parser and document schema accept the same values, and the hardware flags
 * of the engine are the simulator's.
 */
import { Command } from 'commander';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ENGINE_FIELD_GROUPS, ENGINE_HARDWARE_FIELDS } from '../../src/config/engine-fields.js';
import type { ConfigField, FieldTable } from '../../src/config/field.js';
import { GATEWAY_FIELD_GROUPS } from '../../src/config/gateway-fields.js';
import { HARDWARE_FIELDS } from '../../src/config/simulation-fields.js';
import { engineSetupAndHardware, registerEngine, type EngineFlags } from '../../src/cli/engine.js';
import { registerGateway } from '../../src/cli/gateway.js';
import { ENGINE_DEFAULTS } from '../../src/serve/engine/engine-config.js';
import { GATEWAY_DEFAULTS } from '../../src/serve/gateway/gateway-server.js';
import { HEALTH_CHECK_DEFAULTS } from '../../src/serve/gateway/health-check.js';
import { SERVER_LIMIT_DEFAULTS } from '../../src/serve/http/server-limits.js';
import { CACHE_AWARE_DEFAULTS } from '../../src/sim/cache-aware-routing.js';

type Register = (program: Command) => void;

function commandOf(register: Register): Command {
  const program = new Command();
  register(program);
  return program.commands[0]!;
}

/** The real command, its action replaced by one that hands back the parsed flags. */
async function parsedFlags(register: Register, args: string[]): Promise<Record<string, unknown>> {
  const program = new Command().exitOverride();
  register(program);
  let flags: Record<string, unknown> = {};
  program.commands[0]!.exitOverride().action((parsed: Record<string, unknown>) => {
    flags = parsed;
  });
  await program.parseAsync([program.commands[0]!.name(), ...args], { from: 'user' });
  return flags;
}

function fieldsOf(groups: Readonly<Record<string, FieldTable>>): Record<string, ConfigField> {
  return Object.assign({}, ...Object.values(groups)) as Record<string, ConfigField>;
}

const SERVERS = [
  ['engine', registerEngine, ENGINE_FIELD_GROUPS],
  ['gateway', registerGateway, GATEWAY_FIELD_GROUPS],
] as const;

describe.each(SERVERS)('kvflow %s flags', (_name, register, groups) => {
  const fields = fieldsOf(groups);

  it('are exactly the fields of its tables, each under its concern in --help', () => {
    const command = commandOf(register);
    const attributes = [...new Set(command.options.map((option) => option.attributeName()))];
    expect(attributes.sort()).toEqual(Object.keys(fields).sort());
    const help = command.helpInformation();
    for (const heading of Object.keys(groups)) expect(help, heading).toContain(`${heading}:`);
    for (const field of Object.values(fields)) expect(help, field.flag).toContain(field.flag);
  });

  it('give each field its default, which its document schema accepts unchanged', async () => {
    const flags = await parsedFlags(register, []);
    for (const [key, field] of Object.entries(fields)) {
      expect(flags[key], key).toEqual(field.default);
      if (field.default !== undefined) expect(field.schema(z).parse(field.default), key).toEqual(field.default);
    }
  });

  it('name the flag when a value is wrong', async () => {
    await expect(parsedFlags(register, ['--port', '99999'])).rejects.toThrow(/--port.*is not a port/);
    await expect(parsedFlags(register, ['--request-timeout', '0'])).rejects.toThrow(/--request-timeout.*is not an integer >= 1/);
  });
});

describe('defaults are the library defaults', () => {
  it('engine: the emulator core and client limits', async () => {
    const flags = await parsedFlags(registerEngine, []);
    expect(flags).toMatchObject({
      setup: ENGINE_DEFAULTS.setup,
      speed: ENGINE_DEFAULTS.speed,
      blockSize: ENGINE_DEFAULTS.blockSize,
      tokenBudget: ENGINE_DEFAULTS.tokenBudget,
      maxRunning: ENGINE_DEFAULTS.maxRunning,
      schedule: ENGINE_DEFAULTS.schedule,
      loadAhead: ENGINE_DEFAULTS.loadAhead,
      port: 8000,
      requestTimeout: SERVER_LIMIT_DEFAULTS.requestTimeoutMs,
      maxConnections: SERVER_LIMIT_DEFAULTS.maxConnections,
    });
  });

  it('gateway: GATEWAY_DEFAULTS, routing and health checks', async () => {
    const flags = await parsedFlags(registerGateway, []);
    expect(flags).toMatchObject({
      blockSize: GATEWAY_DEFAULTS.blockSize,
      shadowCapacity: GATEWAY_DEFAULTS.shadowCapacityTokens,
      connectTimeout: GATEWAY_DEFAULTS.timeouts.connectMs,
      timeout: GATEWAY_DEFAULTS.timeouts.headersMs,
      idleTimeout: GATEWAY_DEFAULTS.timeouts.bodyMs,
      connections: GATEWAY_DEFAULTS.connections,
      retryCooldown: GATEWAY_DEFAULTS.retryCooldownMs,
      maxBodyBytes: GATEWAY_DEFAULTS.bodyLimit,
      instanceIdle: GATEWAY_DEFAULTS.idleSeconds,
      balanceAbs: CACHE_AWARE_DEFAULTS.balanceAbs,
      cacheThreshold: CACHE_AWARE_DEFAULTS.cacheThreshold,
      healthInterval: HEALTH_CHECK_DEFAULTS.intervalMs,
      port: 8080,
    });
  });

  it('gateway: repeated flags collect, in order, each value checked', async () => {
    const flags = await parsedFlags(registerGateway, ['--upstream', 'http://a:1', '--upstream', 'https://b:2', '--upstream-kind', 'kvflow', '--served-model-name', 'm']);
    expect(flags).toMatchObject({ upstream: ['http://a:1', 'https://b:2'], upstreamKind: ['kvflow'], servedModelName: ['m'] });
    await expect(parsedFlags(registerGateway, ['--upstream', 'ftp://a'])).rejects.toThrow(/--upstream.*not an http\(s\) URL/);
    await expect(parsedFlags(registerGateway, ['--upstream-kind', 'vllm'])).rejects.toThrow(/--upstream-kind/);
  });
});

describe("the engine's hardware", () => {
  it('has every simulator hardware flag, meaning the same', async () => {
    expect(Object.keys(ENGINE_HARDWARE_FIELDS).sort()).toEqual(Object.keys(HARDWARE_FIELDS).sort());
    const flags = (await parsedFlags(registerEngine, ['--engine', 'ideal', '--mfu', '0.4', '--h2d-bandwidth', '10G', '--gpu', 'h100'])) as EngineFlags;
    const { hardware } = await engineSetupAndHardware(flags);
    expect(hardware).toMatchObject({ engine: 'ideal', mfu: 0.4, h2d: { bandwidth: 10 * 2 ** 30 }, gpu: { name: 'H100-SXM' } });
  });

  it('follows a setup on an engine profile of its own, as if --engine named it', async () => {
    const onSetup = await engineSetupAndHardware((await parsedFlags(registerEngine, ['--setup', 'name=mine,base=kvflow,engine=ideal'])) as EngineFlags);
    const onFlag = await engineSetupAndHardware((await parsedFlags(registerEngine, ['--engine', 'ideal'])) as EngineFlags);
    const onDefault = await engineSetupAndHardware((await parsedFlags(registerEngine, [])) as EngineFlags);
    expect(onSetup.setup).toMatchObject({ name: 'mine', engine: 'ideal', cpuTier: true, prefetch: true });
    expect(onSetup.hardware).toEqual(onFlag.hardware);
    // The profiles size the KV pool differently, so the setup's profile is not a no-op.
    expect(onDefault.hardware.engine).toBe('sglang-0.4');
    expect(onSetup.hardware.memoryFraction).not.toBe(onDefault.hardware.memoryFraction);
  });
});
