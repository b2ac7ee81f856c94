/**
 * One emulated Segmind request and the steps of its life: QUEUED when a submit is
 * accepted, PROCESSING once a GPU takes it, then COMPLETED with its output images or
 * FAILED with a reason. The record is what status, result and the request journal read.
 */
import type { ImageSpec } from './images.js';
import { loadInputImage } from './input-image.js';

type RequestStatus = 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED';

export interface OutputImage {
  readonly file: string;
  readonly contentType: string;
  readonly spec: ImageSpec;
}

export interface EmulatedRequest {
  readonly id: string;
  readonly model: string;
  readonly input: Record<string, unknown>;
  readonly wantsBase64: boolean;
  readonly seed: number;
  readonly imageCount: number;
  readonly cost: number;
  status: RequestStatus;
  readonly createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  outputs?: readonly OutputImage[];
  remainingCredits?: number;
  sourceImage?: Promise<Buffer>;
}

/** Onto a GPU. An img2img input image is fetched only now, as Segmind fetches it once the request runs. */
export function startProcessing(request: EmulatedRequest): void {
  request.status = 'PROCESSING';
  request.startedAt = Date.now();
  request.sourceImage = loadSourceImage(request);
}

export function markCompleted(
  request: EmulatedRequest,
  outputs: readonly OutputImage[],
  remainingCredits: number,
): void {
  request.remainingCredits = remainingCredits;
  request.outputs = outputs;
  request.status = 'COMPLETED';
  request.finishedAt = Date.now();
  // A finished record stays for the result TTL; the input image it was made from need not.
  request.sourceImage = undefined;
}

export function markFailed(request: EmulatedRequest, error: string): void {
  request.status = 'FAILED';
  request.error = error;
  request.finishedAt = Date.now();
  request.sourceImage = undefined;
}

function loadSourceImage(request: EmulatedRequest): Promise<Buffer> | undefined {
  const image = request.input.image;
  if (typeof image !== 'string') return undefined;
  const loading = loadInputImage(image);
  // Its failure is read when the request finishes; until then it must not count as unhandled.
  loading.catch(() => {});
  return loading;
}
