/** `kvflow/sweep`: parameter grids run on piscina workers or a BullMQ queue. This file only re-exports. */
export { loadSweepGrid, parseSweepGrid } from './sweep-grid.js';
export { runSweep, renderSweepHtml, type SweepDocument } from './sweep.js';
