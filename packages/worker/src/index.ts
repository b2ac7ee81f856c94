/** @renderq/worker: the worker's parts, for embedding and tests. */
export { type HealthServerOptions, startHealthServer } from './health-server.js';
