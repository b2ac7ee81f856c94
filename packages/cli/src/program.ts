/**
 * The command line of `renderq`: every command, its arguments and options, and
 * the help text (environment variables and exit codes). Parsing only picks the
 * action to run and the global options; run.ts runs it.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { adminPauseCommand, adminResumeCommand, adminStatusCommand, adminTenantsCommand } from './commands/admin.js';
import { type BulkFlags, bulkCommand } from './commands/bulk.js';
import { cancelCommand } from './commands/cancel.js';
import { downloadCommand } from './commands/download.js';
import { listCommand } from './commands/list.js';
import { modelsCommand } from './commands/models.js';
import { statusCommand } from './commands/status.js';
import { submitCommand } from './commands/submit.js';
import { tenantCommand } from './commands/tenants.js';
import { waitCommand } from './commands/wait.js';
import { webhooksCommand } from './commands/webhooks.js';
import type { Action } from './context.js';
import { EXIT_CODES_HELP } from './exit-codes.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

interface GlobalFlags {
  readonly url: string;
  readonly apiKey?: string;
  readonly json?: boolean;
}

export interface Invocation {
  readonly action: Action;
  readonly globals: GlobalFlags;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

const ENVIRONMENT_HELP = `Environment:
  RENDERQ_URL        the API (default ${DEFAULT_URL}); --url overrides it
  RENDERQ_API_KEY    a tenant's API key, sent as Bearer; --api-key overrides it
  RENDERQ_ADMIN_KEY  an operator key for "renderq admin" (else the API key is used)
  NO_COLOR           no colour even on a terminal`;

/** Where commander writes help (stdout) and its usage errors (stderr). */
export interface ProgramOutput {
  readonly writeOut: (text: string) => void;
  readonly writeErr: (text: string) => void;
}

