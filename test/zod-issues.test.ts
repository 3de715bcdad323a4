import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { inputErrorFrom, issuePath } from '../src/zod-issues.js';

const schema = z.strictObject({ gpu: z.string(), h2d: z.strictObject({ bandwidth: z.number().gt(0) }).optional() });

function failure(value: unknown) {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected a failure');
  return result.error;
}

describe('one zod-error-to-InputError mapping', () => {
  it('names the file and the field, an unknown field at its own path', () => {
    expect(inputErrorFrom(failure({ gpu: 'a', h2d: { bandwidth: -1 } }), { file: 'hw.json' }).message).toMatch(/^hw\.json: h2d\.bandwidth: /);
    const unknown = failure({ gpu: 'a', h2d: { bandwidth: 1, bandwidht: 1 } });
    expect(issuePath(unknown.issues[0]!)).toBe('h2d.bandwidht');
    expect(inputErrorFrom(unknown, { file: 'hw.json' }, { problem: () => 'unknown field' }).message).toBe('hw.json: h2d.bandwidht: unknown field');
  });

  it('names the line of a line file, the flag of a flag value, and the root when the whole document is wrong', () => {
    expect(inputErrorFrom(failure({ gpu: 1 }), { file: 't.jsonl', line: 3 }).message).toMatch(/^t\.jsonl:3: gpu: /);
    expect(inputErrorFrom(failure(5), { file: 't.jsonl', line: 3 }, { root: '(root)' }).message).toMatch(/^t\.jsonl:3: \(root\): /);
    expect(inputErrorFrom(failure(5), { file: 'hw.json' }).message).toMatch(/^hw\.json: \(root\): /);
    const flag = inputErrorFrom(failure({ gpu: 'a', extra: 1 }), { flag: '--setup' }, { root: 'setup' });
    expect(flag).toBeInstanceOf(InputError);
    expect(flag.message).toMatch(/^--setup: extra: /);
    expect(inputErrorFrom(failure(5), { flag: '--kv-events-config' }, { root: 'config' }).message).toMatch(/^--kv-events-config: config: /);
  });
});
