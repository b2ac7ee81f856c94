/**
 * `renderq admin status|pause|resume|tenants`, with an operator key (RENDERQ_ADMIN_KEY,
 * else the API key): whether renderq takes jobs and why not, a Segmind outage it waits out, whether storage takes writes, queue depths, the
 * last known Segmind credit balance; stop and start taking jobs for everyone; every tenant's quota and backlog.
 */
import type { AdminStatus, PauseState, SegmindOutage, TenantList } from '@renderq/contract';
import { type ApiTarget, callApi } from '../api-calls.js';
import type { Action, CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { tenantTable } from './tenants.js';

export function adminStatusCommand(adminKey: string | undefined): Action {
  return async (context) => {
    const status = await callApi<AdminStatus>(operator(context, adminKey), 'GET', '/v1/admin/status');
    context.output.result(status, () => {
      const states = [...new Set(Object.values(status.queues).flatMap((counts) => Object.keys(counts)))];
      return [
        pauseLine(context, status.pause),
        ...(status.segmind_outage ? [outageLine(context, status.segmind_outage)] : []),
        status.storage.usable
          ? `storage: ${context.output.paint('green', 'usable')}`
          : `storage: ${context.output.paint('red', 'not usable')} (${status.storage.problem})`,
        status.credits
          ? `Segmind credits: ${status.credits.balance} (seen ${status.credits.observed_at})`
          : 'Segmind credits: not seen yet',
        '',
        ...table(
          ['queue', ...states],
          Object.entries(status.queues).map(([queue, counts]) => [
            queue,
            ...states.map((state) => String(counts[state] ?? 0)),
          ]),
        ),
      ];
    });
    return EXIT.ok;
  };
}

export function adminPauseCommand(adminKey: string | undefined, message: string | undefined): Action {
  return async (context) => {
    const body = message === undefined ? {} : { message };
    const pause = await callApi<PauseState>(operator(context, adminKey), 'POST', '/v1/admin/pause', body);
    context.output.result({ pause }, () => pauseLine(context, pause));
    return EXIT.ok;
  };
}

export function adminResumeCommand(adminKey: string | undefined): Action {
  return async (context) => {
    const pause = await callApi<PauseState>(operator(context, adminKey), 'POST', '/v1/admin/resume');
    context.output.result({ pause }, () => pauseLine(context, pause));
    return EXIT.ok;
  };
}

export function adminTenantsCommand(adminKey: string | undefined): Action {
  return async (context) => {
    const list = await callApi<TenantList>(operator(context, adminKey), 'GET', '/v1/admin/tenants');
    context.output.result(list, () => tenantTable(list.tenants));
    return EXIT.ok;
  };
}

function operator(context: CommandContext, adminKey: string | undefined): ApiTarget {
  return { baseUrl: context.target.baseUrl, apiKey: adminKey ?? context.target.apiKey };
}

function pauseLine(context: CommandContext, pause: PauseState): string {
  if (!pause.paused) return `taking jobs: ${context.output.paint('green', 'yes')}`;
  const why = [pause.reason, pause.message].filter(Boolean).join(': ');
  return `taking jobs: ${context.output.paint('red', 'paused')}${why ? ` (${why})` : ''}${pause.since ? ` since ${pause.since}` : ''}`;
}

function outageLine(context: CommandContext, outage: SegmindOutage): string {
  return (
    `submits: ${context.output.paint('red', 'held')} (Segmind outage since ${outage.since}: ${outage.message}); ` +
    `next probe ${outage.next_probe_at}`
  );
}
