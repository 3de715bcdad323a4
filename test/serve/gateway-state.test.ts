/**
 * The gateway's state as ops (what `--redis` replicates): keeping checkpoint history changes nothing a
 * request sees, and a state rebuilt from a checkpoint holds the same STE, instances and agent tables as
 * the one it was taken from, and stays equal to it through the ops that follow (a dead replica's
 * requests ended by a `gone` op included).
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LruPolicy } from '../../src/cache/policy.js';
import { GatewayState, type AppliedOp, type StateOp } from '../../src/serve/gateway/gateway-state.js';
import { Upstream } from '../../src/serve/gateway/upstream.js';
import { loadWorkflowSpec } from '../../src/workload/spec.js';
import { runs } from '../helpers/runs.js';
import { REPO } from '../helpers/sim.js';

const spec = await loadWorkflowSpec(join(REPO, 'workloads/sequential-10.json'));

function newState(history: boolean): GatewayState {
  const upstreams = [0, 1].map(
    (index) =>
      new Upstream({
        index,
        url: `http://127.0.0.1:${9 + index}`,
        kind: 'kvflow',
        timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
        connections: 1,
        shadow: { slots: 64, policy: new LruPolicy(), blockSize: 16 },
      }),
  );
  return new GatewayState({
    upstreams,
    blockSize: 16,
    idleSeconds: 50,
    learned: true,
    onSteChanges: () => {},
    ...(history && { history: { admits: 8 } }),
  });
}

/** A request step: which instance (w3 is learned: no spec), which agent, and when it ends relative to others. */
const action = fc.oneof(
  fc.record({ kind: fc.constant('begin' as const), instance: fc.constantFrom('w1', 'w2', 'w3'), agent: fc.integer({ min: 0, max: 9 }), upstream: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('finish' as const), instance: fc.constantFrom('w1', 'w2') }),
  fc.record({ kind: fc.constant('expire' as const) }),
  // Replica q stopped heartbeating: its requests end.
  fc.record({ kind: fc.constant('gone' as const) }),
);

/** Turns actions into ops, ending only requests that are open. */
function toOps(actions: { kind: string; [k: string]: unknown }[]): AppliedOp[] {
  const open: string[] = [];
  const origins = new Map<string, string>();
  const ops: AppliedOp[] = [{ origin: 'r', now: 0, op: { kind: 'register', spec, replace: false } }];
  let now = 1;
  actions.forEach((a, i) => {
    now += 3;
    if (a.kind === 'begin') {
      const id = `r:${i}`;
      const agent = `a${a.agent as number}`;
      const hints = a.instance === 'w3' ? { workflow: 'w3', agent } : { workflow: a.instance as string, agent, spec: spec.name };
      const blocks = [Number(a.agent) + 1, 100 + i];
      const origin = i % 3 === 0 ? 'q' : 'r';
      ops.push({ origin, now, op: { kind: 'begin', id, hints, blocks, systemTokens: 16, fork: true, context: false } });
      ops.push({ origin, now, op: { kind: 'admit', id, upstream: a.upstream as number } });
      open.push(id);
      origins.set(id, origin);
    } else if (a.kind === 'end' && open.length > 0) {
      const [id] = open.splice((a.pick as number) % open.length, 1);
      ops.push({ origin: 'r', now, op: { kind: 'release', id: id!, upstream: 0 } });
      ops.push({ origin: 'r', now, op: { kind: 'end', id: id! } });
    } else if (a.kind === 'finish') {
      ops.push({ origin: 'r', now, op: { kind: 'finish', instance: a.instance as string } });
    } else if (a.kind === 'gone') {
      ops.push({ origin: 'r', now, op: { kind: 'gone', replica: 'q' } });
      for (let k = open.length - 1; k >= 0; k--) if (origins.get(open[k]!) === 'q') open.splice(k, 1);
    } else if (a.kind === 'expire') {
      ops.push({ origin: 'r', now, op: { kind: 'expire' } as StateOp });
    }
  });
  return ops;
}

function view(state: GatewayState) {
  return {
    ste: [...state.registry.snapshot()].sort(),
    instances: state.registry.instanceCount,
    open: state.openRequests,
    agents: state.agentIds.entries(),
  };
}

describe('gateway state as ops', () => {
  it('with or without checkpoint history, the same ops give the same state; a checkpoint rebuilds it', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 60 }), fc.nat(), (actions, cut) => {
        const ops = toOps(actions);
        const split = cut % (ops.length + 1);
        const plain = newState(false);
        const kept = newState(true);
        for (const applied of ops.slice(0, split)) {
          plain.apply(applied);
          kept.apply(applied);
        }
        expect(view(kept)).toEqual(view(plain));
        const rebuilt = newState(true);
        for (const applied of JSON.parse(JSON.stringify(kept.checkpoint(ops[split - 1]?.now ?? 0))) as AppliedOp[]) rebuilt.apply(applied);
        expect(view(rebuilt)).toEqual(view(kept));
        for (const applied of ops.slice(split)) {
          plain.apply(applied);
          kept.apply(applied);
          rebuilt.apply(applied);
        }
        expect(view(kept)).toEqual(view(plain));
        expect(view(rebuilt)).toEqual(view(kept));
      }),
      { seed: 17, numRuns: runs(200) },
    );
  });

  it('a checkpoint leaves out finished instances and keeps at most the configured admissions', () => {
    const state = newState(true);
    const ops = toOps([
      { kind: 'begin', instance: 'w1', agent: 0, upstream: 0 },
      { kind: 'end', pick: 0 },
      { kind: 'begin', instance: 'w2', agent: 0, upstream: 1 },
      ...Array.from({ length: 12 }, (_, i) => ({ kind: 'begin', instance: 'w2', agent: i % 10, upstream: i % 2 })),
      { kind: 'finish', instance: 'w1' },
    ]);
    for (const applied of ops) state.apply(applied);
    const kinds = state.checkpoint(1_000).map((applied) => applied.op.kind);
    const begins = state.checkpoint(1_000).filter((applied) => applied.op.kind === 'begin').map((applied) => (applied.op as { hints: { workflow?: string } }).hints.workflow);
    expect(begins.every((instance) => instance === 'w2')).toBe(true);
    // 8 past admissions plus one per open lease (13 requests of w2 hold theirs).
    expect(kinds.filter((kind) => kind === 'seed')).toHaveLength(8 + 13);
  });
});
