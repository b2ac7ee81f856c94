/**
 * Who is calling: `Authorization: Bearer <key>` matched against RENDERQ_API_KEYS in
 * constant time. Without configured keys (development only) every caller is the
 * tenant "default".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Tenant } from '@renderq/shared';

const OPEN_TENANT = 'default';

export class TenantKeys {
  readonly #keys: readonly { tenant: string; digest: Buffer }[] | undefined;

  constructor(tenants: readonly Tenant[] | undefined) {
    this.#keys = tenants?.map(({ tenant, key }) => ({ tenant, digest: digest(key) }));
  }

  /** The tenant whose key this Authorization header carries, or undefined. */
  tenantFor(authorization: string | undefined): string | undefined {
    if (!this.#keys) return OPEN_TENANT;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    // Equal-length digests, compared in constant time, every key checked: no timing tells which is close.
    const given = digest(match[1] as string);
    let found: string | undefined;
    for (const { tenant, digest: expected } of this.#keys) {
      if (timingSafeEqual(given, expected)) found = tenant;
    }
    return found;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
