/** Trace input and output in one import: readers for every format and the canonical writer. */
export { readLines, type Line } from './lines.js';
export { readTrace, streamTrace, TRACE_FORMATS, FORMAT_CHOICES, EmptyTraceError, type StreamTraceOptions, type TraceStats } from './read.js';
export { formatRequestJsonl, DEFAULT_BLOCK_SIZE } from './canonical.js';
export { MOONCAKE_BLOCK_SIZE, mooncakeId } from './mooncake.js';
export { writeTrace } from './write.js';
export { traceStats, type TraceStatsReport } from './stats.js';
export { convertTrace, convertTraceToFile, type ConvertSummary } from './convert.js';
