/**
 * Vitest global setup: collects what tests found missing (test/helpers/requirements.ts writes one line per
 * miss) and, at the end of the run, prints one summary line, so a local run that skipped tests says why.
 * Under CI nothing is skipped: a missing requirement fails its test file instead.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SKIP_LOG_VARIABLE } from '../helpers/requirements.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-skips-'));
  const log = join(dir, 'missing.txt');
  process.env[SKIP_LOG_VARIABLE] = log;
  return () => {
    let lines: string[] = [];
    try {
      lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    } catch {
      // nothing was missing
    }
    rmSync(dir, { recursive: true, force: true });
    const missing = [...new Set(lines)];
    if (missing.length > 0) {
      console.log(`\nkvflow: tests skipped for lack of ${missing.join('; ')} (with CI set these fail instead)`);
    }
  };
}
