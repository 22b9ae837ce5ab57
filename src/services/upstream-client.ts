/**
 * One target's HTTP client: an undici Pool per base URL (keep-alive; no fetch, which costs several
 * times the CPU per request), round-robin over the base URLs skipping one that failed recently,
 * and every transport failure turned into a typed error. Each call is dispatched to the Pool as an
 * UpstreamExchange (upstream-exchange.ts), not through `Pool.request()`.
 */
import { rootCertificates } from 'node:tls';
import type { Pool as UndiciPool } from 'undici';
// undici's index loads everything it has (fetch, WebSocket, caches, mocks): about 140 ms of cold
// start on the benchmark machine, against about 50 ms for the Pool alone (and the bundle then holds
// only that). The version is pinned; tests/services/upstream-client.test.ts checks this path still
// holds the Pool.
import Pool from 'undici/lib/dispatcher/pool.js';
import type { TargetConfig } from '../config.js';
import {
  isAbortError,
  type ProxyError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../errors.js';
import { redactSecrets } from '../logging-config.js';
import type { Cancellation } from './cancellation.js';
import { DeadlineWatchdog } from './deadline-watchdog.js';
import {
  FIRST_BYTE_TIMEOUT,
  IDLE_TIMEOUT,
  TOTAL_TIMEOUT,
  UpstreamExchange,
  type UpstreamReply,
} from './upstream-exchange.js';

export type { ReplyBody, UpstreamReply } from './upstream-exchange.js';

/** The exchange's own timeouts, by abort reason, as the client's error names them. */
const TIMEOUT_PHASES = new Map<unknown, string>([
  [TOTAL_TIMEOUT, 'total'],
  [FIRST_BYTE_TIMEOUT, 'waiting for the first byte'],
  [IDLE_TIMEOUT, 'idle between chunks'],
]);

/** The watchdog's tick: 250 ms, or a quarter of a shorter timeout, so it fires close to it. */
function tickFor(target: TargetConfig): number {
  const { firstByteMs, idleMs, totalMs } = target.timeouts;
  return Math.max(1, Math.min(250, Math.floor(Math.min(firstByteMs, idleMs, totalMs) / 4)));
}

/** Cap on how much of an upstream error body is read and quoted. */
const MAX_ERROR_BODY = 64 * 1024;

class Endpoint {
  readonly pool: UndiciPool;
  readonly path: string;
  /** Until when the load balancer skips this endpoint (epoch ms). */
  failedUntil = 0;

  constructor(baseUrl: string, target: TargetConfig) {
    const url = new URL(baseUrl);
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    this.pool = new Pool(url.origin, {
      connections: target.pool.connections,
      pipelining: 1,
      keepAliveTimeout: target.pool.keepAliveMs,
      // Node's `ca` replaces the built-in roots; the configured bundle is added to them instead.
      connect: {
        timeout: target.timeouts.connectMs,
        ...(target.ca === null ? {} : { ca: [...rootCertificates, target.ca] }),
      },
      // Off: each exchange keeps its first-byte and idle timeouts on the client's watchdog. With
      // them on, undici made one or two timer objects per request (one per change of delay) and
      // kept each in its timer list for up to a second: under c=64 load they were the largest
      // share of the proxy's promoted garbage (a heap sampling of what major GCs collected).
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }
}

export class UpstreamClient {
  private readonly endpoints: Endpoint[];
  private next = 0;
  private readonly jsonHeaders: Readonly<Record<string, string>>;
  private readonly streamHeaders: Readonly<Record<string, string>>;

  constructor(
    readonly target: TargetConfig,
    private readonly watchdog: DeadlineWatchdog = new DeadlineWatchdog(tickFor(target)),
  ) {
    this.endpoints = target.baseUrls.map((u) => new Endpoint(u, target));
    const headers: Record<string, string> = { ...target.headers, 'content-type': 'application/json' };
    if (target.apiKey !== null) headers.authorization = `Bearer ${target.apiKey}`;
    // Built once: undici only reads them.
    this.jsonHeaders = { ...headers, accept: 'application/json' };
    this.streamHeaders = { ...headers, accept: 'text/event-stream' };
  }

  /**
   * Posts a chat request; resolves once the upstream's headers arrive with a 2xx status.
   * `clientKey` replaces the configured key when the target forwards the client's own.
   */
  async post(
    body: string,
    stream: boolean,
    cancellation: Cancellation,
    clientKey?: string | null,
  ): Promise<UpstreamReply> {
    if (cancellation.aborted) throw this.transportError(cancellation.reason);
    const endpoint = this.pick();
    let headers = stream ? this.streamHeaders : this.jsonHeaders;
    if (this.target.forwardClientKey && clientKey)
      headers = { ...headers, authorization: `Bearer ${clientKey}` };
    // The caller's cancellation (client gone) and the exchange's timeouts end it; the deadlines
    // stay armed until the body has ended (read or not) or failed.
    const exchange: UpstreamExchange = new UpstreamExchange(
      cancellation,
      (err) => this.failure(err, exchange, cancellation, endpoint),
      this.watchdog,
      this.target.timeouts,
    );
    endpoint.pool.dispatch({ method: 'POST', path: endpoint.path, headers, body }, exchange);
    let reply: UpstreamReply;
    try {
      reply = await exchange.started;
    } catch (err) {
      throw exchange.failure(err);
    }
    if (reply.status < 200 || reply.status >= 300) {
      if (reply.status === 429 || reply.status >= 500) this.markFailed(endpoint);
      throw await this.httpError(reply, clientKey);
    }
    return reply;
  }

  /** Maps a failure of `exchange` (before or after its status) to the error the client sees. */
  private failure(
    err: unknown,
    exchange: UpstreamExchange,
    cancellation: Cancellation,
    endpoint: Endpoint,
  ): Error {
    if (!cancellation.aborted) {
      const phase = TIMEOUT_PHASES.get(exchange.reason);
      if (phase !== undefined) return new UpstreamTimeoutError(this.target.name, phase, err);
    }
    const mapped = this.transportError(err);
    // A host that refuses or drops connections is skipped for a while, not waited on again.
    if (
      mapped instanceof UpstreamUnreachableError ||
      (mapped instanceof UpstreamTimeoutError && mapped.phase === 'connect')
    ) {
      this.markFailed(endpoint);
    }
    return mapped;
  }

  /** Reads a non-streaming 2xx reply as JSON. */
  async readJson(reply: UpstreamReply): Promise<unknown> {
    let text: string;
    try {
      text = await reply.body.text();
    } catch (err) {
      throw reply.failure(err);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamProtocolError(
        this.target.name,
        `the body is not JSON (${snippet(this.redact(text))})`,
      );
    }
  }

  /** Round-robin over endpoints that have not failed recently; all failing: the one failing longest. */
  private pick(): Endpoint {
    const n = this.endpoints.length;
    if (n === 1) return this.endpoints[0] as Endpoint;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const e = this.endpoints[(this.next + i) % n] as Endpoint;
      if (e.failedUntil <= now) {
        this.next = (this.next + i + 1) % n;
        return e;
      }
    }
    return this.endpoints.reduce((a, b) => (b.failedUntil < a.failedUntil ? b : a));
  }

  private markFailed(endpoint: Endpoint): void {
    if (this.endpoints.length > 1) endpoint.failedUntil = Date.now() + this.target.failoverCooldownMs;
  }
  /** Maps an undici/socket failure to the error the client sees. Aborts are re-thrown as they are. */
  transportError(err: unknown): Error {
    const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
    if (isAbortError(err)) return err as Error;
    const code = e?.code ?? e?.cause?.code ?? '';
    const name = this.target.name;
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new UpstreamTimeoutError(name, 'connect', err);
      case 'ECONNREFUSED':
        return new UpstreamUnreachableError(name, 'connection refused', err);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new UpstreamUnreachableError(name, 'host name not found', err);
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
      case 'EPIPE':
        return new UpstreamUnreachableError(name, 'connection closed by the upstream', err);
      default:
        if (/CERT|SSL|TLS/i.test(code))
          return new UpstreamUnreachableError(name, `TLS failure (${code})`, err);
        return new UpstreamUnreachableError(name, this.redact(e?.message ?? String(err)), err);
    }
  }

  private async httpError(reply: UpstreamReply, clientKey?: string | null): Promise<ProxyError> {
    let text = '';
    try {
      text = await reply.body.text(MAX_ERROR_BODY);
    } catch {
      // The status alone still tells the client what happened.
    }
    const parsed = parseUpstreamError(this.redact(clientKey ? redactSecrets(text, [clientKey]) : text));
    const headers: Record<string, string> = {};
    const retryAfter = reply.headers['retry-after'];
    if (typeof retryAfter === 'string') headers['retry-after'] = retryAfter;
    return new UpstreamHttpError(reply.status, this.target.name, parsed.message || `HTTP ${reply.status}`, {
      type: parsed.type,
      param: parsed.param,
      code: parsed.code,
      headers,
    });
  }

  redact(text: string): string {
    return redactSecrets(text, this.target.secrets);
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.pool.close()));
  }
}

interface ParsedUpstreamError {
  message: string;
  type: string | null;
  param: string | null;
  code: string | null;
}

/**
 * Upstream error bodies come in many shapes: OpenAI/Ollama `{error:{message,type,param,code}}`,
 * vLLM's integer `code`, older vLLM `{object:"error",message}`, Ollama `{error:"text"}`,
 * FastAPI `{detail}`, or plain text. `code` is always a string or null on our side.
 */
export function parseUpstreamError(text: string): ParsedUpstreamError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { message: snippet(text.trim()), type: null, param: null, code: null };
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const inner = typeof b.error === 'object' && b.error !== null ? (b.error as Record<string, unknown>) : b;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const message =
    str(inner.message) ??
    str(b.error) ??
    (typeof b.detail === 'string' ? b.detail : b.detail !== undefined ? JSON.stringify(b.detail) : null) ??
    snippet(text);
  return {
    message,
    type: str(inner.type),
    param: str(inner.param),
    code: str(inner.code),
  };
}

function snippet(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
