import type { SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';

// cli-progress loads only when a bar is drawn (most runs end before a second, or write to a pipe).
const require = createRequire(import.meta.url);

/** A progress bar on stderr, or nothing: quiet for `--json`, for pipes and CI logs. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

/** Whether `createProgress` can show a bar at all: not when `quiet`, nor when stderr is not a terminal.
 * Callers skip work that only sizes a bar (e.g. counting a file's lines) when it cannot show. */
export function progressShown(quiet?: boolean): boolean {
  return !quiet && process.stderr.isTTY === true;
}

/** Runs shorter than this never show a bar: it would only flicker. */
const SHOW_AFTER_MS = 1000;

/**
 * A bar for `total` steps that appears once the run has taken about a second, on a terminal only.
 * Callers report progress with `update` as often as they like and always call `stop`.
 */
export function createProgress(label: string, total: number, options: { quiet?: boolean; detail?: () => string } = {}): Progress {
  if (!progressShown(options.quiet) || total <= 0) return SILENT;
  const started = performance.now();
  let bar: SingleBar | undefined;
  return {
    update(done) {
      if (!bar) {
        if (performance.now() - started < SHOW_AFTER_MS) return;
        const cliProgress = require('cli-progress') as typeof import('cli-progress');
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}${options.detail ? ' | {detail}' : ''}`,
            hideCursor: true,
            clearOnComplete: true,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, options.detail ? { detail: options.detail() } : undefined);
      }
      // Totals estimated up front (line counts) may be exceeded; grow rather than overflow.
      if (done > total) bar.setTotal((total = done));
      bar.update(done, options.detail ? { detail: options.detail() } : undefined);
    },
    stop() {
      bar?.stop();
    },
  };
}
