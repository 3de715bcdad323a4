/**
 * What a replay run does with its input beyond reading it, the same for `kvflow replay` and a replay
 * sweep point: re-timing sessions (`sessionsStart`, `seed`) and what its report says about the trace.
 */
import type { ReplayReport } from '../replay/replay-suite.js';
import type { TraceRequest } from '../types.js';
import { retimeSessions, sessionsStartName } from '../workload/sessions-start.js';
import { WORKLOAD_FIELDS } from './workload-fields.js';
import type { ReplaySettings } from './replay-fields.js';

/** The requests in the order and at the times the run replays them: re-timed when `sessionsStart` is set. */
export function replayedRequests(requests: TraceRequest[], settings: Pick<ReplaySettings, 'sessionsStart' | 'seed'>): TraceRequest[] {
  return settings.sessionsStart ? retimeSessions(requests, settings.sessionsStart, settings.seed ?? WORKLOAD_FIELDS.seed.default) : requests;
}

/** Adds to the report's trace what the run changed or dropped: skipped lines, the sessions-start mode. */
export function describeReplayInput(report: ReplayReport, settings: Pick<ReplaySettings, 'skipInvalid' | 'sessionsStart'>, skipped: number): void {
  if (settings.skipInvalid) Object.assign(report.trace, { skippedLines: skipped });
  if (settings.sessionsStart) report.trace.sessionsStart = sessionsStartName(settings.sessionsStart);
}
