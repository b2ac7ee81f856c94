/**
 * The emulated Segmind service, without HTTP: requests move QUEUED → PROCESSING →
 * COMPLETED/FAILED on a fixed number of simulated GPUs per model, each taking a
 * latency drawn around the model's median; completed requests debit the credit
 * balance; finished records expire after the result TTL, while output images stay
 * fetchable (Segmind keeps them for 7 days). `snapshot()` and `restore()` let a restarted
 * emulator carry on with the requests of the last one (request-journal.ts). The service
 * holds the requests and the credit balance; the rest of the work is done by the modules
 * it imports (admission, GPU queues, inference, output store, image cache).
 */
import { findModel } from '@renderq/shared';
import { roundCredits } from './credits.js';
import {
  type EmulatedRequest,
  markCompleted,
  markFailed,
  type OutputImage,
  startProcessing,
} from './emulated-request.js';
import { drawInferenceFailure, drawServerError } from './fault-injection.js';
import { GpuQueues } from './gpu-queues.js';
import { ImageCache } from './image-cache.js';
import { describeOutputs, inferenceLatency, readSourceImage } from './inference.js';
import { MODEL_PROFILES } from './model-profiles.js';
import { type KeptOutput, OutputStore } from './output-store.js';
import { applyPatch, DEFAULT_SETTINGS, FaultSettings, type SettingsPatch } from './settings.js';
import { type EmulatorStats, StatsCounter } from './stats.js';
import { SubmitAdmission, type SubmitOutcome } from './submit-admission.js';

/** What a restarted emulator needs of the last one: its requests and their output images. */
export interface ServiceSnapshot {
  readonly requests: readonly EmulatedRequest[];
  readonly outputs: readonly (readonly [string, KeptOutput])[];
}

export class EmulatedService {
  settings: FaultSettings;
  readonly stats = new StatsCounter();
  readonly #requests = new Map<string, EmulatedRequest>();
  readonly #gpus = new GpuQueues({
    gpusPerModel: () => this.settings.gpusPerModel,
    latency: (model) => inferenceLatency(model, this.settings),
    finish: (request) => this.#finish(request),
  });
  readonly #outputs = new OutputStore();
  readonly #images = new ImageCache();
  #spent = 0;
  /** Counts every change to requests and outputs, so a journal saves only when something changed. */
  #changes = 0;
  readonly #admission = new SubmitAdmission();
  readonly #sweeper: NodeJS.Timeout;

  constructor(settings: SettingsPatch = {}) {
    this.settings = FaultSettings.parse(applyPatch(DEFAULT_SETTINGS, settings));
    this.#sweeper = setInterval(() => this.#sweep(), 10_000);
    this.#sweeper.unref();
  }

  configure(patch: SettingsPatch): FaultSettings {
    this.settings = FaultSettings.parse(applyPatch(this.settings, patch));
    if (patch.submitRateLimit !== undefined) this.#admission.limitChanged();
    this.#gpus.startWaiting();
    return this.settings;
  }

  knowsModel(model: string): boolean {
    return model in MODEL_PROFILES && findModel(model) !== undefined;
  }

  /** Checks a submit as Segmind does and, when it passes, creates the (billable) request. */
  submit(model: string, body: unknown): SubmitOutcome {
    const outcome = this.#admission.admit(model, body, this.settings);
    if (outcome.kind !== 'accepted') return outcome;
    const { request } = outcome;
    this.#requests.set(request.id, request);
    this.#changes++;
    this.stats.countAccepted(request.input.prompt);
    this.#gpus.enqueue(request);
    return outcome;
  }

  /** The request, unless unknown or expired (Segmind answers 404 for both). */
  find(id: string): EmulatedRequest | undefined {
    const request = this.#requests.get(id);
    if (request && this.#expired(request)) {
      this.#requests.delete(id);
      this.#changes++;
      return undefined;
    }
    return request;
  }

  /** An output image's bytes, rendered on first fetch and cached for the next. */
  async output(id: string, file: string): Promise<{ bytes: Buffer; contentType: string } | undefined> {
    const image = this.#outputs.find(id, file);
    if (!image) return undefined;
    return { bytes: await this.render(image), contentType: image.contentType };
  }

  render(image: OutputImage): Promise<Buffer> {
    return this.#images.render(image.spec, this.settings.fixedImages);
  }

  /** Runs one request to its end at once, outside the GPU queue (the v1 synchronous API). */
  async runNow(request: EmulatedRequest): Promise<EmulatedRequest> {
    this.#requests.delete(request.id);
    this.#gpus.withdraw(request);
    startProcessing(request);
    await new Promise((resolve) => setTimeout(resolve, inferenceLatency(request.model, this.settings)));
    await this.#finish(request);
    return request;
  }

  statsSnapshot(): EmulatorStats {
    return this.stats.snapshot(this.#requests.values(), { balance: this.settings.credits, spent: this.#spent });
  }

  /** Whether this call should be answered with a server error instead (fault injection). */
  injectServerError(endpoint: keyof FaultSettings['serverErrorRate']): 500 | 502 | 504 | undefined {
    return drawServerError(this.settings.serverErrorRate, endpoint);
  }

  /** How many changes requests and outputs have seen: a journal compares it with the last one it saved. */
  get changes(): number {
    return this.#changes;
  }

  snapshot(): ServiceSnapshot {
    return {
      requests: [...this.#requests.values()].map(({ sourceImage: _source, ...request }) => request),
      outputs: this.#outputs.entries(),
    };
  }

  /**
   * Takes over a saved emulator's requests. Those that were still queued or processing run
   * again from the start of the queue, as Segmind's own finish after a restart on its side.
   */
  restore(saved: ServiceSnapshot): void {
    this.#outputs.restore(saved.outputs);
    const unfinished: EmulatedRequest[] = [];
    for (const request of [...saved.requests].sort((a, b) => a.createdAt - b.createdAt)) {
      const outputs = request.outputs?.map((image) => this.#outputs.keptCopy(request.id, image));
      const restored: EmulatedRequest = { ...request, ...(outputs ? { outputs } : {}) };
      this.#requests.set(restored.id, restored);
      if (restored.status === 'QUEUED' || restored.status === 'PROCESSING') {
        restored.status = 'QUEUED';
        unfinished.push(restored);
      }
    }
    for (const request of unfinished) this.#gpus.enqueue(request);
    this.#sweep();
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#gpus.close();
  }

  async #finish(request: EmulatedRequest): Promise<void> {
    const source = await readSourceImage(request);
    if (source.kind === 'unreadable') return this.#fail(request, source.error);
    const failure = drawInferenceFailure(request, this.settings.failureRate);
    if (failure) return this.#fail(request, failure);
    const outputs = describeOutputs(request, source.kind === 'read' ? source : undefined);
    this.#outputs.keep(request.id, outputs);
    this.settings.credits = Math.max(0, roundCredits(this.settings.credits - request.cost));
    this.#spent += request.cost;
    markCompleted(request, outputs, this.settings.credits);
    this.#changes++;
  }

  #fail(request: EmulatedRequest, error: string): void {
    markFailed(request, error);
    this.#changes++;
  }

  #expired(request: EmulatedRequest): boolean {
    return request.finishedAt !== undefined && Date.now() - request.finishedAt >= this.settings.resultTtlMs;
  }

  #sweep(): void {
    const before = this.#requests.size;
    for (const [id, request] of this.#requests) if (this.#expired(request)) this.#requests.delete(id);
    const outputsDropped = this.#outputs.sweep(Date.now());
    if (this.#requests.size !== before || outputsDropped > 0) this.#changes++;
  }
}
