/**
 * "Did you mean" for names a user typed: the accepted name nearest by edit distance, compared without
 * case, when it is close enough to be a typo (at most two edits, and fewer edits than the name is long).
 */
import { createRequire } from 'node:module';

// Loaded on the first unknown name: a command line without one (every valid run) never needs it, and as a
// CommonJS package imported from ESM it would cost a `kvflow replay` its export scan on every start.
const require = createRequire(import.meta.url);
let levenshtein: typeof import('fastest-levenshtein') | undefined;

/** The nearest accepted name, or undefined when none is close. */
export function nearestName(name: string, accepted: readonly string[]): string | undefined {
  const { distance } = (levenshtein ??= require('fastest-levenshtein') as typeof import('fastest-levenshtein'));
  const typed = name.toLowerCase();
  let best: { candidate: string; edits: number } | undefined;
  for (const candidate of accepted) {
    const edits = distance(typed, candidate.toLowerCase());
    if (edits <= 2 && edits < typed.length && (best === undefined || edits < best.edits)) best = { candidate, edits };
  }
  return best?.candidate;
}

/**
 * `unknown "lfx" (did you mean lfu? accepted: lru, lfu, ...)`: one message for every unknown name. The
 * suggestion may also come from `aliases`, which the list leaves out.
 */
export function unknownName(name: string, accepted: readonly string[], what = '', aliases: readonly string[] = []): string {
  const nearest = nearestName(name, [...accepted, ...aliases]);
  const hint = nearest === undefined ? '' : `did you mean ${nearest}? `;
  return `unknown ${what === '' ? '' : `${what} `}${JSON.stringify(name)} (${hint}accepted: ${accepted.join(', ')})`;
}
