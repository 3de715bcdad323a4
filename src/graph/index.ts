/** `kvflow/graph`: the agent step graph, steps-to-execution (STE) tracking and the online graph learner. This file only re-exports. */
export { AgentStepGraph } from './graph.js';
export { StepTracker } from './tracker.js';
export { WorkflowSte } from './workflow-ste.js';
export { SteChangeFeed } from './ste-feed.js';
export { AgentAnnotator, OnlineGraphLearner, learnGraph, type LearnedGraph, type LearnerOptions } from './learner.js';
export { PrefixSignatures } from './prefix-signatures.js';
