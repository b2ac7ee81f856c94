/**
 * What a simulated GPU does with a request: how long it runs (drawn lognormal around the
 * model's median), the input image as the model reads it, and the output images it
 * makes. Outputs are described here, not drawn: the same request always describes the
 * same images, and drawing waits until one is fetched.
 */
import { canonicalJson } from '@renderq/shared';
import type { EmulatedRequest, OutputImage } from './emulated-request.js';
import { CONTENT_TYPES, EXTENSIONS, type ImageSpec, imageDigest, imageSize } from './images.js';
import { InputImageError } from './input-image.js';
import { MODEL_PROFILES, type ModelProfile } from './model-profiles.js';
import type { FaultSettings } from './settings.js';

/** An img2img request's input image, decoded far enough to know its size. */
interface SourceImage {
  readonly image: Buffer;
  readonly size: { readonly width: number; readonly height: number };
}

type SourceOutcome =
  | { readonly kind: 'none' }
  | ({ readonly kind: 'read' } & SourceImage)
  | { readonly kind: 'unreadable'; readonly error: string };

export function inferenceLatency(model: string, settings: FaultSettings): number {
  const profile = MODEL_PROFILES[model] as ModelProfile;
  const { latencyScale, latencyJitter } = settings;
  return profile.medianLatencyMs * latencyScale * Math.exp(latencyJitter * standardNormal());
}

/** Waits for the input image that started loading with the request, and checks it is one. */
export async function readSourceImage(request: EmulatedRequest): Promise<SourceOutcome> {
  try {
    const image = await request.sourceImage;
    if (!image) return { kind: 'none' };
    const size = await imageSize(image);
    if (!size) throw new InputImageError('the input image is not an image this model can read');
    return { kind: 'read', image, size };
  } catch (error) {
    return {
      kind: 'unreadable',
      error: error instanceof InputImageError ? error.message : 'could not load the input image',
    };
  }
}

export function describeOutputs(request: EmulatedRequest, source: SourceImage | undefined): OutputImage[] {
  const profile = MODEL_PROFILES[request.model] as ModelProfile;
  const geometry = profile.geometry(request.input, source?.size);
  // The input image is given as its bytes, not as the URL or base64 it came as.
  const { image: _image, ...describing } = request.input;
  const base = [request.model, canonicalJson(describing), source?.image ?? ''];
  const outputs: OutputImage[] = [];
  for (let index = 0; index < request.imageCount; index++) {
    const spec: ImageSpec = {
      digest: imageDigest([...base, index, geometry.width, geometry.height]),
      ...geometry,
      caption: {
        model: request.model,
        prompt: typeof request.input.prompt === 'string' ? request.input.prompt : '',
        seed: request.seed,
        index,
        count: request.imageCount,
      },
      ...(source ? { source: { image: source.image, strength: Number(request.input.strength ?? 0.8) } } : {}),
    };
    outputs.push({
      file: `${index}.${EXTENSIONS[geometry.format]}`,
      contentType: CONTENT_TYPES[geometry.format],
      spec,
    });
  }
  return outputs;
}

function standardNormal(): number {
  const u = 1 - Math.random();
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