/** The program; `select` receives what to run once the command line has been parsed. */
export function buildProgram(select: (invocation: Invocation) => void, output: ProgramOutput): Command {
  // Settings made before the commands are added are inherited by all of them.
  const program = new Command('renderq')
    .configureOutput({
      ...output,
      // One line: "renderq: unknown option '--x' (Did you mean --y?) (see renderq --help)"
      outputError: (text, write) =>
        write(
          `renderq: ${text
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')
            .trim()} (see renderq --help)\n`,
        ),
    })
    .exitOverride()
    .description('Submit image-generation jobs to renderq, follow them and download their outputs.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--url <url>', 'the renderq API').env('RENDERQ_URL').default(DEFAULT_URL))
    .addOption(new Option('--api-key <key>', "a tenant's API key").env('RENDERQ_API_KEY'))
    .option('--json', 'print one JSON document on stdout and nothing else there (for scripts)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText('after', `\n${ENVIRONMENT_HELP}\n\n${EXIT_CODES_HELP}\n\nMore: docs/cli.md`);

  const run = (command: Command, action: Action) => select({ action, globals: command.optsWithGlobals<GlobalFlags>() });

  program
    .command('submit')
    .description('create a job from flags, or a batch from a JSON/NDJSON FILE (NDJSON is streamed)')
    .argument(
      '[file]',
      'jobs to send as one batch: .json (array, or {jobs, …}) or .ndjson/.jsonl; - reads NDJSON from stdin',
    )
    .option('-m, --model <slug>', 'the model of a single job (renderq models lists them)')
    .option(
      '-i, --input <key=value>',
      'an input parameter; repeatable. JSON values are taken as JSON (seed=42), @FILE as the file in base64',
      collect,
    )
    .option('--input-json <json|@file>', 'the whole input as a JSON object; --input values go over it')
    .option('--metadata <json|@file>', 'a JSON object returned with the job or batch as given')
    .option('--webhook-url <url>', 'where renderq POSTs signed webhook events')
    .option(
      '--webhook-events <events>',
      'comma-separated: job.completed,job.failed,job.cancelled,batch.completed',
      list,
    )
    .option('--priority <n>', '1 runs first (single jobs default to 1, batch jobs to 10)', positiveInteger)
    .option('--idempotency-key <key>', 'the same key and body never make a second job or batch (24 h)')
    .option('--format <format>', 'FILE is json or ndjson (default: from its extension)')
    .option('-w, --wait', 'follow it until it finishes (exit 1 unless it all completed)')
    .option('-d, --download <dir>', 'then save its outputs into DIR (implies --wait)')
    .option('--trace', 'start an OpenTelemetry trace for it and print its trace id')
    .addOption(intervalOption())
    .addOption(timeoutOption())
    .addHelpText(
      'after',
      `
Examples:
  renderq submit --model segmind-vega -i prompt="a lighthouse at dusk" -i seed=42 --wait
  renderq submit --model sd1.5-img2img -i image=@photo.jpg -i prompt="a fantasy landscape" -d out
  renderq submit examples/seeds.ndjson --wait --download ./out`,
    )
    .action((file: string | undefined, flags, command: Command) => run(command, submitCommand(file, flags)));

  program
    .command('status')
    .description('a job or a batch as it is now (exit 0 whatever its status)')
    .argument('<id>', 'job_… or bat_…')
    .action((id: string, _flags, command: Command) => run(command, statusCommand(id)));

  withJobFilters(
    program.command('list').description('jobs, newest first, one page at a time (or every page with --all)'),
    'queued, running, completed, failed, cancelled or expired',
  )
    .option('--limit <n>', 'at most this many jobs (default 100; with --all: per request)', positiveInteger)
    .option('--cursor <cursor>', 'the page after the one that gave this cursor')
    .option('--all', 'follow the cursors to the last page')
    .action((flags, command: Command) => run(command, listCommand(flags)));

  program
    .command('wait')
    .description('follow a job or a batch until it finishes, with a progress bar on a terminal')
    .argument('<id>', 'job_… or bat_…')
    .addOption(intervalOption())
    .addOption(timeoutOption())
    .action((id: string, flags, command: Command) => run(command, waitCommand(id, flags)));

  program
    .command('watch')
    .description(
      'follow a job or a batch from its event stream as it changes, until it finishes (like wait, without polling)',
    )
    .argument('<id>', 'job_… or bat_…')
    .addOption(timeoutOption())
    .action((id: string, flags, command: Command) =>
      run(command, waitCommand(id, { interval: 1_000, ...flags }, 'stream')),
    );

  program
    .command('download')
    .description("save a job's outputs, or every completed job's of a batch, into DIR (each sha256 checked)")
    .argument('<id>', 'job_… or bat_…')
    .argument('<dir>', 'the folder (made when missing); files are JOB-N.ext, or INDEX-JOB-N.ext for a batch')
    .option('-w, --wait', 'wait for it to finish first')
    .addOption(intervalOption())
    .addOption(timeoutOption())
    .action((id: string, dir: string, flags, command: Command) => run(command, downloadCommand(id, dir, flags)));

  withBulkChoice(
    withJobFilters(
      program
        .command('cancel')
        .description('cancel a job, every unfinished job of a batch, or every unfinished job the filters choose')
        .argument('[id]', 'job_… or bat_…; without it, the filters choose the jobs'),
      'queued or running',
    ),
  )
    .option('--all', 'every unfinished job (of yours, or with --tenant of that tenant)')
    .option('--dry-run', 'say how many jobs it would cancel, and cancel none')
    .action((id: string | undefined, flags: BulkCommandFlags & { all?: boolean }, command: Command) => {
      if (id !== undefined) {
        const bulk = [...BULK_FILTER_FLAGS, 'ids', 'tenant', 'all', 'dryRun'] as const;
        if (bulk.some((name) => flags[name] !== undefined))
          command.error('give a job or batch id, or filters, not both');
        return run(command, cancelCommand(id));
      }
      checkBulkChoice(command, flags, 'cancel');
      return run(command, bulkCommand('cancel', bulkFlags(flags)));
    });

  withBulkChoice(
    withJobFilters(
      program
        .command('replay')
        .description(
          'run failed, cancelled or expired jobs again, each at most once, as new jobs linked to them (replay_of); ' +
            'try --dry-run first: it says how many and what they would reserve',
        ),
      'failed, cancelled or expired',
    ).option('--code <code>', 'failed jobs with this error code, e.g. segmind_failed'),
  )
    .option('--all', 'every failed, cancelled or expired job (of yours, or with --tenant of that tenant)')
    .option('--dry-run', 'say how many jobs it would replay and what they would reserve, and replay none')
    .action((flags: BulkCommandFlags & { all?: boolean }, command: Command) => {
      checkBulkChoice(command, flags, 'replay');
      return run(command, bulkCommand('replay', bulkFlags(flags)));
    });

  program
    .command('models')
    .description('the models the API takes, with every parameter, its default and range')
    .argument('[name]', 'only this model')
    .action((name: string | undefined, _flags, command: Command) => run(command, modelsCommand(name)));

  program
    .command('webhooks')
    .description("a job's or batch's webhook events and every delivery attempt")
    .argument('<id>', 'job_… or bat_…')
    .option('--redeliver', 'send its events again (under their own webhook-ids)')
    .action((id: string, flags, command: Command) => run(command, webhooksCommand(id, flags)));

  program
    .command('tenant')
    .description('your backlog quota, enqueue rate and unfinished jobs')
    .action((_flags, command: Command) => run(command, tenantCommand()));

  const admin = program
    .command('admin')
    .description("the operator's commands (an operator key: RENDERQ_ADMIN_KEY, --admin-key, or the API key)")
    .addOption(
      new Option('--admin-key <key>', 'an operator key (RENDERQ_ADMIN_KEYS on the server)').env('RENDERQ_ADMIN_KEY'),
    );
  admin
    .command('status')
    .description('whether renderq takes jobs (and why not), queue depths, the last known Segmind credits')
    .action((_flags, command: Command) => run(command, adminStatusCommand(adminKey(command))));
  admin
    .command('pause')
    .description('stop taking jobs for everyone (queued jobs keep their place)')
    .option('--message <text>', 'why, shown in admin status')
    .action((flags: { message?: string }, command: Command) =>
      run(command, adminPauseCommand(adminKey(command), flags.message)),
    );
  admin
    .command('resume')
    .description('take jobs again')
    .action((_flags, command: Command) => run(command, adminResumeCommand(adminKey(command))));
  admin
    .command('tenants')
    .description("every tenant's backlog quota, enqueue rate and unfinished jobs")
    .action((_flags, command: Command) => run(command, adminTenantsCommand(adminKey(command))));

  return program;
}

