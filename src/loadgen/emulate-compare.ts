/**
 * `kvflow emulate --compare`: the same emulated load through a gateway with each policy (`lru`, then
 * `kvflow`), each time in front of fresh emulated engines on loopback, all in this process (the load
 * itself runs on worker threads). The engines run the same setup both times; what differs is only the
 * gateway: with `lru` it routes by an LRU shadow tree and sends no STE, so the engines' StePolicy has no
 * STE and evicts by LRU; with `kvflow` it pushes STE from the spec's graph, which drives eviction and
 * prefetch inside the engines.
 */
import { engineCoreOptions, type EngineSetup } from '../serve/engine/engine-config.js';
import { startEngineServer, type EngineServer } from '../serve/engine/engine-server.js';
import type { GatewayPolicyName } from '../serve/gateway/gateway-policy.js';
import { GATEWAY_DEFAULTS, startGateway } from '../serve/gateway/gateway-server.js';
import type { HardwareConfig } from '../sim/hardware.js';
import { runEmulation, type EmulateOptions, type EmulateResult } from './emulate.js';

export interface CompareOptions extends Omit<EmulateOptions, 'url' | 'model'> {
  hardware: HardwareConfig;
  /** Engines behind the gateway. */
  engines: number;
  engineSetup: EngineSetup;
  /** Engine model seconds per wall second. */
  speed: number;
  policies: readonly GatewayPolicyName[];
  /** Called before each policy's run (progress). */
  onPolicy?: (policy: GatewayPolicyName) => void;
}

export interface ComparedResult extends EmulateResult {
  policy: GatewayPolicyName;
}

export interface Comparison {
  results: ComparedResult[];
  /**
   * Latencies: the first policy's over each policy's (> 1: faster than the first); throughput: each
   * policy's over the first's.
   */
  ratio: Record<string, { workflowLatency: number; ttft: number; e2e: number; makespan: number; throughput: number }>;
}

export async function runComparison(options: CompareOptions): Promise<Comparison> {
  const results: ComparedResult[] = [];
  for (const policy of options.policies) {
    options.onPolicy?.(policy);
    results.push({ policy, ...(await runBehindGateway(policy, options)) });
  }
  const base = results[0]!;
  const over = (a: number, b: number) => (b > 0 ? a / b : 1);
  const ratio = Object.fromEntries(
    results.map((result) => [
      result.policy,
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

async function runBehindGateway(policy: GatewayPolicyName, options: CompareOptions): Promise<EmulateResult> {
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
      policy,
      blockSize: hardware.blockSize,
      shadowCapacityTokens: pool,
      models: [modelName],
    });
    try {
      gateway.registry.register(options.spec);
      const result = await runEmulation({ ...options, url: gateway.url, model: modelName });
      return { ...result, target: `gateway ${policy} -> ${options.engines} x engine ${options.engineSetup}` };
    } finally {
      await gateway.close();
    }
  } finally {
    for (const engine of engines) await engine.close();
  }
}
