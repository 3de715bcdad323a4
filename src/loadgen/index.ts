/** `kvflow/loadgen`: concurrent workflow clients against a server (`kvflow emulate`). This file only re-exports. */
export { runEmulation, type EmulateOptions, type EmulateResult } from './emulate.js';
export { runComparison } from './emulate-compare.js';
