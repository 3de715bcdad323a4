/**
 * A chat template rendered as @huggingface/jinja's `Template.render` renders it, with less work per
 * render, which the gateway pays on every request (it was the largest item of its request path):
 * - The library builds a new root environment each time (its globals, then the caller's constants). Here
 *   that environment is built once and each render gets a child of it holding only what changes
 *   (`messages`, `add_generation_prompt`, ...): lookups walk to the parent and find the same values, and
 *   assignments land in the child (or deeper), so the parent is never written to.
 * - The library finds that a variable is not defined by throwing and catching an Error (each `x is
 *   defined` of an absent x: Llama 3.1's template has a dozen per render). Here every identifier the
 *   template names that nothing declares is declared undefined in the parent: a lookup returns an
 *   undefined value either way, without the throw. Names a render passes shadow them in the child.
 * - The presets' templates render plain conversations as string building (chat-fast-templates.ts).
 * test/workload/chat-render.test.ts holds the output equal to `Template.render` for both presets.
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { fastRenderFor, type FastRender } from './chat-fast-templates.js';

/** The globals the library's `Template.render` declares (read from the library itself, so a new version's list is followed). */
const LIBRARY_GLOBALS: readonly (readonly [string, unknown])[] = (() => {
  const captured: [string, unknown][] = [];
  const set = Environment.prototype.set;
  // A render without items calls `set` only for its globals; the patch lasts for that one synchronous call.
  Environment.prototype.set = function (this: Environment, name: string, value: unknown) {
    captured.push([name, value]);
    return set.call(this, name, value);
  };
  try {
    new Template('').render();
  } finally {
    Environment.prototype.set = set;
  }
  return captured;
})();

export class ChatTemplate {
  readonly #template: Template;
  readonly #base: Environment;
  readonly #fast: FastRender | undefined;

  /** `constants`: values every render sees (special tokens), declared once. */
  constructor(source: string, constants: Record<string, unknown>) {
    this.#template = new Template(source);
    this.#fast = fastRenderFor(source, constants);
    const base = new Environment();
    for (const [name, value] of LIBRARY_GLOBALS) base.set(name, value);
    for (const [name, value] of Object.entries(constants)) if (!base.variables.has(name)) base.set(name, value);
    for (const name of identifiersOf(this.#template.parsed)) if (!base.variables.has(name)) base.set(name, undefined);
    this.#base = base;
  }

  /** The template's output for `items` (as `Template.render({...constants, ...items})`). */
  render(items: Record<string, unknown>): string {
    const fast = this.#fast?.(items);
    if (fast !== undefined) return fast;
    const scope = new Environment(this.#base);
    for (const [name, value] of Object.entries(items)) scope.set(name, value);
    return new Interpreter(scope).run(this.#template.parsed).value as string;
  }
}

/** Every name an Identifier node of the parsed template carries (variables, loop targets, attributes, filters, tests). */
function identifiersOf(program: unknown): Set<string> {
  const names = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    const { type, value } = node as { type?: unknown; value?: unknown };
    if (type === 'Identifier' && typeof value === 'string') names.add(value);
    for (const child of Object.values(node)) visit(child);
  };
  visit(program);
  return names;
}
