/** `renderq webhooks ID [--redeliver]`: a job's or batch's webhook events and every delivery attempt; or send them again. */
import type { Action } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { webhookLines } from '../format.js';
import { kindOfId } from '../ids.js';

export function webhooksCommand(id: string, flags: { readonly redeliver?: boolean }): Action {
  return async (context) => {
    const kind = kindOfId(id);
    const events = flags.redeliver
      ? await context.client.redeliverWebhooks(kind, id)
      : await context.client.webhookDeliveries(kind, id);
    context.output.result({ events }, () => webhookLines(context.output, events));
    if (flags.redeliver)
      context.output.note(`sent again: ${events.length} event(s); renderq webhooks ${id} shows how it went`);
    return EXIT.ok;
  };
}
