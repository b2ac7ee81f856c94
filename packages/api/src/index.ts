/** @renderq/api: the enqueue API, for embedding and tests. */
export { type AppDependencies, buildApp } from './app.js';
