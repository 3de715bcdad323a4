/**
 * The emulated engine's output: deterministic filler text, one common English word per token, chosen by
 * the prompt's hash and the token's position. The same prompt and budget always give the same text.
 */
const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if will up ' +
  'other about out many then them these so some her would make like him into time has look two more write ' +
  'go see number no way could people my than first water been call who its now find long down day did get ' +
  'come made may part'
).split(' ');

/** Text of output tokens [from, to) for a prompt whose last block id is `seed`. */
export function syntheticText(seed: number, from: number, to: number): string {
  let text = '';
  const base = seed % 9973;
  for (let i = from; i < to; i++) text += ` ${WORDS[(base + i * 31) % WORDS.length]}`;
  return text;
}

/** Single-token words, for clients that want prompts of a known token count. */
export const FILLER_WORDS: readonly string[] = WORDS;
