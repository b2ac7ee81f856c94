/**
 * Who may call which route. Every route declares its access in its options
 * (`config: { access }`); one hook enforces it from the route that matched —
 * never from how the path was spelled — before any body is read or handler runs.
 *
 * - `public`: anyone (health, readiness, metrics, the API description).
 * - `tenant`: a tenant's key (RENDERQ_API_KEYS); the tenant is then `request.tenant`.
 * - `tenant_or_link`: a tenant's key, or no key and a signed output link (the handler checks the link).
 * - `operator`: an operator's key (RENDERQ_ADMIN_KEYS): admin routes and the queue dashboard.
 * - `tenant_or_operator`: a tenant's key (acting on its own jobs; `request.tenant` set) or an
 *   operator's (acting on anyone's; `request.tenant` empty): bulk actions and their operations.
 *
 * A missing or unknown key is a 401; a valid key of the wrong kind is a 403. HTTP Basic (the key
 * as password) is taken only where a route says so (the dashboard, for browsers): a browser
 * replays cached Basic credentials to any path of the origin, so elsewhere — above all the
 * admin routes that pause and resume — it would let another page act with them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Tenant } from '@renderq/shared';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { sendProblem } from './problem-handler.js';
import { Problem } from './problems.js';

const ACCESS_LEVELS = ['public', 'tenant', 'tenant_or_link', 'operator', 'tenant_or_operator'] as const;
export type Access = (typeof ACCESS_LEVELS)[number];

/** Who a request's key says it is. */
export type Principal =
  | { readonly kind: 'tenant'; readonly tenant: string }
  | { readonly kind: 'operator' }
  | { readonly kind: 'anonymous' }
  /** A key was sent that matches nobody. */
  | { readonly kind: 'unknown' };

/** The tenant every caller is when RENDERQ_API_KEYS is unset (development only). */
export const OPEN_TENANT = 'default';

/**
 * The configured keys, kept as SHA-256 digests and compared in constant time against
 * every one of them, so the time taken says nothing about which key is close.
 */
export class Keyring {
  readonly #keys: readonly { digest: Buffer; principal: Principal }[];
  /** No tenant keys: every caller without a key is the open tenant. */
  readonly open: boolean;
  /** No operator keys: with `open`, everyone is an operator; otherwise nobody is. */
  readonly operatorsConfigured: boolean;

  constructor(tenants: readonly Tenant[] | undefined, operatorKeys: readonly string[]) {
    this.open = tenants === undefined;
    this.operatorsConfigured = operatorKeys.length > 0;
    this.#keys = [
      ...(tenants ?? []).map(({ tenant, key }) => ({
        digest: digest(key),
        principal: { kind: 'tenant', tenant } as const,
      })),
      ...operatorKeys.map((key) => ({ digest: digest(key), principal: { kind: 'operator' } as const })),
    ];
  }

  /**
   * The principal an Authorization header names: `Bearer KEY`, or, where `acceptBasic`,
   * `Basic` with the key as password (browsers).
   */
  principalFor(authorization: string | undefined, { acceptBasic = false } = {}): Principal {
    const key = keyOf(authorization, acceptBasic);
    if (key === undefined) {
      if (authorization !== undefined && authorization.trim() !== '') return { kind: 'unknown' };
      return this.open ? { kind: 'tenant', tenant: OPEN_TENANT } : { kind: 'anonymous' };
    }
    const given = digest(key);
    let found: Principal | undefined;
    for (const { digest: expected, principal } of this.#keys) {
      if (timingSafeEqual(given, expected)) found = principal;
    }
    if (found) return found;
    // Development without keys: an unknown key is still the open tenant, as no key is.
    return this.open ? { kind: 'tenant', tenant: OPEN_TENANT } : { kind: 'unknown' };
  }

  /** Whether `principal` may use operator routes: an operator key, or anyone while nothing is configured. */
  isOperator(principal: Principal): boolean {
    if (principal.kind === 'operator') return true;
    return this.open && !this.operatorsConfigured && principal.kind === 'tenant';
  }
}

function keyOf(authorization: string | undefined, acceptBasic: boolean): string | undefined {
  if (!authorization) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1];
  if (!acceptBasic) return undefined;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon >= 0 ? decoded.slice(colon + 1) : '';
  return password === '' ? undefined : password;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Installs access control on `app`: every route must declare `config.access` (the
 * app refuses to start otherwise), and one `onRequest` hook decides from the matched
 * route's declaration. Plugins whose routes we do not write (the dashboard, the docs
 * UI) are registered in a scope made by `declareAccess`, which declares it for them.
 */
