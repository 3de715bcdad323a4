/**
 * kvflow's public API: everything, from one import. Each area is also a subpath export (`kvflow/cache`,
 * `kvflow/graph`, ...) that loads only its own dependencies. This file only re-exports.
 */
export * from './types.js';
export { InputError } from './errors.js';
export { hashTokenBlocks, hashTokenBlocksTs, nativeHashInUse } from './native.js';

export * from './cache/index.js';
export * from './graph/index.js';
export * from './workload/index.js';
export * from './replay/index.js';
export * from './sim/index.js';
export * from './tensor/index.js';
export * from './config/index.js';
export * from './report/index.js';
export * from './serve/index.js';
export * from './loadgen/index.js';
export * from './sweep/index.js';
