/**
 * `POST /v1/responses` (and `POST /response`, the original task list's name for it): JSON or,
 * with `stream: true`, Server-Sent Events.
 *
 * This route is served straight from node:http, in front of Fastify (server.ts), which serves every
 * other route. It is the route every client call goes through, and the benchmark measured Fastify's
 * request lifecycle (routing, hooks, a child logger, reply serialisation) at about 50 µs of CPU per
 * request, a tenth of the proxy's whole cost. What Fastify did for it is done here, in the same
 * order: request id, API key, body (media type, limit, Content-Encoding, JSON), then the handler;
 * errors go through the same mapping (errors.ts, http/error-reply.ts) as every other route's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerClosingError, toErrorBody, toProxyError } from '../errors.js';
import type { ApiKeyCheck } from '../http/auth.js';
import { bearerToken } from '../http/auth.js';
import { readJsonBody } from '../http/body-reader.js';
import { reportError } from '../http/error-reply.js';
import { requestIdOf } from '../http/request-id.js';
import { type LoggedRequest, logRequest, newProxyLog } from '../http/request-log.js';
import { validateRequestBody } from '../http/request-validator.js';
import type { Logger } from '../logging-config.js';
import type { Metrics } from '../metrics.js';
import { Cancellation } from '../services/cancellation.js';
import type { LlmProxy, PreparedCall } from '../services/llm-proxy.js';
import { type RelayOutcome, relayStream } from '../stream/sse-relay.js';
import { StreamTranslator } from '../stream/stream-translator.js';
import type { ResponsesRequest } from '../types.js';
import { unknownFields } from '../utils/request-formatter.js';
import { responseJson } from '../utils/response-json.js';

export interface ResponsesRouteDeps {
  proxy: LlmProxy;
  metrics: Metrics;
  logger: Logger;
  auth: ApiKeyCheck;
  bodyLimit: number;
  streamKeepAliveMs: number;
}

const PATHS = new Set(['/v1/responses', '/response']);

/** One request on this route: its id, its log line, and a logger bound to its id made on first use. */
class Exchange implements LoggedRequest {
  readonly proxyLog = newProxyLog();
  readonly method = 'POST';
  /** Streams write their own log line when the relay ends, not when the client goes. */
  streaming = false;
  private bound: Logger | null = null;

  constructor(
    readonly log: Logger,
    readonly id: string,
    readonly route: string,
  ) {}

  /** The request line is written by the root logger with `reqId`: no child logger per request. */
  get reqId(): string {
    return this.id;
  }

  private get child(): Logger {
    this.bound ??= this.log.child({ reqId: this.id });
    return this.bound;
  }

  debug(msg: string): void;
  debug(obj: object, msg: string): void;
  debug(a: object | string, msg?: string): void {
    if (this.log.isLevelEnabled('debug')) this.child.debug(a, msg);
  }

  warn(obj: object, msg: string): void {
    this.child.warn(obj, msg);
  }

  error(obj: object, msg: string): void {
    this.child.error(obj, msg);
  }
}

