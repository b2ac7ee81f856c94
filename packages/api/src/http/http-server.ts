/**
 * The HTTP server the API listens with, built so that idle and trickling connections
 * cannot pile up: the whole request must arrive within HTTP_REQUEST_TIMEOUT_MS and
 * its headers within HTTP_HEADERS_TIMEOUT_MS (both answered 408), an idle keep-alive
 * connection closes after HTTP_KEEP_ALIVE_TIMEOUT_MS, a connection with no traffic
 * either way after HTTP_IDLE_TIMEOUT_MS, and one beyond HTTP_MAX_CONNECTIONS is
 * answered 503 and closed. Every answer the server gives on the socket itself is
 * problem+json, and the socket is then closed for good — not half-closed, which a
 * client that keeps sending could hold open forever.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientErrorAnswer } from './problem-handler.js';

export interface HttpLimits {
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  /** Connections one client address may hold at once (0: no such limit, e.g. behind a proxy that limits). */
  readonly maxConnectionsPerIp: number;
}

/** Connections beyond the cap that may be in the middle of being refused; past that Node drops them unanswered. */
const REFUSING_AT_ONCE = 1_024;
/** How long a closing connection's last bytes from the client are read and dropped (see `lingerAndClose`). */
const LINGER_MS = 2_000;
/** Connections that have given their last answer: no request on them is served any more. */
const closing = new WeakSet<Socket>();

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** Why a connection was answered and closed by the server itself. */
export type ConnectionRefusal =
  | 'max_connections'
  | 'max_connections_per_ip'
  | 'headers_timeout'
  | 'request_timeout'
  | 'idle_timeout';

export interface LimitedHttpServer {
  /** For fastify's `serverFactory`. */
  readonly serverFactory: (handler: RequestHandler) => http.Server;
  /** For fastify's `clientErrorHandler`: what the HTTP parser refuses, and the request and headers timeouts. */
  readonly onClientError: (error: Error, socket: Socket) => void;
}

