/**
 * The tenants waiting for their fair share, as the API shows them (`GET /v1/tenant`, the admin
 * tenants list, the fair-share gauges): read from Redis at most once a second per process, however
 * many callers ask, since one reading costs a command per waiting tenant.
 */
import type { FairTenant, JobStore, WeightOf } from '@renderq/shared';

const REUSE_MS = 1_000;

/** A waiting tenant with its weight. */
interface WaitingTenant extends FairTenant {
  readonly weight: number;
}

export interface FairShareNow {
  /** Tenants with jobs waiting, next served first. */
  readonly tenants: readonly WaitingTenant[];
  /** Each waiting tenant's jobs waiting, by name. */
  readonly waiting: ReadonlyMap<string, number>;
  /** The weights of every tenant with jobs waiting, summed: what a share is a part of. */
  readonly totalWeight: number;
}

export function fairShareReading(store: JobStore, weightOf: WeightOf): () => Promise<FairShareNow> {
  let last: { at: number; reading: Promise<FairShareNow> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > REUSE_MS) {
      const reading = read(store, weightOf);
      // A failed reading is not reused: the next caller asks again.
      reading.catch(() => {
        if (last?.reading === reading) last = undefined;
      });
      last = { at: Date.now(), reading };
    }
    return last.reading;
  };
}

async function read(store: JobStore, weightOf: WeightOf): Promise<FairShareNow> {
  // A tenant whose jobs were all cancelled while waiting stays listed until a release reaches it.
  const tenants = (await store.fairTenants(10_000))
    .filter((t) => t.waiting > 0)
    .map((t) => ({ ...t, weight: weightOf(t.tenant) }));
  return {
    tenants,
    waiting: new Map(tenants.map((t) => [t.tenant, t.waiting])),
    totalWeight: tenants.reduce((sum, t) => sum + t.weight, 0),
  };
}
