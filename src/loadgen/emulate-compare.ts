/**
 * `kvflow emulate --compare`: the same emulated load through a gateway in each mode (`lru`, then
 * `kvflow`), each time in front of fresh emulated engines on loopback, all in this process (the load
 * itself runs on worker threads). The engines run the same setup both times; what differs is only the
 * gateway: with `lru` it routes by an LRU shadow tree and sends no STE, so the engines' StePolicy has no
 * STE and evicts by LRU; with `kvflow` it pushes STE from the spec's graph, which drives eviction and
 * prefetch inside the engines.
 */
import { engineCoreOptions } from '../serve/engine/engine-config.js';
import { startEngineServer, type EngineServer } from '../serve/engine/engine-server.js';
import type { GatewayModeName } from '../serve/gateway/gateway-mode.js';
import type { PolicyFactory } from '../cache/policy.js';
import type { Setup } from '../sim/setups.js';
import { GATEWAY_DEFAULTS, startGateway } from '../serve/gateway/gateway-server.js';
import type { HardwareConfig } from '../sim/hardware.js';
import { runEmulation, type EmulateOptions, type EmulateResult } from './emulate.js';

export interface CompareOptions extends Omit<EmulateOptions, 'url' | 'model'> {
  hardware: HardwareConfig;
  /** Engines behind the gateway. */
  engines: number;
  engineSetup: Setup;
  /** Engine model seconds per wall second. */
  speed: number;
  /** Gateway modes to compare; the first is the reference. */
  modes: readonly GatewayModeName[];
  /** The gateway shadow trees' policy (default each mode's). */
  shadowPolicy?: PolicyFactory;
  /** Called before each mode's run (progress). */
  onMode?: (mode: GatewayModeName) => void;
}

export interface ComparedResult extends EmulateResult {
  mode: GatewayModeName;
  /** The mode under its old name, kept in the JSON for scripts written before `mode`. */
  policy: GatewayModeName;
}

export interface Comparison {
  results: ComparedResult[];
  /**
   * Latencies: the first mode's over each mode's (> 1: faster than the first); throughput: each
   * mode's over the first's.
   */
  ratio: Record<string, { workflowLatency: number; ttft: number; e2e: number; makespan: number; throughput: number }>;
}

export async function runComparison(options: CompareOptions): Promise<Comparison> {
  const results: ComparedResult[] = [];
  for (const mode of options.modes) {
    options.onMode?.(mode);
    results.push({ mode, policy: mode, ...(await runBehindGateway(mode, options)) });
  }
  const base = results[0]!;
  const over = (a: number, b: number) => (b > 0 ? a / b : 1);
  const ratio = Object.fromEntries(
    results.map((result) => [
      result.mode,
      {
        workflowLatency: over(base.workflowLatency.mean, result.workflowLatency.mean),
        ttft: over(base.ttft.mean, result.ttft.mean),
        e2e: over(base.e2e.mean, result.e2e.mean),
        makespan: over(base.makespan, result.makespan),
        throughput: over(result.throughput.requestsPerSecond, base.throughput.requestsPerSecond),
      },
    ]),
  );
  return { results, ratio };
}

async function runBehindGateway(mode: GatewayModeName, options: CompareOptions): Promise<EmulateResult> {
  const { hardware } = options;
  const modelName = hardware.model.name;
  const engines: EngineServer[] = [];
  try {
    for (let i = 0; i < options.engines; i++) {
      engines.push(await startEngineServer({ ...engineCoreOptions(hardware, { setup: options.engineSetup, speed: options.speed }), modelName }));
    }
    const pool = engines[0]!.core.cost.gpuPoolPages * hardware.blockSize;
    const gateway = await startGateway({
      ...GATEWAY_DEFAULTS,
      upstreams: engines.map((engine) => ({ url: engine.url, kind: 'kvflow' as const })),
      mode,
      ...(options.shadowPolicy && { shadowPolicy: options.shadowPolicy }),
      blockSize: hardware.blockSize,
      shadowCapacityTokens: pool,
      models: [modelName],
    });
    try {
      gateway.registry.register(options.spec);
      const result = await runEmulation({ ...options, url: gateway.url, model: modelName });
      return { ...result, target: `gateway ${mode} -> ${options.engines} x engine ${options.engineSetup.name}` };
    } finally {
      await gateway.close();
    }
  } finally {
    for (const engine of engines) await engine.close();
  }
}
