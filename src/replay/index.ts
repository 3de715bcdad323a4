/** `kvflow/replay`: cache-only replay of a trace through a policy (in memory or streaming) and replay suites. This file only re-exports. */
export { replayTrace, CacheReplayer, type ReplayOptions } from './replay.js';
export { replaySuite, summarizeTrace, type ReplaySuiteOptions, type ReplayReport } from './replay-suite.js';
export { replayStream, NeedsSortError, type StreamReplayOptions } from './replay-stream.js';