export function limitedHttpServer(
  limits: HttpLimits,
  onRefused: (reason: ConnectionRefusal) => void = () => undefined,
): LimitedHttpServer {
  // The request a socket is serving, while it is: a timeout answers 408 only before its response has begun.
  const serving = new WeakMap<Socket, { request: IncomingMessage; response: ServerResponse }>();

  const serverFactory = (handler: RequestHandler): http.Server => {
    const server = http.createServer(
      {
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        // Node looks for late requests on this interval; its 30 s default would let a 10 s timeout run to 40.
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
      },
      (request, response) => {
        const socket = request.socket;
        // A connection whose last answer said `connection: close` serves nothing more, pipelined or not.
        if (closing.has(socket)) {
          request.resume();
          return;
        }
        serving.set(socket, { request, response });
        response.once('close', () => {
          if (serving.get(socket)?.response === response) serving.delete(socket);
        });
        // Answered before its body ended (a 413 at the first over-long line, a 503, a 401): the answer says
        // `connection: close`, and Node closes the socket once it is written. Closing with the client's bytes
        // still unread makes the kernel reset the connection, and the reset can overtake the answer: the
        // client would see ECONNRESET instead of what was wrong. So that close lingers (the request's
        // handling is over: what still arrives of its body is dropped).
        response.once('prefinish', () => {
          if (request.complete) return;
          (socket as Socket & { destroySoon: () => void }).destroySoon = () => {
            request.resume();
            lingerAndClose(socket);
          };
        });
        handler(request, response);
      },
    );
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.setTimeout(limits.idleTimeoutMs);
    // With a listener here Node leaves idle sockets to us (keep-alive expiry included).
    server.on('timeout', (socket: Socket) => {
      const current = serving.get(socket);
      if (current && !current.response.headersSent) {
        // A complete request whose answer is still being worked out: the silence is ours, not the client's.
        if (current.request.complete) return;
        onRefused('idle_timeout');
        answerAndClose(
          socket,
          clientErrorAnswer(
            408,
            `no part of the request arrived for ${limits.idleTimeoutMs} ms; the connection is closed`,
          ),
        );
        return;
      }
      socket.destroy();
    });
    admitUpTo(server, limits, onRefused);
    return server;
  };

  const onClientError = (error: Error, socket: Socket): void => {
    const current = serving.get(socket);
    // An answer already under way cannot be followed by another on the same connection.
    if (current?.response.headersSent) {
      socket.destroy();
      return;
    }
    // A request pipelined behind one that arrived whole and is still being handled could not be read: the
    // request in hand keeps its answer (a batch it recorded must not be answered 400), then the connection
    // closes; the unreadable one is never served.
    if (current?.request.complete) {
      closing.add(socket);
      current.response.setHeader('connection', 'close');
      current.response.once('close', () => socket.destroy());
      return;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      onRefused(current ? 'request_timeout' : 'headers_timeout');
      const detail = current
        ? `the request body did not arrive within ${limits.requestTimeoutMs} ms (HTTP_REQUEST_TIMEOUT_MS); send it faster or split it`
        : `the request headers did not arrive within ${limits.headersTimeoutMs} ms (HTTP_HEADERS_TIMEOUT_MS)`;
      answerAndClose(socket, clientErrorAnswer(408, detail));
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    answerAndClose(socket, clientErrorAnswer(status, `the request could not be read: ${code ?? error.message}`));
  };

  return { serverFactory, onClientError };
}

/**
 * Serves at most `maxConnections` connections at once, and at most `maxConnectionsPerIp` from one client
 * address (so that one client, with or without a key, cannot hold them all); one more is answered 503 with
 * Retry-After and closed. (Node's own `maxConnections` would drop it without a word; it stays as the
 * backstop for a flood of refusals.)
 */
function admitUpTo(server: http.Server, limits: HttpLimits, onRefused: (reason: ConnectionRefusal) => void): void {
  const [serve, ...others] = server.listeners('connection') as ((socket: Socket) => void)[];
  if (!serve || others.length > 0) throw new Error('expected exactly one connection listener (the HTTP server)');
  server.removeAllListeners('connection');
  const { maxConnections: max, maxConnectionsPerIp: perIp } = limits;
  let open = 0;
  const openFrom = new Map<string, number>();
  const refuse = (socket: Socket, reason: ConnectionRefusal, detail: string) => {
    onRefused(reason);
    // No HTTP parser is attached to this socket: what the client sends is only ever dropped.
    socket.on('error', () => undefined);
    socket.end(clientErrorAnswer(503, detail, 1));
    lingerAndClose(socket);
  };
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const fromHere = openFrom.get(address) ?? 0;
    if (open >= max) {
      refuse(socket, 'max_connections', `this API process already holds ${max} connections (HTTP_MAX_CONNECTIONS)`);
      return;
    }
    if (perIp > 0 && fromHere >= perIp) {
      refuse(
        socket,
        'max_connections_per_ip',
        `this API process already holds ${perIp} connections from your address (HTTP_MAX_CONNECTIONS_PER_IP)`,
      );
      return;
    }
    open++;
    openFrom.set(address, fromHere + 1);
    socket.once('close', () => {
      open--;
      const left = (openFrom.get(address) ?? 1) - 1;
      if (left > 0) openFrom.set(address, left);
      else openFrom.delete(address);
    });
    serve.call(server, socket);
  });
  server.maxConnections = max + REFUSING_AT_ONCE;
}

/**
 * Writes a last answer while a request may still be arriving (a timeout, a request the parser refused), and
 * closes the connection at once, as Node itself would: reading on could let the request complete and be
 * served after it was refused. Closed both ways, never half: a client that keeps sending cannot hold it.
 */
function answerAndClose(socket: Socket, answer: string): void {
  if (socket.destroyed || closing.has(socket)) return;
  closing.add(socket);
  // A peer resetting while we close is expected; without a listener its error would be thrown.
  socket.on('error', () => undefined);
  if (socket.writable) socket.write(answer);
  socket.destroy();
}

/**
 * Closes a connection whose last answer is written: our side at once, the client's once it has read the
 * answer and closes too, or after LINGER_MS. Until then what it still sends is read and dropped, never kept:
 * a socket closed with unread bytes is reset, and the reset may reach the client before the answer.
 */
function lingerAndClose(socket: Socket): void {
  if (socket.destroyed || closing.has(socket)) return;
  closing.add(socket);
  socket.on('error', () => undefined);
  if (socket.writable) socket.end();
  socket.resume();
  const cut = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(cut));
}
