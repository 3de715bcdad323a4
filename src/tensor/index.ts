/** `kvflow/tensor`: real KV blocks on TensorFlow.js: backend selection, block stores and movers, measured links. This file only re-exports. */
export { selectBackend, BACKEND_NAMES } from './backend.js';
export { kvBlockShape } from './block-shape.js';
export { HostBlockStore, DeviceBlockStore } from './block-store.js';
export { BlockMover } from './block-mover.js';
export { measureBandwidth, calibrateLink } from './bandwidth.js';
export { executeTransferPlan } from './plan-executor.js';
