/**
 * AgentAnnotator (src/graph/learner.ts) on a few hand-made requests: which agent a request is given, and
 * how long its fixed prompt is (the signature, or the whole prompt for a conversation that grows).
 */
import { describe, expect, it } from 'vitest';
import { AgentAnnotator } from '../../src/graph/learner.js';
import type { TraceRequest } from '../../src/types.js';

let index = 0;
function call(blocks: number[], extra: Partial<TraceRequest> = {}): TraceRequest {
  return { id: `r${index++}`, blocks, blockSize: 16, inputLength: blocks.length * 16, outputLength: 1, ...extra };
}

describe('AgentAnnotator', () => {
  it('keeps a declared agent, and calls a conversation growing once at least half its repeat calls re-sent the previous prompt', () => {
    const a = new AgentAnnotator();
    const chat = (blocks: number[]) => a.annotate(call(blocks, { workflow: 'w1', agent: 'chat', fixedBlocks: 1 }));
    expect(chat([1, 2])).toMatchObject({ agent: 'chat', fixedBlocks: 1 }); // no repeat call yet
    expect(chat([1, 2, 3])).toMatchObject({ fixedBlocks: 3 }); // re-sent [1, 2]: 1 of 1 pairs extends
    expect(chat([1, 2, 4, 5])).toMatchObject({ fixedBlocks: 4 }); // [1, 2] kept, old last block replaced: 2 of 2
    expect(chat([1, 9, 9])).toMatchObject({ fixedBlocks: 3 }); // not re-sent: 2 of 3, still growing
    expect(chat([1, 8, 8])).toMatchObject({ fixedBlocks: 3 }); // 2 of 4: exactly half
    expect(chat([1, 7, 7, 7])).toMatchObject({ fixedBlocks: 1 }); // 2 of 5: the signature only
    expect(a.agents()).toEqual([{ name: 'chat', signaturePages: 1, requests: 6, growing: false }]);
    expect(chat([1, 7, 7, 7]).learnedAgent).toBeUndefined();
  });

  it('counts a re-sent prompt as growth only when the previous one went past the fixed prompt', () => {
    const a = new AgentAnnotator();
    const tool = (blocks: number[]) => a.annotate(call(blocks, { workflow: 'w1', agent: 'tool', fixedBlocks: 2 }));
    tool([1, 2]); // exactly the fixed prompt
    expect(tool([1, 2, 3])).toMatchObject({ fixedBlocks: 2 }); // re-sends it, but that is no growth
    expect(a.agents()[0]!.growing).toBe(false);
    // A fixed prompt never exceeds the request (a short call of an agent with a longer declared prompt).
    expect(a.annotate(call([1], { workflow: 'w2', agent: 'tool', fixedBlocks: 2 }))).toMatchObject({ fixedBlocks: 1 });
  });

  it('follows each session on its own: calls of other sessions in between do not break a pair', () => {
    const a = new AgentAnnotator();
    const chat = (workflow: string, blocks: number[]) => a.annotate(call(blocks, { workflow, agent: 'chat', fixedBlocks: 1 }));
    chat('w1', [1, 2]);
    chat('w2', [5, 6]);
    expect(chat('w1', [1, 2, 3])).toMatchObject({ fixedBlocks: 3 });
    expect(a.sessions).toBe(2);
    a.annotate(call([40, 41])); // no workflow: the global session
    expect(a.sessions).toBe(3);
  });

  it('names an undeclared agent after the deepest prefix earlier prompts branched from, as a learned agent', () => {
    const a = new AgentAnnotator();
    expect(a.annotate(call([1, 2, 3, 10, 11]))).not.toHaveProperty('agent');
    a.annotate(call([1, 2, 3, 20, 21]));
    // [1, 2, 3] (node 3) went on with 10 and 20, both full blocks there.
    expect(a.annotate(call([1, 2, 3, 30, 31]))).toMatchObject({ agent: 'sig3', fixedBlocks: 3, learnedAgent: true });
    expect(a.annotate(call([1, 2]))).not.toHaveProperty('agent'); // stops above the signature
    expect(a.agents()).toEqual([{ name: 'sig3', signaturePages: 3, requests: 1, growing: false }]);
    const shallow = new AgentAnnotator({ minSignaturePages: 4 });
    shallow.annotate(call([1, 2, 3, 10, 11]));
    shallow.annotate(call([1, 2, 3, 20, 21]));
    expect(shallow.annotate(call([1, 2, 3, 30, 31]))).not.toHaveProperty('agent');
  });
});
