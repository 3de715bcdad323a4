/** One error style for every usage error, with "did you mean" for unknown flags and values (issue 15). */
import { describe, expect, it } from 'vitest';
import { kvflow } from './helpers/cli.js';

describe('kvflow usage errors', () => {
  it('answers an unknown flag in kvflow style with the nearest flag', async () => {
    const run = await kvflow(['simulate', '--stups', 'sglang']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^kvflow: unknown option '--stups'\n\(Did you mean --setups\?\)/);
    expect(run.stderr).not.toMatch(/^error:/m);
  });

  it('answers an unknown value with the nearest accepted one', async () => {
    const run = await kvflow(['replay', '--trace', 'x.jsonl', '--policy', 'lru,lfx']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^kvflow: option '--policy <list>' argument 'lru,lfx' is invalid\. unknown "lfx" \(did you mean lfu\? accepted: /);
  });
});
