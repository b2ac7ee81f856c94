/**
 * What an emulated image looks like, as SVG: a gradient with translucent discs and rings
 * whose colours and places come from the image's digest, under a dark card that says
 * which job made it (model, prompt, seed, size), so that pictures in a showcase can be
 * told apart and traced back. Text is drawn as glyph outlines
 * (caption-font.ts), never as <text>, so nothing depends on the fonts a machine has.
 */
import { createHash } from 'node:crypto';
import { fitLine, GlyphSheet, printable, type TextStyle, textWidth, wrapLines } from './caption-font.js';

/** What the picture says about the job that made it. */
export interface ImageCaption {
  readonly model: string;
  readonly prompt: string;
  readonly seed: number;
  /** Which of the request's images this is (0-based), and how many it made. */
  readonly index: number;
  readonly count: number;
}

export interface PictureSpec {
  /** Hex digest the colours and shapes are drawn from. */
  readonly digest: string;
  readonly width: number;
  readonly height: number;
  /** Shown in the caption, upper case (JPEG, PNG, WEBP). */
  readonly format: string;
  readonly caption: ImageCaption;
  /** img2img: how far the output moves from its input; the background is drawn this opaque over it. */
  readonly strength?: number;
}

const BRAND = 'SEGMIND EMULATOR · RENDERQ';

/** Inter's capital height, in ems. */
const CAP_HEIGHT = 0.727;

/**
 * Text smaller than this many pixels is not drawn: nobody reads it, and on the tiny
 * pictures the benchmarks ask for it would cost several times the rest.
 */
const MIN_TEXT_PX = 6;

/**
 * The whole picture, `width` × `height`: the background (for img2img drawn `strength`
 * opaque, to lie over the input) and the caption card along the bottom, on pictures
 * big enough to read it (about 230 pixels square and up).
 */
export function pictureSvg(spec: PictureSpec): string {
  const { width, height } = spec;
  const card = captionCard(spec);
  const opacity = spec.strength === undefined ? '' : ` opacity="${clamp(spec.strength, 0, 1).toFixed(3)}"`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<defs>${card?.defs ?? ''}</defs><g${opacity}>${background(spec)}</g>` +
    (card ? `<g transform="translate(${card.left} ${card.top})">${card.body}</g>` : '') +
    '</svg>'
  );
}

/**
 * A corner-to-corner gradient between two hues under overlapping translucent discs and
 * two thin rings. Flat shapes on purpose: soft (radial-gradient) ones cost three times
 * as much to draw, and the emulator's benchmarks make thousands of these.
 */
function background({ digest, width, height }: PictureSpec): string {
  const bytes = digestBytes(digest);
  const byte = (i: number) => (bytes[i] as number) / 255;
  const hue = byte(0) * 360;
  const second = hue + 40 + byte(1) * 110;
  const accent = hue + 180 + (byte(2) - 0.5) * 60;
  const corner = bytes[3] as number;
  const [x1, y1, x2, y2] = [corner & 1, (corner >> 1) & 1, 1 - (corner & 1), 1 - ((corner >> 1) & 1)];
  const side = Math.min(width, height);
  const shapes = [
    `<linearGradient id="bg" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}">` +
      `<stop offset="0" stop-color="${hsl(hue, 0.68, 0.62)}"/>` +
      `<stop offset="1" stop-color="${hsl(second, 0.6, 0.34)}"/></linearGradient>` +
      `<rect width="${width}" height="${height}" fill="url(#bg)"/>`,
  ];
  for (let i = 0; i < 7; i++) {
    const at = 4 + i * 3; // bytes 4-24
    const colour = hsl([hue, second, accent][i % 3] as number, 0.7, i % 2 === 0 ? 0.72 : 0.45);
    const cx = (byte(at) * width).toFixed(1);
    const cy = (byte(at + 1) * height).toFixed(1);
    const r = ((0.12 + byte(at + 2) * 0.33) * side).toFixed(1);
    shapes.push(`<circle cx="${cx}" cy="${cy}" r="${r}" fill="${colour}" fill-opacity="0.32"/>`);
  }
  // Rings: edges that a thumbnail still shows.
  for (let i = 0; i < 2; i++) {
    const at = 25 + i * 3; // bytes 25-30
    const cx = (byte(at) * width).toFixed(1);
    const cy = (byte(at + 1) * height * 0.6).toFixed(1);
    const r = ((0.08 + byte(at + 2) * 0.2) * side).toFixed(1);
    const stroke = Math.max(1, side * 0.006).toFixed(1);
    shapes.push(
      `<circle cx="${cx}" cy="${cy}" r="${r}" fill="none" stroke="#ffffff" stroke-opacity="0.4" stroke-width="${stroke}"/>`,
    );
  }
  return shapes.join('');
}

