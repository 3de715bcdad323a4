import type { TraceRequest } from '../types.js';

export type Phase = 'pending' | 'waiting' | 'prefill' | 'decode' | 'done';

/** A request's life inside the simulator. Times are simulated seconds (NaN until they happen). */
export class SimRequest {
  readonly request: TraceRequest;
  /** Position in the simulation's request list: the clock Belady's next-use index counts in. */
  readonly index: number;
  /** Who owns the fixed prompt, for STE tags (agent, or instance/agent for private agents). */
  readonly agentKey: string | undefined;

  phase: Phase = 'pending';
  arrival = NaN;
  firstToken = NaN;
  done = NaN;
  /** When it first left the queue to prefill (NaN until then); later re-admissions after preemption keep it. */
  admitted = NaN;
  /** When its first on-demand load-back from the CPU tier started (NaN when it never loaded on demand). */
  loadStart = NaN;
  /** Replica serving it. */
  replica = -1;

  /** Pages of the prompt this request holds locked, in path order. */
  pages: Int32Array;
  held = 0;
  /** Leading held pages the policy has already been shown (`EvictionPolicy.notePrompt`). */
  tagged = 0;
  /** Prompt tokens already on the GPU for this request (hit, loaded, or prefilled). */
  computed = 0;
  generated = 0;
  /** GPU slots reserved for its output KV. */
  reserved = 0;
  /** Its own load-backs still in flight (status-aware scheduling waits for them). */
  loadsPending = 0;
  /**
   * Pages its own load-backs brought to the GPU, which count as loaded rather than hit (made at its first
   * load-back: most requests have none; a Set each was 5.5 of the 170 MB a Mooncake run allocated).
   */
  loadedPages: Set<number> | undefined = undefined;

  hitTokens = 0;
  loadedTokens = 0;
  recomputedTokens = 0;
  preemptions = 0;

  constructor(request: TraceRequest, index: number, agentKey: string | undefined) {
    this.request = request;
    this.index = index;
    this.agentKey = agentKey;
    this.pages = new Int32Array(request.blocks.length);
  }

  get inputLength(): number {
    return this.request.inputLength;
  }

  /** Tokens of block `i` of the prompt (the last block may be partial). */
  blockTokens(i: number): number {
    const { blocks, blockSize, inputLength } = this.request;
    return i < blocks.length - 1 ? blockSize : inputLength - (blocks.length - 1) * blockSize;
  }
}
