/**
 * What a job reserves of its tenant's spend budget until Segmind says what it cost: its model's
 * price per image (the catalogue's, or MODEL_PRICES_USD's in its place) times the images its input
 * asks for. A model outside the catalogue has a price only when MODEL_PRICES_USD gives one, and
 * reserves it once per job (renderq cannot tell how many images its input asks for).
 */
import { usdToMicros } from '../jobs/spend.js';
import { findModel } from './catalogue.js';

/** Prices per image in USD that replace the catalogue's, by model (MODEL_PRICES_USD). */
export type PriceOverrides = Readonly<Record<string, number>>;

/** The price per image a model's jobs reserve, in USD; undefined when renderq knows none. */
export function priceOf(model: string, overrides: PriceOverrides): number | undefined {
  if (Object.hasOwn(overrides, model)) return overrides[model];
  return findModel(model)?.priceUsd;
}

/** What a job of `model` with this (validated) input reserves, in millionths of a USD; undefined without a price. */
export function reservationOf(
  model: string,
  input: Record<string, unknown>,
  overrides: PriceOverrides,
): number | undefined {
  const price = priceOf(model, overrides);
  if (price === undefined) return undefined;
  const images = findModel(model)?.outputCount(input) ?? 1;
  return usdToMicros(price * (Number.isFinite(images) && images > 0 ? images : 1));
}
