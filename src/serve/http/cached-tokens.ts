/** How engines count a prompt's cached tokens (the emulator reports them; the gateway predicts them). */

/**
 * Cached prompt tokens as vLLM reports them (`usage.prompt_tokens_details.cached_tokens`): whole blocks
 * only, and never the whole prompt, since the engine always computes at least the last prompt token.
 */
export function reportedCachedTokens(hitTokens: number, promptTokens: number, blockSize: number): number {
  const wholeBlocks = Math.floor(hitTokens / blockSize) * blockSize;
  const belowPrompt = promptTokens > 0 ? Math.floor((promptTokens - 1) / blockSize) * blockSize : 0;
  return Math.max(0, Math.min(wholeBlocks, belowPrompt));
}
