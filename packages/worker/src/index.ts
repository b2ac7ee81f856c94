/** @renderq/worker: what other packages use of the worker's parts (the poll plan, for the bench); the worker itself runs from main.ts. */
export { latencyQuantiles, nextPollInMs } from './pipeline/poll-plan.js';
