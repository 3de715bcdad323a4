/**
 * What some tests need from outside the repository: the real traces in ../shared/traces and the built
 * native addon. Every test that needs one asks here, so a missing one is never a silent early return:
 * with CI set it fails the test file with a message naming what is missing; without CI the tests are
 * skipped and test/setup/skip-summary.ts prints one line listing what was missing.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadNative, nativeLoadError, type NativeAddon } from '../../src/native.js';

/** ../shared/traces beside the repository, or KVFLOW_TRACES_DIR (a copy elsewhere; '/nonexistent' to see what skips). */
const SHARED_TRACES = process.env.KVFLOW_TRACES_DIR
  ? `${process.env.KVFLOW_TRACES_DIR.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../shared/traces/', import.meta.url));

/** Where test/setup/skip-summary.ts collects what tests found missing. */
export const SKIP_LOG_VARIABLE = 'KVFLOW_SKIP_LOG';

/**
 * The path of trace `name` in ../shared/traces, or '' when it is not there (falsy: tests skip with
 * `describe.skipIf(!TRACE)`).
 */
export function requireTrace(name: string): string {
  const path = SHARED_TRACES + name;
  if (existsSync(path)) return path;
  return missing(`trace ${path}`, 'the real traces live in ../shared/traces beside the repository (see its SOURCES.md)') ?? '';
}

/** The native addon, or undefined (tests skip) when it is not built. */
export function requireNative(): NativeAddon | undefined {
  const native = loadNative();
  if (native) return native;
  return missing(`native addon (${nativeLoadError() ?? 'not loaded'})`, 'run `npm run build:native` to see why it does not build');
}

function missing(what: string, hint: string): undefined {
  if (process.env.CI) throw new Error(`CI requires the ${what}: ${hint}`);
  const log = process.env[SKIP_LOG_VARIABLE];
  if (log) appendFileSync(log, `${what}\n`);
  return undefined;
}
