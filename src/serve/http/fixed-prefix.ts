/**
 * How many leading blocks of a request are its agent's fixed prompt, which KVFlow tags with the agent's
 * STE. HTTP requests do not say, so this guesses from what it saw: the longer of the leading system
 * messages and the prefix this request shares with the agent's previous request (an agent resends its
 * system prompt and tools on every call; an agent whose conversation grows shares its whole history).
 */
export class FixedPrefixTracker {
  readonly #lastBlocks = new Map<string, readonly number[]>();
  readonly #maxAgents: number;

  constructor(maxAgents = 65536) {
    this.#maxAgents = maxAgents;
  }

  /** Fixed blocks of `blocks` for `agent`; remembers them as the agent's latest prompt. */
  observe(agent: string, blocks: readonly number[], systemTokens: number, blockSize: number): number {
    const previous = this.#lastBlocks.get(agent);
    let shared = 0;
    if (previous) {
      const limit = Math.min(previous.length, blocks.length);
      while (shared < limit && previous[shared] === blocks[shared]) shared++;
      this.#lastBlocks.delete(agent);
    }
    this.#lastBlocks.set(agent, blocks);
    if (this.#lastBlocks.size > this.#maxAgents) {
      const oldest = this.#lastBlocks.keys().next().value;
      if (oldest !== undefined) this.#lastBlocks.delete(oldest);
    }
    return Math.max(shared, Math.min(blocks.length, Math.floor(systemTokens / blockSize)));
  }

  /** Each agent's latest prompt, oldest first (observing them in this order rebuilds the tracker). */
  entries(): [string, readonly number[]][] {
    return [...this.#lastBlocks];
  }
}
