/**
 * The one mapping from a failed zod check to kvflow's one-line `InputError` (exit 2): the first issue,
 * at its path (an unknown field at its own path, not its parent's), named by where the document came
 * from: `file: path.to.field: problem`, `file:line: field: problem` or `--flag: path: problem`.
 * Every document kvflow checks with zod reports through here (workflow specs, trace lines, hardware
 * `--config` files, sweep grids, setup definitions, KV-event configs).
 */
import type { z } from 'zod';
import { InputError } from './errors.js';

/** Where a document came from: a file, a line of a file, or a flag's value. */
export type DocumentSite = { file: string; line?: number } | { flag: string };

/** The field an issue is about, dotted (`agents.a0.fixed`); an unknown field's own name is included. */
export function issuePath(issue: z.core.$ZodIssue): string {
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  return path.map(String).join('.');
}

/**
 * The `InputError` of a failed check. `problem` words an issue in the site's terms (default: the
 * schema's message); `root` names the field when the issue is about the whole document.
 */
export function inputErrorFrom(
  error: { readonly issues: readonly z.core.$ZodIssue[] },
  site: DocumentSite,
  options: { problem?: (issue: z.core.$ZodIssue) => string; root?: string } = {},
): InputError {
  const issue = error.issues[0];
  const problem = issue === undefined ? 'invalid' : (options.problem?.(issue) ?? issue.message);
  const path = issue === undefined ? '' : issuePath(issue);
  if ('flag' in site) return InputError.flag(site.flag, `${path || (options.root ?? 'value')}: ${problem}`);
  if (site.line !== undefined) return InputError.atLine(site.file, site.line, path || (options.root ?? '(root)'), problem);
  return InputError.atPath(site.file, path, problem);
}
