/**
 * Faults the emulator injects on purpose, so that clients are tried against them: server
 * errors in place of an answer, and requests that end FAILED as a content block would
 * (each at its configured rate, and always for a prompt carrying the marker).
 */
import { randomInt } from 'node:crypto';
import type { EmulatedRequest } from './emulated-request.js';
import type { FaultSettings } from './settings.js';

/** A prompt containing this fails its request, as a content block would. */
const FORCE_FAILURE = 'emulator:fail';

/** Whether this call should be answered with a server error instead, and which. */
export function drawServerError(
  rates: FaultSettings['serverErrorRate'],
  endpoint: keyof FaultSettings['serverErrorRate'],
): 500 | 502 | 504 | undefined {
  if (Math.random() >= rates[endpoint]) return undefined;
  return ([500, 502, 504] as const)[randomInt(0, 3)];
}

/** The error a request fails with instead of making its images, if it fails. */
export function drawInferenceFailure(request: EmulatedRequest, failureRate: number): string | undefined {
  if (String(request.input.prompt).includes(FORCE_FAILURE) || Math.random() < failureRate) {
    return 'Inference failed: the model could not generate an image for this input';
  }
  return undefined;
}
