/**
 * Where the CLI writes what. With `--json`, stdout carries exactly one JSON
 * document per command and nothing else (human notes are off; errors go to
 * stderr as one line). Without it, results go to stdout and notes to stderr.
 * Colour and progress bars only when both stdout and stderr are terminals
 * (and NO_COLOR is unset for colour): piped or redirected output stays plain.
 */
import { styleText } from 'node:util';

export interface Streams {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

type Style = Parameters<typeof styleText>[0];

export class Output {
  /** Progress bars and other redrawn lines are allowed. */
  readonly interactive: boolean;
  readonly #color: boolean;

  constructor(
    readonly streams: Streams,
    readonly json: boolean,
  ) {
    this.interactive = !json && streams.stdout.isTTY === true && streams.stderr.isTTY === true;
    this.#color = this.interactive && !streams.env.NO_COLOR && streams.env.TERM !== 'dumb';
  }

  /** The command's result: `value` as JSON with `--json`, else the human lines. */
  result(value: unknown, human: () => string | readonly string[]): void {
    if (this.json) {
      this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const lines = human();
    const text = typeof lines === 'string' ? lines : lines.join('\n');
    if (text !== '') this.streams.stdout.write(`${text}\n`);
  }

  /** A note for a person (progress without a terminal, what happens next); off with `--json`. */
  note(text: string): void {
    if (!this.json) this.streams.stderr.write(`${text}\n`);
  }

  /** A failure, always on stderr. */
  error(text: string): void {
    this.streams.stderr.write(`${this.paint('red', 'renderq:')} ${text}\n`);
  }

  paint(style: Style, text: string): string {
    return this.#color ? styleText(style, text) : text;
  }

  /** A job or batch status, coloured by how it went. */
  status(status: string): string {
    switch (status) {
      case 'completed':
        return this.paint('green', status);
      case 'failed':
        return this.paint('red', status);
      case 'cancelled':
      case 'expired':
        return this.paint('yellow', status);
      default:
        return this.paint('cyan', status);
    }
  }
}
