/**
 * Prompt text of a known token count for emulated workflows: one common English word per token (each a
 * single o200k token with its leading space), drawn from a seeded stream. An agent's fixed prompt is the
 * same text on every call (per instance when agents are private); a step's dynamic input starts with the
 * step id, so no two calls share it.
 */
import { FILLER_WORDS } from '../serve/http/synthetic-text.js';
import { Rng } from '../workload/rng.js';

export class PromptText {
  readonly #seed: number;
  readonly #fixed = new Map<string, string>();

  constructor(seed: number) {
    this.#seed = seed;
  }

  /** The fixed prompt of `agent` (of `instance` when agents are private), about `tokens` tokens long. */
  fixed(agent: string, tokens: number, instance?: string): string {
    const key = instance === undefined ? agent : `${instance}/${agent}`;
    let text = this.#fixed.get(key);
    if (text === undefined) {
      text = `You are ${agent}.${words(new Rng(this.#seed, stringStream(key)), Math.max(0, tokens - 4))}`;
      this.#fixed.set(key, text);
    }
    return text;
  }

  /** A step's fresh input, about `tokens` tokens long. */
  dynamic(stepId: string, tokens: number): string {
    return `Step ${stepId}.${words(new Rng(this.#seed, stringStream(`dynamic:${stepId}`)), Math.max(0, tokens - 8))}`;
  }
}

function words(rng: Rng, count: number): string {
  const parts: string[] = new Array(count);
  for (let i = 0; i < count; i++) parts[i] = FILLER_WORDS[Math.floor(rng.next() * FILLER_WORDS.length)]!;
  return count > 0 ? ` ${parts.join(' ')}` : '';
}

/** A stream number for a string key (FNV-1a), so each key gets its own sequence. */
function stringStream(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
