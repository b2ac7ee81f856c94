/**
 * Text as SVG shapes, from a font shipped as a package (Inter, latin subset, from
 * @fontsource/inter) and parsed by opentype.js: the emulator's images must be the same
 * bytes on every machine, and SVG <text> would be drawn with whatever fonts fontconfig
 * finds there, or with none. Layout is done here, one glyph after another by advance
 * width: no shaping and no kerning (opentype.js cannot read this font's GSUB or its
 * kerning, which sits in GPOS extension lookups), which a caption can do without.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export type FontWeight = 'regular' | 'bold';

/** The part of opentype.js used here (the package ships no types). */
interface Font {
  readonly unitsPerEm: number;
  hasChar(char: string): boolean;
  charToGlyph(char: string): Glyph;
}
interface Glyph {
  readonly index: number;
  readonly advanceWidth?: number;
  readonly path: { readonly commands: readonly PathCommand[] };
}
interface PathCommand {
  readonly type: 'M' | 'L' | 'C' | 'Q' | 'Z';
  readonly x?: number;
  readonly y?: number;
  readonly x1?: number;
  readonly y1?: number;
  readonly x2?: number;
  readonly y2?: number;
}

const require = createRequire(import.meta.url);
const FONT_FILES: Readonly<Record<FontWeight, string>> = {
  regular: '@fontsource/inter/files/inter-latin-400-normal.woff',
  bold: '@fontsource/inter/files/inter-latin-700-normal.woff',
};

/** A parsed font with what layout asks of it again and again remembered. */
class Face {
  readonly #font: Font;
  readonly #glyphs = new Map<string, Glyph>();
  readonly #drawable = new Map<string, boolean>();
  readonly #outlines = new Map<number, string>();
  readonly unitsPerEm: number;

  constructor(file: string) {
    const opentype = require('opentype.js') as { parse(buffer: ArrayBuffer, options: { lowMemory: boolean }): Font };
    const bytes = readFileSync(require.resolve(file));
    this.#font = opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), {
      lowMemory: true,
    });
    this.unitsPerEm = this.#font.unitsPerEm;
  }

  has(char: string): boolean {
    let drawable = this.#drawable.get(char);
    if (drawable === undefined) {
      drawable = this.#font.hasChar(char);
      this.#drawable.set(char, drawable);
    }
    return drawable;
  }

  glyph(char: string): Glyph {
    let glyph = this.#glyphs.get(char);
    if (!glyph) {
      glyph = this.#font.charToGlyph(char);
      this.#glyphs.set(char, glyph);
    }
    return glyph;
  }

  /** The glyph's outline as path data in font units, y up. */
  outline(glyph: Glyph): string {
    let outline = this.#outlines.get(glyph.index);
    if (outline === undefined) {
      outline = glyph.path.commands.map(command).join('');
      this.#outlines.set(glyph.index, outline);
    }
    return outline;
  }
}

const faces = new Map<FontWeight, Face>();

function face(weight: FontWeight): Face {
  let loaded = faces.get(weight);
  if (!loaded) {
    loaded = new Face(FONT_FILES[weight]);
    faces.set(weight, loaded);
  }
  return loaded;
}

function command(c: PathCommand): string {
  const n = (v = 0) => String(Math.round(v * 10) / 10);
  switch (c.type) {
    case 'M':
    case 'L':
      return `${c.type}${n(c.x)} ${n(c.y)}`;
    case 'Q':
      return `Q${n(c.x1)} ${n(c.y1)} ${n(c.x)} ${n(c.y)}`;
    case 'C':
      return `C${n(c.x1)} ${n(c.y1)} ${n(c.x2)} ${n(c.y2)} ${n(c.x)} ${n(c.y)}`;
    case 'Z':
      return 'Z';
  }
}

/** One line: whitespace runs become one space; characters the font lacks become '?'. */
export function printable(text: string, weight: FontWeight = 'regular'): string {
  const font = face(weight);
  let out = '';
  for (const char of text.normalize('NFC').replace(/\s+/gu, ' ').trim()) out += font.has(char) ? char : '?';
  return out;
}

/** Advance width in pixels of printable text at `size` pixels per em. */
export function textWidth(text: string, size: number, weight: FontWeight = 'regular'): number {
  const font = face(weight);
  let units = 0;
  forEachGlyph(font, text, (_glyph, advance) => {
    units += advance;
  });
  return (units * size) / font.unitsPerEm;
}

/** Each glyph of the text with its advance in font units. */
function forEachGlyph(font: Face, text: string, each: (glyph: Glyph, advance: number) => void): void {
  for (const char of text) {
    const glyph = font.glyph(char);
    each(glyph, glyph.advanceWidth ?? 0);
  }
}

