/**
 * How each emulated model behaves as a service: how long it takes, what it costs,
 * and the size and format of what it makes. Parameters and their validation come
 * from renderq's model catalogue, which follows Segmind's pages.
 */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

interface OutputGeometry {
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly quality: number;
}

export interface ModelProfile {
  /** Median time on a GPU, before the latency scale. */
  readonly medianLatencyMs: number;
  /** Credits per image made. */
  readonly costPerImage: number;
  /** The output's size and format; img2img models without a size follow the input image. */
  readonly geometry: (input: Record<string, unknown>, inputImage?: { width: number; height: number }) => OutputGeometry;
}

const jpeg1024 = (): OutputGeometry => ({ width: 1024, height: 1024, format: 'jpeg', quality: 90 });

export const MODEL_PROFILES: Readonly<Record<string, ModelProfile>> = {
  'segmind-vega-rt-v1': { medianLatencyMs: 1_500, costPerImage: 0.0015, geometry: jpeg1024 },
  'segmind-vega': { medianLatencyMs: 4_000, costPerImage: 0.002, geometry: jpeg1024 },
  'ssd-img2img': {
    medianLatencyMs: 5_000,
    costPerImage: 0.003,
    geometry: (_input, image) => ({
      width: roundTo8(image?.width ?? 1024),
      height: roundTo8(image?.height ?? 1024),
      format: 'jpeg',
      quality: 90,
    }),
  },
  'stable-diffusion-3.5-turbo-txt2img': {
    medianLatencyMs: 3_000,
    costPerImage: 0.005,
    geometry: (input) => {
      const { width, height } = sizeFromAspect(input);
      return {
        width,
        height,
        format: (input.image_format as ImageFormat | undefined) ?? 'jpeg',
        quality: Number(input.image_quality ?? 95),
      };
    },
  },
  'sd1.5-img2img': {
    medianLatencyMs: 3_000,
    costPerImage: 0.002,
    geometry: (input) => ({
      width: Number(input.img_width ?? 512),
      height: Number(input.img_height ?? 512),
      format: 'jpeg',
      quality: 90,
    }),
  },
};

/** "custom" keeps width × height; a ratio keeps about a megapixel, sides multiples of 64. */
function sizeFromAspect(input: Record<string, unknown>): { width: number; height: number } {
  const ratio = String(input.aspect_ratio ?? 'custom');
  if (ratio === 'custom') return { width: Number(input.width ?? 1024), height: Number(input.height ?? 1024) };
  const [w, h] = ratio.split(':').map(Number) as [number, number];
  const area = 1024 * 1024;
  const width = Math.max(64, Math.round(Math.sqrt((area * w) / h) / 64) * 64);
  const height = Math.max(64, Math.round(Math.sqrt((area * h) / w) / 64) * 64);
  return { width: Math.min(width, 2048), height: Math.min(height, 2048) };
}

function roundTo8(n: number): number {
  return Math.max(8, Math.min(2048, Math.round(n / 8) * 8));
}
