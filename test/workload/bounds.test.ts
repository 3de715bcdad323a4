/**
 * Input whose work would grow faster than its size is refused before any work, naming the field: specs
 * that would expand to billions of tokens or requests, calibration files of more rows than the fit can
 * afford, replica counts that would exhaust memory.
 */
import { describe, expect, it } from 'vitest';
import { parseCalibrationCsv, MAX_CALIBRATION_ROWS } from '../../src/sim/calibration-csv.js';
import { parseWorkflowSpec, SPEC_LIMITS } from '../../src/workload/spec.js';
import { expectUsageError, kvflow } from '../helpers/cli.js';

const base = { name: 'w', agents: { a: { fixed: 16, dynamic: 16, output: 1 } }, start: 'a' };

function chain(n: number) {
  const agents: Record<string, { fixed: number; dynamic: number; output: number }> = {};
  const edges: { from: string; to: string }[] = [];
  for (let i = 0; i < n; i++) {
    agents[`a${i}`] = { fixed: 16, dynamic: 16, output: 1 };
    if (i > 0) edges.push({ from: `a${i - 1}`, to: `a${i}` });
  }
  return { name: 'chain', agents, edges, start: 'a0' };
}

describe('workflow spec bounds', () => {
  it('refuses token counts past the limit, naming the field', () => {
    expect(() => parseWorkflowSpec({ ...base, agents: { a: { fixed: 2 ** 53 - 1, dynamic: 0, output: 0 } } }, 's.json')).toThrow(
      /s\.json: agents\.a\.fixed: must be <= 2,097,152/,
    );
    expect(() => parseWorkflowSpec({ ...base, agents: { a: { fixed: 1e9, dynamic: 0, output: 0 } } }, 's.json')).toThrow(/agents\.a\.fixed/);
  });

  it('refuses instance counts and expansions past the limit before generating anything', () => {
    expect(() => parseWorkflowSpec({ ...base, instances: 1e9 }, 's.json')).toThrow(/s\.json: instances: must be <= 1,000,000/);
    expect(() => parseWorkflowSpec({ ...base, instances: 1_000_000, rounds: 1_000 }, 's.json')).toThrow(
      new RegExp(`instances: .*more than the ${SPEC_LIMITS.requests.toLocaleString('en-US')}`),
    );
  });

  it('validates a 20k-agent chain (linear checks) and still finds its endless cycle when closed', () => {
    const spec = parseWorkflowSpec(chain(20_000), 'chain.json');
    expect(Object.keys(spec.agents)).toHaveLength(20_000);
    const cyclic = chain(20_000);
    cyclic.edges.push({ from: 'a19999', to: 'a0' });
    expect(() => parseWorkflowSpec(cyclic, 'chain.json')).toThrow(/can never end/);
  });
});

describe('other bounds', () => {
  it('calibration reads at most MAX_CALIBRATION_ROWS rows and says at which line it stopped', () => {
    const rows = Array.from({ length: MAX_CALIBRATION_ROWS + 5 }, (_, i) => `prefill,${i + 1},0,0.01`);
    const text = `kind,batch_tokens,context_tokens,seconds\n${rows.join('\n')}`;
    expect(() => parseCalibrationCsv(text, 'rows.csv')).toThrow(new RegExp(`rows\\.csv:${MAX_CALIBRATION_ROWS + 2}: rows: more than`));
  });

  it('--replicas past the bound is a usage error', async () => {
    expectUsageError(await kvflow(['simulate', '--workload', 'workloads/sequential-10.json', '--replicas', '100000']), '--replicas', '100000');
  });
});
