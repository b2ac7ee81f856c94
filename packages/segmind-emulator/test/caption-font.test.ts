// Captions on emulator images: what becomes a line, how long prompts are wrapped and cut.
import { describe, expect, it } from 'vitest';
import { fitLine, printable, textWidth, wrapLines } from '../src/caption-font.js';

const LONG_PROMPT =
  'a red fox sitting in a snowy birch forest at golden hour, cinematic lighting, shallow depth of field, ' +
  'ultra detailed fur, 85mm lens, national geographic style photograph, award winning composition, soft bokeh';

describe('caption text', () => {
  it('keeps what the font can draw, turns the rest into ?, and collapses whitespace', () => {
    expect(printable('  café   naïve\n\tart  ')).toBe('café naïve art');
    expect(printable('日本 🚀 ok')).toBe('?? ? ok');
    expect(printable('<svg> & "quotes"')).toBe('<svg> & "quotes"');
  });

  it('measures text by the font: wider for more and bigger letters, nothing for nothing', () => {
    expect(textWidth('', 30)).toBe(0);
    expect(textWidth('iiii', 30)).toBeLessThan(textWidth('MMMM', 30));
    expect(textWidth('seed 42', 60)).toBeCloseTo(2 * textWidth('seed 42', 30), 6);
    expect(textWidth('segmind', 30, 'bold')).toBeGreaterThan(textWidth('segmind', 30));
  });

  it('wraps a long prompt between words into lines that fit, and ends the last cut line with an ellipsis', () => {
    const lines = wrapLines(LONG_PROMPT, 34, 600, 3);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(textWidth(line, 34)).toBeLessThanOrEqual(600);
    expect(lines.at(-1)).toMatch(/…$/);
    // The lines are the prompt's start, cut after a whole word.
    const shown = lines.join(' ').slice(0, -1);
    expect(LONG_PROMPT.startsWith(shown)).toBe(true);
    expect(LONG_PROMPT[shown.length]).toBe(' ');
  });

  it('leaves a prompt that fits alone, and cuts a word wider than a line', () => {
    expect(wrapLines('a lighthouse at dusk', 34, 600, 3)).toEqual(['a lighthouse at dusk']);
    const word = 'x'.repeat(200);
    const lines = wrapLines(word, 34, 300, 2);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^x+$/);
    expect(lines[1]).toMatch(/^x+…$/);
    for (const line of lines) expect(textWidth(line, 34)).toBeLessThanOrEqual(300);
  });

  it('handles prompts of any length in bounded work', () => {
    const huge = `${LONG_PROMPT} `.repeat(2_000);
    const started = performance.now();
    const lines = wrapLines(huge, 34, 900, 6);
    expect(lines).toHaveLength(6);
    expect(lines.at(-1)).toMatch(/…$/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('cuts one line with an ellipsis, between words when that keeps most of it', () => {
    expect(fitLine('stable-diffusion', 30, 1_000)).toBe('stable-diffusion');
    const cut = fitLine('seed 42 · 1024 × 1024 · JPEG · image 2 of 4', 30, 300);
    expect(cut).toMatch(/…$/);
    expect(textWidth(cut, 30)).toBeLessThanOrEqual(300);
    expect('seed 42 · 1024 × 1024 · JPEG · image 2 of 4'.startsWith(cut.slice(0, -1))).toBe(true);
    expect(cut.slice(0, -1)).not.toMatch(/\s$/);
  });
});
