/**
 * Re-timing the sessions of a trace (`--sessions-start`): each session keeps the gaps and the order of
 * its own calls, only its start moves. Agent traces are logged one session after another, but a serving
 * engine sees agent sessions at the same time; `together` starts every session at 0, `poisson:RATE`
 * starts them as a seeded Poisson process of RATE sessions per second, `as-logged` keeps the logged
 * starts (and, unlike the trace read as is, puts every call at its logged time).
 *
 * A session is a `workflow` (requests that name none form one global session). A call's logged time is
 * `loggedT` (importers whose timestamps go backwards within a session, LMCache), else `t`, else, for a
 * closed-loop call without a time, the previous call's time plus its `think`. Within a session, calls run
 * in logged-time order (file order among equal times) and one at a time: after re-timing, every call has
 * `t` = session start + (its logged time - the session's earliest logged time) and is `after` the
 * session's previous call, so a simulation never sends it before the previous call completes nor before
 * its `t`. The result is sorted by `t` (stable), so every `after` points backwards.
 */
import { GLOBAL_SESSION, type TraceRequest } from '../types.js';
import { Rng } from './rng.js';

export type SessionsStart = { kind: 'as-logged' } | { kind: 'together' } | { kind: 'poisson'; rate: number };

/** The accepted spellings, for help texts. */
export const SESSIONS_START_HELP = 'as-logged | together | poisson:RATE (sessions per second, seeded by --seed)';

/** Parses `as-logged`, `together` or `poisson:RATE` (RATE > 0); throws a RangeError naming what it accepts. */
export function parseSessionsStart(text: string): SessionsStart {
  const value = text.trim();
  if (value === 'as-logged' || value === 'together') return { kind: value };
  const match = /^poisson:(\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/i.exec(value);
  const rate = match ? Number(match[1]) : NaN;
  if (match && Number.isFinite(rate) && rate > 0) return { kind: 'poisson', rate };
  throw new RangeError(`"${text}" is not a sessions start (accepted: ${SESSIONS_START_HELP}; RATE a number > 0)`);
}

/** The name a report shows: `as-logged`, `together`, `poisson:0.5`. */
export function sessionsStartName(start: SessionsStart): string {
  return start.kind === 'poisson' ? `poisson:${start.rate}` : start.kind;
}

/** Sessions in order of their first call in the file, each with its calls and their logged times. */
function sessionsOf(requests: readonly TraceRequest[]): { calls: TraceRequest[]; logged: number[] }[] {
  const sessions = new Map<string, { calls: TraceRequest[]; logged: number[] }>();
  for (const request of requests) {
    const key = request.workflow ?? GLOBAL_SESSION;
    let session = sessions.get(key);
    if (!session) sessions.set(key, (session = { calls: [], logged: [] }));
    const previous = session.logged.length > 0 ? session.logged[session.logged.length - 1]! : 0;
    session.logged.push(request.loggedT ?? request.t ?? previous + (request.think ?? 0));
    session.calls.push(request);
  }
  return [...sessions.values()];
}

/**
 * Re-times `requests` (see the module comment). Deterministic: the same requests, start and seed give
 * the same result. `seed` matters only for `poisson`.
 */
export function retimeSessions(requests: readonly TraceRequest[], start: SessionsStart, seed = 1): TraceRequest[] {
  const rng = new Rng(seed, 0);
  let poissonClock = 0;
  const retimed: { request: TraceRequest; index: number }[] = [];
  const sessions = sessionsOf(requests);
  // Logged times before the trace's first line (a session's calls can go backwards) must not give t < 0.
  // Loops, not Math.min(...array): a session of 100k+ calls would overflow the argument stack.
  const earliest = (times: readonly number[]) => times.reduce((low, t) => Math.min(low, t), Infinity);
  const origin = sessions.reduce((low, { logged }) => Math.min(low, earliest(logged)), 0);
  for (const { calls, logged } of sessions) {
    const first = earliest(logged);
    let begin: number;
    if (start.kind === 'as-logged') begin = first - origin;
    else if (start.kind === 'together') begin = 0;
    else begin = poissonClock += rng.exponential(start.rate);
    const order = calls.map((_, i) => i).sort((a, b) => logged[a]! - logged[b]! || a - b);
    let previous: string | undefined;
    for (const i of order) {
      const { after: _after, loggedT: _logged, ...rest } = calls[i]!;
      const request: TraceRequest = { ...rest, t: begin + (logged[i]! - first) };
      if (previous !== undefined) request.after = [previous];
      previous = request.id;
      retimed.push({ request, index: retimed.length });
    }
  }
  retimed.sort((a, b) => a.request.t! - b.request.t! || a.index - b.index);
  return retimed.map(({ request }) => request);
}
