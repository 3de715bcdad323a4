import cliProgress from 'cli-progress';

/** A progress bar on stderr, or nothing: quiet for `--json`, for pipes and CI logs. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

/** Runs shorter than this never show a bar: it would only flicker. */
const SHOW_AFTER_MS = 1000;

/**
 * A bar for `total` steps that appears once the run has taken about a second, on a terminal only.
 * Callers report progress with `update` as often as they like and always call `stop`.
 */
export function createProgress(label: string, total: number, options: { quiet?: boolean; detail?: () => string } = {}): Progress {
  if (options.quiet || !process.stderr.isTTY || total <= 0) return SILENT;
  const started = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(done) {
      if (!bar) {
        if (performance.now() - started < SHOW_AFTER_MS) return;
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
