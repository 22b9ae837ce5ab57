/**
 * Builds the Fastify app: routes, the one error handler that writes every error envelope, request
 * ids, and one log line per request. Nothing here listens; `main.ts` does.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Config } from './config.js';
import {
  InvalidRequestError,
  type ProxyError,
  RouteNotFoundError,
  toErrorBody,
  toProxyError,
} from './errors.js';
import { describeValidationError } from './http/request-schema.js';
import type { Logger } from './logging-config.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerResponsesRoutes } from './routes/responses.js';
import type { CallInfo } from './services/llm-proxy.js';
import { LlmProxy } from './services/llm-proxy.js';
import type { RelayOutcome } from './stream/sse-relay.js';
import type { ResponseUsage } from './types.js';
import { newId } from './utils/ids.js';

/** What the per-request log line reports, filled in as the request proceeds. */
export interface ProxyLog {
  model: string | null;
  stream: boolean;
  call: CallInfo | null;
  usage: ResponseUsage | null;
  error: ProxyError | null;
  startedAt: number;
  /** How a stream ended (streams only). */
  outcome?: RelayOutcome;
}

declare module 'fastify' {
  interface FastifyRequest {
    proxyLog: ProxyLog;
  }
}

export interface ServerDeps {
  config: Config;
  logger: Logger;
}

export interface Server {
  app: FastifyInstance;
  proxy: LlmProxy;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function buildServer({ config, logger }: ServerDeps): Server {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId('req');
    },
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true },
    },
    return503OnClosing: true,
  });
  const proxy = new LlmProxy(config, logger);

  app.decorateRequest('proxyLog', null as unknown as ProxyLog);
  app.addHook('onRequest', async (request, reply) => {
    request.proxyLog = {
      model: null,
      stream: false,
      call: null,
      usage: null,
      error: null,
      startedAt: performance.now(),
    };
    reply.header('x-request-id', request.id);
    // A client gone before a JSON reply ends never reaches onResponse: log it here, as nginx's 499.
    // (A hijacked stream reply writes its own line.)
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished && !reply.sent) logRequest(request, 499, reply.elapsedTime);
    });
  });

  app.setSchemaErrorFormatter((errors) => {
    const { param, message } = describeValidationError(errors);
    return new InvalidRequestError(message, param || null, validationCode(errors));
  });

  app.setErrorHandler((err, request, reply) => {
    if (isAbort(err) && reply.raw.destroyed) {
      // The client went away and the route aborted the upstream call: not a failure, nothing to send.
      request.log.debug('client closed the connection before the reply');
      return;
    }
    const error = toProxyError(err, request.id);
    request.proxyLog.error = error;
    // A proxy bug gets its stack in the log (never in the reply); upstream trouble gets its cause.
    if (error.status === 500) request.log.error({ err }, 'request failed');
    else if (error.status >= 500) request.log.warn({ cause: describeCause(err) }, error.message);
    if (reply.sent || reply.raw.headersSent) return;
    void reply.code(error.status).headers(error.headers).type('application/json').send(toErrorBody(error));
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, request.url);
    void reply.code(404).type('application/json').send(toErrorBody(error));
  });

  app.addHook('onResponse', async (request, reply) =>
    logRequest(request, reply.statusCode, reply.elapsedTime),
  );

  registerHealthRoutes(app);
  registerResponsesRoutes(app, proxy, {
    streamKeepAliveMs: config.server.streamKeepAliveMs,
    logStream: (request, status) =>
      logRequest(request, status, performance.now() - request.proxyLog.startedAt),
  });
  app.addHook('onClose', async () => proxy.close());
  return { app, proxy };
}

/** The one info line per request: what was asked, where it went, how it ended. */
function logRequest(request: FastifyRequest, status: number, elapsedMs: number): void {
  const log = request.proxyLog;
  if (!log || logged.has(request)) return;
  logged.add(request);
  request.log.info(
    {
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      status,
      ms: round(elapsedMs),
      model: log.model,
      stream: log.stream,
      ...(log.outcome ? { outcome: log.outcome } : {}),
      target: log.call?.target ?? null,
      upstreamStatus: log.call?.upstreamStatus ?? null,
      upstreamMs: log.call?.upstreamMs == null ? null : round(log.call.upstreamMs),
      usage: log.usage ? { input: log.usage.input_tokens, output: log.usage.output_tokens } : null,
      ...(log.error ? { error: { code: log.error.code, message: log.error.message } } : {}),
    },
    'request',
  );
}

const logged = new WeakSet<FastifyRequest>();

function isAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED';
}

/** The OpenAI error code for the schema error `describeValidationError` reports (the deepest one). */
function validationCode(errors: ReadonlyArray<{ instancePath: string; keyword: string }>): string {
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  const keyword = (sorted.find((e) => e.keyword !== 'anyOf') ?? sorted[0])?.keyword;
  if (keyword === 'required') return 'missing_required_parameter';
  if (keyword === 'type') return 'invalid_type';
  return 'invalid_value';
}

function describeCause(err: unknown): string | null {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? (cause.code ?? cause.message ?? String(cause)) : null;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
