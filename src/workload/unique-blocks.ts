/**
 * Block ids for traces that carry lengths but no prompt content (Azure, LLMServingSim without token
 * ids): nothing is known to be shared, so every block of every request gets an id never used before.
 */
export class UniqueBlockIds {
  private next = 0;

  /** Fresh ids for a prompt of `tokens` tokens: one per `blockSize` tokens, the last possibly partial. */
  forPrompt(tokens: number, blockSize: number): number[] {
    const count = Math.ceil(tokens / blockSize);
    const ids = new Array<number>(count);
    for (let i = 0; i < count; i++) ids[i] = this.next + i;
    this.next += count;
    return ids;
  }
}