export interface TextStyle {
  readonly size: number;
  readonly weight?: FontWeight;
  readonly fill: string;
  readonly opacity?: number;
}

/**
 * The glyphs drawn into one SVG document: each outline goes once into <defs>, and a
 * line of text is a group of <use> at pen positions in font units (whole numbers, so
 * the same text lands on the same pixels everywhere).
 */
export class GlyphSheet {
  readonly #defs = new Map<string, string>();

  /** A line of printable text with its baseline starting at (x, y). */
  line(text: string, x: number, y: number, style: TextStyle): string {
    const weight = style.weight ?? 'regular';
    const font = face(weight);
    const scale = style.size / font.unitsPerEm;
    const uses: string[] = [];
    let pen = 0;
    forEachGlyph(font, text, (glyph, advance) => {
      const outline = font.outline(glyph);
      if (outline) {
        const id = `${weight[0]}${glyph.index}`;
        if (!this.#defs.has(id)) this.#defs.set(id, `<path id="${id}" d="${outline}"/>`);
        uses.push(pen === 0 ? `<use href="#${id}"/>` : `<use href="#${id}" x="${pen}"/>`);
      }
      pen += advance;
    });
    const opacity = style.opacity === undefined ? '' : ` fill-opacity="${style.opacity}"`;
    return (
      `<g transform="translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${scale.toFixed(6)} ${(-scale).toFixed(6)})" ` +
      `fill="${style.fill}"${opacity}>${uses.join('')}</g>`
    );
  }

  /** The outlines the lines drawn so far refer to. */
  defs(): string {
    return [...this.#defs.values()].join('');
  }
}

const ELLIPSIS = '…';
const MAX_WRAPPED = 1_000;

/** Printable text cut to fit `maxWidth`, ending in an ellipsis when cut. */
export function fitLine(text: string, size: number, maxWidth: number, weight: FontWeight = 'regular'): string {
  const line = printable(text, weight);
  return textWidth(line, size, weight) <= maxWidth ? line : withEllipsis(line, size, maxWidth, weight);
}

/** The longest start of `line` that fits `maxWidth` with an ellipsis after it. */
function withEllipsis(line: string, size: number, maxWidth: number, weight: FontWeight): string {
  const room = maxWidth - textWidth(ELLIPSIS, size, weight);
  const chars = Array.from(line);
  let end = fittingPrefix(chars, size, room, weight);
  // Cut between words when that keeps most of the line.
  const space = chars.lastIndexOf(' ', end);
  if (end < chars.length && chars[end] !== ' ' && space > end * 0.7) end = space;
  return `${chars.slice(0, end).join('').trimEnd()}${ELLIPSIS}`;
}

/** How many of `chars` fit in `maxWidth` (one pass, stopping there: prompts may be thousands of characters). */
function fittingPrefix(chars: readonly string[], size: number, maxWidth: number, weight: FontWeight): number {
  const font = face(weight);
  const room = (maxWidth * font.unitsPerEm) / size;
  let units = 0;
  let count = 0;
  for (const char of chars) {
    units += font.glyph(char).advanceWidth ?? 0;
    if (units > room) break;
    count++;
  }
  return count;
}

/**
 * Printable text broken into at most `maxLines` lines of at most `maxWidth` pixels,
 * between words where it can (a word wider than a line is cut); text that does not
 * fit ends in an ellipsis on the last line.
 */
export function wrapLines(
  text: string,
  size: number,
  maxWidth: number,
  maxLines: number,
  weight: FontWeight = 'regular',
): string[] {
  if (maxLines < 1) return [];
  // No layout shows more than a few hundred characters: the rest only costs time.
  const shown = text.length > MAX_WRAPPED ? `${text.slice(0, MAX_WRAPPED)} ${ELLIPSIS}` : text;
  const words = printable(shown, weight).split(' ').filter(Boolean);
  const lines: string[] = [];
  let current = '';
  let next = 0;
  while (next < words.length && lines.length < maxLines) {
    const word = words[next] as string;
    const candidate = current ? `${current} ${word}` : word;
    if (textWidth(candidate, size, weight) <= maxWidth) {
      current = candidate;
      next++;
    } else if (current) {
      lines.push(current);
      current = '';
    } else {
      // A word wider than a whole line: as much of it as fits, the rest on the next line.
      const chars = Array.from(word);
      const end = Math.max(1, fittingPrefix(chars, size, maxWidth, weight));
      lines.push(chars.slice(0, end).join(''));
      words[next] = chars.slice(end).join('');
    }
  }
  if (current) lines.push(current);
  if (next < words.length) {
    const last = lines.length - 1;
    lines[last] = withEllipsis(`${lines[last]} ${words.slice(next).join(' ')}`, size, maxWidth, weight);
  }
  return lines;
}
