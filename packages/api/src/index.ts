/** @renderq/api: the enqueue API, for embedding and tests. */
export { buildApp } from './app.js';