export class ResponsesRoute {
  /** Set once the server is shutting down: new requests get a 503, as Fastify's routes do. */
  closing = false;
  private active = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: ResponsesRouteDeps) {}

  /** The route pattern when this route serves the request, else null (Fastify serves it). */
  static match(req: IncomingMessage): string | null {
    if (req.method !== 'POST') return null;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    return PATHS.has(path) ? path : null;
  }

  handle(req: IncomingMessage, res: ServerResponse, route: string): void {
    const { metrics } = this.deps;
    const exchange = new Exchange(this.deps.logger, requestIdOf(req.headers), route);
    metrics.inFlight.inc();
    const cancellation = new Cancellation();
    // One listener for both jobs: a client gone before its reply ends stops the upstream call, and
    // a JSON reply that never ended is logged as nginx's 499 (a stream logs its own outcome).
    // `on`, not `once`: a response closes once, and `once` wraps and later unhooks the listener.
    res.on('close', () => {
      if (res.writableFinished) return;
      cancellation.abort();
      if (!exchange.streaming) logRequest(exchange, 499, metrics);
    });
    this.active++;
    this.serve(req, res, exchange, cancellation).then(
      () => this.ended(),
      (err: unknown) => {
        this.fail(res, exchange, err, cancellation);
        this.ended();
      },
    );
  }

  /**
   * Resolves once no exchange is in progress: shutdown waits for it, so each request's log line
   * (a cut stream's included) is written before "stopped".
   */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private ended(): void {
    this.active--;
    if (this.active > 0 || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
    cancellation: Cancellation,
  ): Promise<void> {
    const { proxy, auth } = this.deps;
    if (this.closing) throw new ServerClosingError();
    if (auth.enabled) auth.verify(req.headers);
    const body = await readJsonBody(req, this.deps.bodyLimit);
    validateRequestBody(body);
    const request = body as ResponsesRequest;
    if (exchange.log.isLevelEnabled('debug')) {
      const ignored = unknownFields(request);
      if (ignored.length > 0) exchange.debug({ ignored }, 'ignored request fields not in the spec');
    }
    const stream = request.stream === true;
    exchange.proxyLog.model = request.model ?? null;
    exchange.proxyLog.stream = stream;

    const call = await proxy.prepare(request, stream, bearerToken(req.headers), exchange);
    exchange.proxyLog.call = call.info;
    if (stream) return this.stream(res, exchange, call, cancellation);

    const response = await proxy.respond(call, cancellation);
    exchange.proxyLog.usage = response.usage;
    // Stored before the reply: a client that continues at once always finds it.
    const saving = proxy.save(call, response);
    if (saving !== undefined) await saving;
    sendJson(res, 200, exchange.id, responseJson(response));
    logRequest(exchange, 200, this.deps.metrics);
  }

  /**
   * Connects to the upstream BEFORE answering: an upstream error still gets a real HTTP status and
   * a JSON envelope. Only after a 2xx does the reply become an event stream.
   */
  private async stream(
    res: ServerResponse,
    exchange: Exchange,
    call: PreparedCall,
    cancellation: Cancellation,
  ): Promise<void> {
    const { proxy } = this.deps;
    const upstream = await proxy.send(call, cancellation);
    exchange.streaming = true;
    const translator = new StreamTranslator(call.ctx, {
      logprobs: call.logprobs,
      tools: call.tools,
      sealReasoning: call.sealReasoning,
    });
    const log = exchange.proxyLog;
    const record = (outcome: RelayOutcome) => {
      log.usage = translator.final?.usage ?? null;
      log.outcome = outcome;
    };
    const outcome = await relayStream(res, upstream, translator, call.client, cancellation, {
      keepAliveMs: this.deps.streamKeepAliveMs,
      headers: { 'x-request-id': exchange.id },
      onEnd: record,
      onFirstOutput: () => {
        log.firstTokenMs = performance.now() - log.startedAt;
      },
      // Only a response that is stored holds back its terminal event (and costs a write of its own).
      beforeFinal: proxy.stores(call)
        ? async (final) => {
            try {
              await proxy.save(call, final);
              return null;
            } catch (err) {
              const error = toProxyError(err, exchange.id);
              log.error = error;
              exchange.warn({ err: error.message }, 'could not store the streamed response');
              return { type: error.type, code: error.code ?? 'store_unavailable', message: error.message };
            }
          }
        : undefined,
    });
    record(outcome);
    logRequest(exchange, outcome === 'client_closed' ? 499 : 200, this.deps.metrics);
  }

  private fail(res: ServerResponse, exchange: Exchange, err: unknown, cancellation: Cancellation): void {
    const request = { id: exchange.id, log: exchange, proxyLog: exchange.proxyLog };
    const error = reportError(err, request, cancellation.aborted || res.destroyed);
    if (error === null) return;
    if (res.headersSent) {
      // A stream already under way reports its own failures as events; this is a bug, so cut it.
      res.destroy();
      return;
    }
    const headers = this.closing ? { ...error.headers, connection: 'close' } : error.headers;
    sendJson(res, error.status, exchange.id, JSON.stringify(toErrorBody(error)), headers);
    logRequest(exchange, error.status, this.deps.metrics);
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  requestId: string,
  json: string,
  extra?: Record<string, string>,
): void {
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    'x-request-id': requestId,
  };
  res.writeHead(status, extra === undefined ? headers : { ...extra, ...headers });
  res.end(json);
}
