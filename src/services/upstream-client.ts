/**
 * One target's HTTP client: an undici Pool (keep-alive, no fetch: fetch costs several times the
 * CPU per request) that posts chat requests and turns every transport failure into a typed error.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import type { TargetConfig } from '../config.js';
import {
  type ProxyError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../errors.js';
import { redactSecrets } from '../logging-config.js';

export interface UpstreamTimeouts {
  connectMs: number;
  /** Until the response headers arrive (a non-streaming reply may think for minutes). */
  firstByteMs: number;
  /** Between two body chunks. */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = {
  connectMs: 5_000,
  firstByteMs: 600_000,
  idleMs: 300_000,
};

export interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Buffer> & {
    text(): Promise<string>;
    json(): Promise<unknown>;
    destroy(err?: Error): unknown;
  };
}

/** Cap on how much of an upstream error body is read and quoted. */
const MAX_ERROR_BODY = 64 * 1024;

export class UpstreamClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];

  constructor(
    readonly target: TargetConfig,
    timeouts: UpstreamTimeouts = DEFAULT_TIMEOUTS,
  ) {
    const url = new URL(target.baseUrl);
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    this.pool = new Pool(url.origin, {
      connections: 128,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: timeouts.connectMs },
      headersTimeout: timeouts.firstByteMs,
      bodyTimeout: timeouts.idleMs,
    });
    this.headers = { ...target.headers, 'content-type': 'application/json' };
    if (target.apiKey !== null) this.headers.authorization = `Bearer ${target.apiKey}`;
    this.secrets = target.apiKey === null ? [] : [target.apiKey];
  }

  /** Posts a chat request; resolves once the upstream's headers arrive with a 2xx status. */
  async post(body: string, stream: boolean, signal: AbortSignal): Promise<UpstreamReply> {
    let reply: UpstreamReply;
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: { ...this.headers, accept: stream ? 'text/event-stream' : 'application/json' },
        body,
        signal,
      });
      // undici reports the status as `statusCode`; without this mapping every status read as 2xx.
      reply = {
        status: res.statusCode,
        headers: res.headers as IncomingHttpHeaders,
        body: res.body as unknown as UpstreamReply['body'],
      };
    } catch (err) {
      throw this.transportError(err);
    }
    if (reply.status < 200 || reply.status >= 300) throw await this.httpError(reply);
    return reply;
  }

  /** Reads a non-streaming 2xx reply as JSON. */
  async readJson(reply: UpstreamReply): Promise<unknown> {
    let text: string;
    try {
      text = await reply.body.text();
    } catch (err) {
      throw this.transportError(err);
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

  /** Maps an undici/socket failure to the error the client sees. Aborts are re-thrown as they are. */
  transportError(err: unknown): Error {
    const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
    if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') return err as Error;
    const code = e?.code ?? e?.cause?.code ?? '';
    const name = this.target.name;
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new UpstreamTimeoutError(name, 'connect', err);
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new UpstreamTimeoutError(name, 'waiting for the first byte', err);
      case 'UND_ERR_BODY_TIMEOUT':
        return new UpstreamTimeoutError(name, 'idle between chunks', err);
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

  private async httpError(reply: UpstreamReply): Promise<ProxyError> {
    let text = '';
    try {
      text = await readCapped(reply.body, MAX_ERROR_BODY);
    } catch {
      // The status alone still tells the client what happened.
    }
    const parsed = parseUpstreamError(this.redact(text));
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
    return redactSecrets(text, this.secrets);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, cap: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= cap) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, cap).toString('utf8');
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