export function installAccessControl(app: FastifyInstance, keyring: Keyring): void {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  app.addHook('onReady', async () => {
    const undeclared = routes.filter((route) => !isAccess(route.config?.access));
    if (undeclared.length > 0) {
      const names = undeclared.map((route) => `${String(route.method)} ${route.url}`).join(', ');
      throw new Error(`every route must declare its access (config.access); these do not: ${names}`);
    }
  });
  app.decorate('routeAccess', () =>
    routes.map((route) => ({ method: route.method, url: route.url, access: route.config?.access as Access })),
  );

  app.decorateRequest('tenant', '');
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    const acceptBasic = request.routeOptions.config?.basicAuth === true;
    const principal = keyring.principalFor(request.headers.authorization, { acceptBasic });
    request.principal = principal;
    // No route matched: the not-found handler answers, and no handler runs.
    if (request.is404) return;
    const refusal = refuse(request, principal, keyring);
    if (!refusal) return;
    if (refusal.status === 401 && acceptBasic) {
      // Browsers asking for the dashboard get the Basic prompt (the key as password).
      reply.header('www-authenticate', 'Basic realm="renderq operators", charset="UTF-8"');
    }
    // Answered here rather than thrown: plugins such as the dashboard have error handlers of their own.
    return sendProblem(reply, refusal);
  });
}

/** Why `principal` may not call the matched route, or undefined when it may. */
function refuse(request: FastifyRequest, principal: Principal, keyring: Keyring): Problem | undefined {
  const access = request.routeOptions.config.access;
  switch (access) {
    case 'public':
      return undefined;
    case 'tenant':
    case 'tenant_or_link':
      if (principal.kind === 'tenant') {
        request.tenant = principal.tenant;
        return undefined;
      }
      if (access === 'tenant_or_link' && principal.kind === 'anonymous' && hasSignature(request)) return undefined;
      if (principal.kind === 'operator') {
        return new Problem('forbidden', 'an operator key runs the queue and owns no jobs: use a tenant key');
      }
      return new Problem('unauthorized', 'send Authorization: Bearer <API key>');
    case 'tenant_or_operator':
      if (principal.kind === 'tenant') {
        request.tenant = principal.tenant;
        return undefined;
      }
      if (principal.kind === 'operator') return undefined;
      return new Problem('unauthorized', 'send Authorization: Bearer <API key or operator key>');
    case 'operator':
      if (keyring.isOperator(principal)) return undefined;
      if (principal.kind === 'tenant') {
        return new Problem(
          'forbidden',
          keyring.operatorsConfigured
            ? 'this route needs an operator key (RENDERQ_ADMIN_KEYS); a tenant key is not one'
            : 'operator routes are closed: no operator key is configured (RENDERQ_ADMIN_KEYS)',
        );
      }
      return new Problem('unauthorized', 'send Authorization: Bearer <operator key>');
    default:
      // A route without a valid declaration cannot start (onReady); refuse rather than guess.
      return new Problem('forbidden', 'this route declares no access');
  }
}

/**
 * Declares `access` for every route registered in `scope` (for plugins whose route options we
 * do not write); `basicAuth` lets browsers send the key as a Basic password there.
 */
export function declareAccess(scope: FastifyInstance, access: Access, { basicAuth = false } = {}): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), access, ...(basicAuth ? { basicAuth } : {}) };
  });
}

function isAccess(value: unknown): value is Access {
  return typeof value === 'string' && (ACCESS_LEVELS as readonly string[]).includes(value);
}

function hasSignature(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.signature === 'string';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route with the access it declares (for tests and the docs). */
    routeAccess(): { method: RouteOptions['method']; url: string; access: Access }[];
  }
  interface FastifyRequest {
    /** The caller's tenant on tenant routes; '' elsewhere. */
    tenant: string;
    /** Who the request's key says it is (set before any route's handler runs). */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Who may call this route; every route declares it. */
    access?: Access;
    /** Whether the key may come as an HTTP Basic password (browsers; the dashboard only). */
    basicAuth?: boolean;
  }
}