/** The card's shapes, drawn from (0, 0), to be moved to (left, top); `defs` holds its glyphs. */
interface Card {
  readonly defs: string;
  readonly body: string;
  readonly left: number;
  readonly top: number;
}

interface LineLook {
  readonly size: number;
  /** The line's box is size × leading high, capitals centred in it. */
  readonly leading: number;
  /** Space above the box, in units. */
  readonly gap: number;
}

/**
 * The card along the bottom: brand, model (bold), the prompt wrapped to as many lines
 * as leave most of the picture visible (then cut with an ellipsis), and a line with
 * seed, size and format. Sizes follow the picture's, so every size reads alike. Over an
 * img2img input the card is darker: the input may carry text of its own (an earlier
 * emulator picture does), which must not show through this caption.
 */
function captionCard({ width, height, format, caption, strength }: PictureSpec): Card | undefined {
  const unit = Math.min(Math.sqrt(width * height), 1.25 * Math.min(width, height)) / 1024;
  const margin = Math.round(40 * unit);
  const padding = 35 * unit;
  const cardWidth = Math.max(1, width - 2 * margin);
  const inner = cardWidth - 2 * padding;
  const looks = {
    brand: { size: 19 * unit, leading: 1.5, gap: 0 },
    model: { size: 50 * unit, leading: 1.35, gap: 2 * unit },
    prompt: { size: 34 * unit, leading: 1.36, gap: 0 },
    meta: { size: 27 * unit, leading: 1.5, gap: 14 * unit },
  } satisfies Record<string, LineLook>;
  if (looks.meta.size < MIN_TEXT_PX) return undefined;
  const withBrand = looks.brand.size >= MIN_TEXT_PX;
  // A long model name on a narrow picture is set smaller (down to the prompt's size) rather than cut.
  const modelWidth = textWidth(printable(caption.model, 'bold'), 1, 'bold');
  looks.model.size = clamp(inner / Math.max(modelWidth, 1), looks.prompt.size, looks.model.size);
  const box = (look: LineLook) => look.gap + look.size * look.leading;
  const fixed = (withBrand ? box(looks.brand) : 0) + box(looks.model) + box(looks.meta) + 2 * padding;
  const maxPromptLines = clamp(Math.floor((height * 0.62 - margin - fixed) / box(looks.prompt)), 1, 6);
  const promptLines =
    printable(caption.prompt) === ''
      ? ['(empty prompt)']
      : wrapLines(caption.prompt, looks.prompt.size, inner, maxPromptLines);

  const meta = [`seed ${caption.seed}`, `${width} × ${height}`, format.toUpperCase()];
  if (caption.count > 1) meta.push(`image ${caption.index + 1} of ${caption.count}`);
  if (strength !== undefined) meta.push(`img2img strength ${round2(strength)}`);

  const cardHeight = clamp(Math.round(fixed + promptLines.length * box(looks.prompt)), 1, height);
  const sheet = new GlyphSheet();
  const drawn: string[] = [];
  let top = padding;
  const draw = (text: string, look: LineLook, style: Omit<TextStyle, 'size'>) => {
    const baseline = top + look.gap + (look.size * look.leading) / 2 + (CAP_HEIGHT * look.size) / 2;
    drawn.push(sheet.line(text, padding, baseline, { ...style, size: look.size }));
    top += box(look);
  };
  if (withBrand) draw(fitLine(BRAND, looks.brand.size, inner), looks.brand, { fill: '#ffffff', opacity: 0.62 });
  draw(fitLine(caption.model, looks.model.size, inner, 'bold'), looks.model, { fill: '#ffffff', weight: 'bold' });
  for (const line of promptLines) draw(line, looks.prompt, { fill: '#ffffff', opacity: 0.94 });
  draw(fitLine(meta.join('  ·  '), looks.meta.size, inner), looks.meta, { fill: '#ffffff', opacity: 0.74 });

  const body =
    `<rect width="${cardWidth}" height="${cardHeight}" rx="${(26 * unit).toFixed(1)}" fill="#0b0e17" ` +
    `fill-opacity="${strength === undefined ? 0.68 : 0.88}"/>` +
    drawn.join('');
  return { defs: sheet.defs(), body, left: margin, top: Math.max(0, height - margin - cardHeight) };
}

/** 64 bytes to place and colour things by, whatever the digest's length. */
function digestBytes(digest: string): Buffer {
  return createHash('sha512').update(digest).digest();
}

/** An HSL colour as #rrggbb (computed here rather than left to the SVG renderer's CSS parser). */
function hsl(hue: number, saturation: number, lightness: number): string {
  const amount = saturation * Math.min(lightness, 1 - lightness);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    const value = lightness - amount * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

function round2(n: number): string {
  return String(Math.round(n * 100) / 100);
}