function adminKey(command: Command): string | undefined {
  return (command.optsWithGlobals() as { adminKey?: string }).adminKey;
}

function intervalOption(): Option {
  return new Option('--interval <ms>', 'how often to ask while waiting').default(1000).argParser(positiveInteger);
}

function timeoutOption(): Option {
  return new Option('--timeout <seconds>', 'stop waiting after this long (exit 124; the job goes on)').argParser(
    positiveNumber,
  );
}

function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** The flags that narrow a bulk action's jobs; without one (or `--all`), it would act on every job. */
const BULK_FILTER_FLAGS = ['status', 'code', 'model', 'batch', 'createdAfter', 'createdBefore'] as const;

/**
 * Refuses a bulk action's flags that make no sense together, or that would act on every job
 * without `--all` saying so: `--ids` names the jobs, so it takes no filter and no tenant.
 */
function checkBulkChoice(command: Command, flags: BulkCommandFlags & { all?: boolean }, verb: string): void {
  const filtered = BULK_FILTER_FLAGS.some((name) => flags[name] !== undefined);
  if (flags.ids !== undefined && (filtered || flags.tenant !== undefined || flags.all)) {
    command.error('--ids names the jobs: give it without filters, --tenant or --all');
  }
  if (flags.ids === undefined && !filtered && !flags.all) {
    command.error(`give filters (--status, --model, …) or --ids, or --all to ${verb} every job you may`);
  }
}

type BulkCommandFlags = Omit<BulkFlags, 'adminKey'> & { readonly adminKey?: string };

/** The filters `GET /v1/jobs` and the bulk actions share; `statuses` says which statuses make sense. */
function withJobFilters(command: Command, statuses: string): Command {
  return command
    .option('--status <status>', `jobs in this status: ${statuses}`)
    .option('--model <slug>', 'jobs of this model')
    .option('--batch <id>', 'jobs of this batch (bat_…)')
    .option('--created-after <time>', 'ISO 8601, e.g. 2025-01-31T12:00:00Z', isoTime)
    .option('--created-before <time>', 'ISO 8601', isoTime);
}

/** What else chooses the jobs of a bulk action: ids instead of filters, and an operator's tenant. */
function withBulkChoice(command: Command): Command {
  return command
    .option('--ids <ids>', 'these jobs, comma-separated', list)
    .option('--tenant <name>', "operators: this tenant's jobs (with RENDERQ_ADMIN_KEY or --admin-key)")
    .addOption(new Option('--admin-key <key>', 'an operator key, used with --tenant only').env('RENDERQ_ADMIN_KEY'));
}

/** The operator key goes only with --tenant: an operator's shell must not act on every tenant unasked. */
function bulkFlags(flags: BulkCommandFlags & { all?: boolean }): BulkFlags {
  const { adminKey, all: _all, ...rest } = flags;
  return { ...rest, ...(flags.tenant !== undefined && adminKey ? { adminKey } : {}) };
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return number;
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError('must be a number > 0');
  return number;
}

function isoTime(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError('must be an ISO 8601 time, e.g. 2025-01-31T12:00:00Z');
  }
  return value;
}
