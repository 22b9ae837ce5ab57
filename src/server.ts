/**
 * Builds the Fastify app: routes, the one error handler that writes every error envelope, request
 * ids, and one log line per request. Nothing here listens; `main.ts` does.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from './config.js';
import { RouteNotFoundError, toErrorBody, toProxyError } from './errors.js';
import { ApiKeyCheck, bearerToken } from './http/auth.js';
import { decodingErrorOf, registerDecompression } from './http/decompress.js';
import { logRequest, newProxyLog, type ProxyLog } from './http/request-log.js';
import type { Logger } from './logging-config.js';
import { Metrics } from './metrics.js';
import { type ReadinessCheck, registerHealthRoutes } from './routes/health.js';
import { registerModelRoutes } from './routes/models.js';
import { registerResponsesRoutes } from './routes/responses.js';
import { registerStoredResponseRoutes } from './routes/stored-responses.js';
import { LlmProxy } from './services/llm-proxy.js';
import { ResponseHistory } from './services/response-history.js';
import { createStore } from './store/create-store.js';
import { newId } from './utils/ids.js';

export interface ServerDeps {
  config: Config;
  logger: Logger;
  /** Extra checks for /readyz (the store, once there is one). */
  readiness?: ReadinessCheck[];
}

export interface Server {
  app: FastifyInstance;
  /** The listener for /healthz, /readyz and /metrics when `[server] admin_port` is set. */
  admin: FastifyInstance | null;
  proxy: LlmProxy;
  metrics: Metrics;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function buildServer({ config, logger, readiness = [] }: ServerDeps): Promise<Server> {
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
    return503OnClosing: true,
  });
  const metrics = new Metrics();
  const store = await createStore(config.store);
  const proxy = new LlmProxy(config, logger, metrics, new ResponseHistory(store));
  const auth = new ApiKeyCheck(config.auth.apiKeys);

  app.decorateRequest('proxyLog', null as unknown as ProxyLog);
  // Callback-style hooks: no promise per request per hook on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    request.proxyLog = newProxyLog();
    metrics.inFlight.inc();
    reply.header('x-request-id', request.id);
    // A client gone before a JSON reply ends never reaches onResponse: log it here, as nginx's 499.
    // (A hijacked stream reply writes its own line.)
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished && !reply.sent) logRequest(request, 499, metrics);
    });
    if (auth.enabled && isApiRoute(request.url)) {
      try {
        auth.verify(request);
      } catch (err) {
        done(err as Error);
        return;
      }
    }
    done();
  });

  registerDecompression(app);

  app.setErrorHandler((err, request, reply) => {
    if (isAbort(err) && reply.raw.destroyed) {
      // The client went away and the route aborted the upstream call: not a failure, nothing to send.
      request.log.debug('client closed the connection before the reply');
      return;
    }
    const error = toProxyError(decodingErrorOf(request) ?? err, request.id);
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

  app.addHook('onResponse', (request, reply, done) => {
    logRequest(request, reply.statusCode, metrics);
    done();
  });

  registerModelRoutes(app, proxy);
  registerStoredResponseRoutes(app, store);
  registerResponsesRoutes(app, proxy, {
    streamKeepAliveMs: config.server.streamKeepAliveMs,
    clientKey: (request) => bearerToken(request),
    logStream: (request, status) => logRequest(request, status, metrics),
  });
  app.addHook('onClose', async () => {
    await proxy.close();
    await store.close();
  });
  const checks: ReadinessCheck[] = [{ name: 'store', check: () => store.ping() }, ...readiness];

  let admin: FastifyInstance | null = null;
  if (config.server.admin === null) {
    registerHealthRoutes(app, metrics, checks);
  } else {
    admin = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
    });
    registerHealthRoutes(admin, metrics, checks);
  }
  return { app, admin, proxy, metrics };
}

/** Routes behind the proxy keys; health, readiness and metrics stay open. */
function isApiRoute(url: string): boolean {
  return url.startsWith('/v1/') || url === '/response' || url.startsWith('/response?');
}

function isAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED';
}

function describeCause(err: unknown): string | null {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? (cause.code ?? cause.message ?? String(cause)) : null;
}
