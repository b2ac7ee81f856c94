/**
 * `renderq replay` and `renderq cancel` with filters: act on many jobs at once. `--dry-run` says
 * how many and what they would reserve; a real run starts an operation on the API and follows it
 * with a progress bar on a terminal. Ctrl-C while following asks the API to abort it: every job
 * is then replayed (or cancelled) once or left untouched.
 */
import {
  type BulkAction,
  type BulkEstimate,
  type BulkFilter,
  type BulkOperation,
  type BulkRequest,
  type JobStatus,
  RenderqClient,
} from '@renderq/client';
import type { Action, CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { progressBar } from '../progress-bar.js';

export interface BulkFlags {
  readonly status?: string;
  readonly code?: string;
  readonly model?: string;
  readonly batch?: string;
  readonly createdAfter?: string;
  readonly createdBefore?: string;
  readonly ids?: readonly string[];
  /** Operators: one tenant's jobs. */
  readonly tenant?: string;
  readonly dryRun?: boolean;
  /** An operator key, for --tenant or every tenant's jobs. */
  readonly adminKey?: string;
}

/** How often a running operation is read. */
const READ_EVERY_MS = 500;

export function bulkCommand(action: BulkAction, flags: BulkFlags): Action {
  return async (context) => {
    const client = flags.adminKey
      ? new RenderqClient({ baseUrl: context.target.baseUrl, apiKey: flags.adminKey })
      : context.client;
    const request = requestOf(flags);
    if (flags.dryRun) {
      const estimate = (await send(client, action, { ...request, dry_run: true })) as BulkEstimate;
      context.output.result(estimate, () => estimateLines(action, estimate));
      return EXIT.ok;
    }
    // Ctrl-C while it is being chosen still gets the operation's id, then aborts it.
    const started = (await context.following(() => send(client, action, request))) as BulkOperation;
    context.output.note(
      `${started.id}: ${action === 'replay' ? 'replaying' : 'cancelling'} ${started.total - started.skipped} jobs` +
        (action === 'replay' ? `, reserving about ${usd(started.estimated_cost)}` : '') +
        ' (Ctrl-C aborts it)',
    );
    const { operation: ended, interrupted } = await followOperation(context, client, started);
    context.output.result(ended, () => operationLines(ended));
    if (ended.status === 'completed') return EXIT.ok;
    return interrupted ? EXIT.interrupted : EXIT.notCompleted;
  };
}

function requestOf(flags: BulkFlags): BulkRequest {
  if (flags.ids && flags.ids.length > 0) return { ids: [...flags.ids] };
  const filter: BulkFilter = {
    // Passed as given: the API answers a value it does not know with a 400 naming the field.
    ...(flags.status !== undefined ? { status: flags.status as JobStatus } : {}),
    ...(flags.code !== undefined ? { error_code: flags.code as BulkFilter['error_code'] } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.batch !== undefined ? { batch_id: flags.batch } : {}),
    ...(flags.createdAfter !== undefined ? { created_after: flags.createdAfter } : {}),
    ...(flags.createdBefore !== undefined ? { created_before: flags.createdBefore } : {}),
    ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
  };
  return { filter };
}

function send(client: RenderqClient, action: BulkAction, request: BulkRequest): Promise<BulkEstimate | BulkOperation> {
  return action === 'replay' ? client.replayJobs(request) : client.cancelJobs(request);
}

/** Reads the operation until it ends; Ctrl-C asks the API to abort it, and waits for that. */
async function followOperation(
  context: CommandContext,
  client: RenderqClient,
  started: BulkOperation,
): Promise<{ operation: BulkOperation; interrupted: boolean }> {
  const bar = context.output.interactive
    ? progressBar(context.output, `${started.action} [{bar}] {value}/{total} jobs | {state}`)
    : undefined;
  bar?.start(started.total, started.processed, { state: started.status });
  let operation = started;
  let abortAsked = false;
  let lastNote = '';
  try {
    await context.following(async () => {
      while (operation.status === 'running' || operation.status === 'aborting') {
        if (context.interrupt.aborted && !abortAsked) {
          abortAsked = true;
          const aborting = `aborting ${operation.id} after its step under way…`;
          if (bar) bar.update(operation.processed, { state: 'aborting after the step under way…' });
          else context.output.note(aborting);
          operation = await client.abortOperation(operation.id).catch(() => client.getOperation(operation.id));
          continue;
        }
        await new Promise((resolve) => setTimeout(resolve, READ_EVERY_MS));
        operation = await client.getOperation(operation.id);
        const state = operation.waiting ? `waiting: ${operation.waiting}` : operation.status;
        if (bar) bar.update(operation.processed, { state: state.slice(0, 80) });
        else if (state !== lastNote || operation.status !== 'running') {
          const line = `${operation.processed}/${operation.total} jobs, ${state}`;
          if (line !== lastNote) context.output.note(line);
          lastNote = line;
        }
      }
    });
  } finally {
    bar?.stop();
  }
  return { operation, interrupted: abortAsked };
}

function estimateLines(action: BulkAction, estimate: BulkEstimate): string[] {
  const { not_found, not_eligible, already_replayed } = estimate.skipped;
  const verb = action === 'replay' ? 'replay' : 'cancel';
  return [
    `would ${verb} ${estimate.count} jobs${action === 'replay' ? `, reserving ${usd(estimate.estimated_cost)}` : ''}`,
    `left alone: ${not_eligible} ${action === 'replay' ? 'not failed, cancelled or expired' : 'already finished'}` +
      (action === 'replay' ? `, ${already_replayed} replayed before` : '') +
      `, ${not_found} not found`,
    'nothing was changed (--dry-run)',
  ];
}

function operationLines(operation: BulkOperation): string[] {
  const verb = operation.action === 'replay' ? 'replayed' : 'cancelled';
  return [
    `${operation.id} ${operation.status}: ${operation.acted} ${verb}, ${operation.skipped} left alone, ` +
      `${operation.total - operation.processed} not reached` +
      (operation.action === 'replay' ? `; reserved ${usd(operation.reserved_cost)}` : ''),
    ...(operation.error ? [`error: ${operation.error}`] : []),
  ];
}

/** A USD amount as people write it: cents, or the digits a price per image needs ($0.012). */
function usd(amount: number): string {
  const digits = amount.toFixed(6).replace(/0+$/, '');
  const [whole = '0', cents = ''] = digits.split('.');
  return `$${whole}.${cents.padEnd(2, '0')}`;
}
