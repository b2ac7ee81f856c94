/** Credit amounts as Segmind states them. */

/** Rounded to a millionth, so that sums of prices such as 0.1 + 0.2 do not show float noise. */
export function roundCredits(amount: number): number {
  return Math.round(amount * 1e6) / 1e6;
}
