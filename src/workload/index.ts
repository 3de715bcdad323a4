/** `kvflow/workload`: traces (reading, streaming, converting, statistics), workflow specs and request generation. This file only re-exports. */
export { replayOrder, prefixTokens } from './request-order.js';
export {
  readTrace,
  streamTrace,
  readLines,
  formatRequestJsonl,
  writeTrace,
  traceStats,
  convertTrace,
  convertTraceToFile,
  TRACE_FORMATS,
  type TraceStats,
  type StreamTraceOptions,
  type TraceStatsReport,
  type ConvertSummary,
} from './trace.js';
export { parseWorkflowSpec, loadWorkflowSpec, type WorkflowSpec, type AgentSpec, type EdgeSpec, type ArrivalSpec } from './spec.js';
export { generateRequests, type GenerateOptions } from './generate.js';
