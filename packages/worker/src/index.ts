/** @renderq/worker: the worker's parts, for embedding and tests. */
export { type HealthServerOptions, startHealthServer } from './health-server.js';
export { outputSources } from './pipeline/output-sources.js';
export {
  type LatencyQuantiles,
  latencyQuantiles,
  nextPollInMs,
  type PollPlanSettings,
  UNKNOWN_MODEL,
} from './pipeline/poll-plan.js';
export {
  type PassReport,
  type ReconcileReport,
  type ReconcilerOptions,
  type RunningReconciler,
  startReconciler,
} from './reconciler.js';
export { AmbiguousSubmitError, classifyNetworkError, classifyStatus, parseResetHeader } from './segmind/classify.js';
export { SegmindClient, type SegmindClientOptions } from './segmind/segmind-client.js';
export { type RunningWorker, startWorker, type WorkerDependencies } from './start-worker.js';
