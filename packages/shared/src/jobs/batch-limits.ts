/**
 * The largest batch, shared by the API (which refuses bigger ones) and the configuration
 * (an enqueue burst smaller than it would refuse a valid batch forever).
 */
export const MAX_BATCH_JOBS = 10_000;
