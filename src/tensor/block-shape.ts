/**
 * The shape of one KV block (one page of `blockSize` tokens) as a tensor: [layers, 2 (K and V), kv_heads,
 * block_size, head_dim], from the model preset. A real block of a large model is megabytes, so runs use a
 * scaled-down block: `--tensor-scale X` keeps about X of the elements, shrinking layers first, then
 * head_dim. Tensors are float32 (tfjs has no 16-bit float type), so a block's tensor bytes are
 * `elements * 4`, while the simulator's page bytes use the model's dtype.
 */
import { InputError } from '../errors.js';
import { kvBytesPerToken } from '../sim/cost-model.js';
import type { ModelPreset } from '../sim/presets.js';

/** Bytes per element of a block tensor (float32). */
export const TENSOR_ELEMENT_BYTES = 4;

/** Default `--tensor-scale`: Llama-3.1-8B blocks of 16 tokens become 2 layers, 256 KiB each. */
export const DEFAULT_TENSOR_SCALE = 1 / 16;

export interface KvBlockShape {
  /** [layers, 2, kvHeads, blockSize, headDim]. */
  shape: [number, number, number, number, number];
  elements: number;
  /** Bytes of the block tensor (float32). */
  bytes: number;
  /** Bytes of the unscaled block in the model's dtype: the simulator's page size. */
  modelBytes: number;
  /** `elements` over the unscaled block's elements. */
  scale: number;
}

/** The block shape for `model` at `blockSize` tokens per block, scaled by `scale` in (0, 1]. */
export function kvBlockShape(model: ModelPreset, blockSize: number, scale: number = DEFAULT_TENSOR_SCALE): KvBlockShape {
  if (!(scale > 0 && scale <= 1)) throw InputError.flag('--tensor-scale', `expected a number in (0, 1], got ${scale}`);
  if (!Number.isInteger(blockSize) || blockSize < 1) throw InputError.flag('--block-size', `expected an integer >= 1, got ${blockSize}`);
  const wantedLayers = model.layers * scale;
  const layers = Math.max(1, Math.round(wantedLayers));
  // Below one layer, the rest of the scale comes out of head_dim.
  const headDim = wantedLayers >= 1 ? model.headDim : Math.max(1, Math.round(model.headDim * wantedLayers));
  const shape: KvBlockShape['shape'] = [layers, 2, model.kvHeads, blockSize, headDim];
  const elements = shape.reduce((product, size) => product * size, 1);
  const fullElements = 2 * model.layers * model.kvHeads * blockSize * model.headDim;
  return {
    shape,
    elements,
    bytes: elements * TENSOR_ELEMENT_BYTES,
    modelBytes: kvBytesPerToken(model) * blockSize,
    scale: elements / fullElements,
  };
}

/** `[2, 2, 8, 16, 128]` -> `2x2x8x16x128`. */
export function formatShape(shape: readonly number[]): string {
  return shape.join('x');
}
