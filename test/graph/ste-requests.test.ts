/** The one STE begin/end/finish glue of replay and the simulator. */
import { describe, expect, it } from 'vitest';
import { SteRequestTracker, steTagKey } from '../../src/graph/ste-requests.js';
import type { SteSource } from '../../src/types.js';

/** A source that writes down every call and moves one STE value per call. */
function recordingSource(withTagKey: boolean): SteSource & { calls: string[] } {
  const values = new Map<string, number>();
  const source = {
    calls: [] as string[],
    version: 0,
    begin(instance: string, agent: string) {
      source.calls.push(`begin ${instance} ${agent}`);
      values.set(agent, source.version++);
    },
    end(instance: string, agent: string) {
      source.calls.push(`end ${instance} ${agent}`);
    },
    finish(instance: string) {
      source.calls.push(`finish ${instance}`);
      values.clear();
      source.version++;
    },
    snapshot: () => values,
    ...(withTagKey && { tagKey: (instance: string, agent: string) => `${instance}/${agent}` }),
  };
  return source;
}

describe('SteRequestTracker', () => {
  it('begins and ends agents, finishes a workflow after its last request, and publishes what changed', () => {
    const source = recordingSource(false);
    const published: string[] = [];
    const requests = [{ workflow: 'w', agent: 'a' }, { agent: 'x' }, {}, { workflow: 'w', agent: 'b' }, { agent: 'y' }];
    const tracker = new SteRequestTracker(source, requests);
    const publish = (changes: ReadonlyMap<string, number | undefined> | undefined) => changes && published.push(JSON.stringify([...changes]));
    requests.forEach((request, index) => {
      publish(tracker.begin(request));
      tracker.end(request, tracker.isLastOfWorkflow(request, index));
    });
    publish(tracker.changes());
    expect(tracker.changes()).toBeUndefined();
    expect(source.calls).toEqual(['begin w a', 'end w a', 'begin * x', 'end * x', 'begin w b', 'end w b', 'finish w', 'begin * y', 'end * y', 'finish *']);
    // Each begin hands back its own change; the request without an agent leaves the source alone; the last
    // look sees the finish clear everything.
    expect(published).toEqual(['[["a",0]]', '[["x",1]]', '[["b",2]]', '[["y",4],["a",null],["x",null],["b",null]]', '[["y",null]]']);
    expect(tracker.isLastOfWorkflow({ workflow: 'w' }, 3)).toBe(true);
    expect(new SteRequestTracker(source, []).isLastOfWorkflow({ workflow: 'w' }, 0)).toBe(false);
  });

  it("tags pages with the source's key, else the agent's name", () => {
    expect(steTagKey(recordingSource(true), { workflow: 'w', agent: 'a' })).toBe('w/a');
    expect(steTagKey(recordingSource(true), { agent: 'a' })).toBe('*/a');
    expect(steTagKey(recordingSource(false), { workflow: 'w', agent: 'a' })).toBe('a');
    expect(steTagKey(undefined, { agent: 'a' })).toBe('a');
    expect(steTagKey(recordingSource(true), { workflow: 'w' })).toBeUndefined();
  });
});
