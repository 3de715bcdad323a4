/**
 * The gateway's work per request does not grow with its state (counted, not timed): many registered
 * workflows, many live instances, many learned sessions.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OnlineGraphLearner } from '../../src/graph/learner.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { WorkflowRegistry } from '../../src/serve/gateway/workflow-registry.js';
import { parseWorkflowSpec, type WorkflowSpec } from '../../src/workload/spec.js';

const AGENTS = ['plan', 'code', 'test', 'review'];

const CHAIN = parseChain('chain');

/** The same 4-agent chain under another name (parsed once: registering is what is measured). */
function chainSpec(name: string): WorkflowSpec {
  return { ...CHAIN, name };
}

function parseChain(name: string): WorkflowSpec {
  return parseWorkflowSpec(
    {
      name,
      agents: Object.fromEntries(AGENTS.map((agent) => [agent, { fixed: 64, dynamic: 16, output: 1 }])),
      edges: AGENTS.slice(1).map((agent, i) => ({ from: AGENTS[i], to: agent })),
      start: 'plan',
      rounds: 100,
      shareAgents: false,
    },
    name,
  );
}

afterEach(() => vi.restoreAllMocks());

describe('workflow registry work per request', () => {
  it('asks only the workflow a request moved for its changes, with 4,000 registered and 2,000 live instances', () => {
    const registry = new WorkflowRegistry({ idleSeconds: 60, limits: { maxWorkflows: 20_000 } });
    for (let i = 0; i < 4_000; i++) registry.register(chainSpec(`wf${i}`));
    for (let i = 0; i < 2_000; i++) {
      const ticket = registry.begin({ workflow: `i${i}`, agent: 'plan', spec: `wf${i}` }, 0)!;
      registry.end(ticket, 0);
    }
    registry.takeChanges();
    const asked = vi.spyOn(WorkflowSte.prototype, 'takeChanges');
    const read = vi.spyOn(WorkflowSte.prototype, 'snapshot');
    for (let i = 0; i < 100; i++) {
      const ticket = registry.begin({ workflow: `i${i}`, agent: 'code', spec: `wf${i}` }, 1)!;
      registry.end(ticket, 1);
      const changes = registry.takeChanges()!;
      expect(changes.get(`i${i}/code`)).toBe(4); // ended: code comes round again after review and plan
      expect(changes.get(`i${i}/test`)).toBe(1);
    }
    // Before, every request asked all 4,000 workflows (takeChanges walked the registry).
    expect(asked.mock.calls.length).toBeLessThanOrEqual(100);
    expect(read.mock.calls.length).toBeLessThanOrEqual(100 * 2 * AGENTS.length);
  });

  it('expires idle instances in last-heard order, keeping those heard from lately or with a step in flight', () => {
    const registry = new WorkflowRegistry({ idleSeconds: 10 });
    registry.register(chainSpec('wf'));
    const tickets = [0, 1, 2].map((i) => registry.begin({ workflow: `i${i}`, agent: 'plan', spec: 'wf', step: 's' }, 0)!);
    registry.end(tickets[0]!, 0);
    registry.end(tickets[1]!, 0);
    // i0 is heard from again at 15; i2 still has its step in flight.
    registry.end(registry.begin({ workflow: 'i0', agent: 'code', spec: 'wf' }, 15)!, 15);
    expect(registry.expireIdle(20)).toBe(1); // i1
    expect(registry.instanceCount).toBe(2);
    expect(registry.expireIdle(30)).toBe(1); // i0
    registry.end(tickets[2]!, 30);
    expect(registry.expireIdle(39)).toBe(0);
    expect(registry.expireIdle(41)).toBe(1);
    expect(registry.instanceCount).toBe(0);
  });

  it('with a learned graph, reads only the requesting session when every instance id is new', () => {
    const learner = new OnlineGraphLearner();
    const registry = new WorkflowRegistry({ idleSeconds: 60, learner });
    let mostWork = 0;
    for (let i = 0; i < 10_000; i++) {
      const ticket = registry.begin({ workflow: `s${i}`, agent: AGENTS[i % 4]! }, 0)!;
      mostWork = Math.max(mostWork, learner.lastWork);
      registry.end(ticket, 0);
      registry.takeChanges();
    }
    expect(mostWork).toBeLessThanOrEqual(8);
    expect(registry.learnedSessions).toBeLessThanOrEqual(4096 + 8);
  });
});
