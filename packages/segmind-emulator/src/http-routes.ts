/** Which endpoint a request's path names, and the methods each endpoint answers. */

export type AdminEndpoint = 'admin-stats' | 'admin-config' | 'admin-reset';

export type Route =
  | { readonly name: 'submit' | 'sync'; readonly model: string }
  | { readonly name: 'status' | 'result'; readonly id: string }
  | { readonly name: 'credits' }
  | { readonly name: 'output'; readonly id: string; readonly file: string }
  | { readonly name: AdminEndpoint };

export const ALLOWED_METHODS: Record<Route['name'], readonly string[]> = {
  submit: ['POST'],
  sync: ['POST'],
  status: ['GET'],
  result: ['GET'],
  credits: ['GET'],
  output: ['GET', 'HEAD'],
  'admin-stats': ['GET'],
  'admin-config': ['GET', 'PATCH'],
  'admin-reset': ['POST'],
};

export function route(path: string): Route | undefined {
  let match = /^\/v2\/requests\/([\w-]+)\/status$/.exec(path);
  if (match) return { name: 'status', id: match[1] as string };
  match = /^\/v2\/requests\/([\w-]+)$/.exec(path);
  if (match) return { name: 'result', id: match[1] as string };
  if (path === '/v1/get-user-credits') return { name: 'credits' };
  match = /^\/v2\/([\w.-]+)$/.exec(path);
  if (match) return { name: 'submit', model: match[1] as string };
  match = /^\/v1\/([\w.-]+)$/.exec(path);
  if (match) return { name: 'sync', model: match[1] as string };
  match = /^\/outputs\/([\w-]+)\/(\d+\.\w+)$/.exec(path);
  if (match) return { name: 'output', id: match[1] as string, file: match[2] as string };
  if (path === '/_emulator/stats') return { name: 'admin-stats' };
  if (path === '/_emulator/config') return { name: 'admin-config' };
  if (path === '/_emulator/reset') return { name: 'admin-reset' };
  return undefined;
}
