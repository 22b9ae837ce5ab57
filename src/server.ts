/**
 * Builds the HTTP server: POST /v1/responses served from node:http (routes/responses.ts), every
 * other route by Fastify, with the same request ids, error envelopes and one log line per request
 * on both. Nothing here listens; `main.ts` does.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Config } from './config.js';
import { RouteNotFoundError, toErrorBody } from './errors.js';
import { ApiKeyCheck } from './http/auth.js';
import { reportError } from './http/error-reply.js';
import { requestIdOf } from './http/request-id.js';
import { type LoggedRequest, logRequest, newProxyLog, type ProxyLog } from './http/request-log.js';
import type { Logger } from './logging-config.js';
import { Metrics } from './metrics.js';
import { type ReadinessCheck, registerHealthRoutes } from './routes/health.js';
import { registerModelRoutes } from './routes/models.js';
import { ResponsesRoute } from './routes/responses.js';
import { registerStoredResponseRoutes } from './routes/stored-responses.js';
import { LlmProxy } from './services/llm-proxy.js';
import { ResponseHistory } from './services/response-history.js';
import { createStore } from './store/create-store.js';

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

declare module 'fastify' {
  interface FastifyRequest {
    proxyLog: ProxyLog;
  }
}

/** Node's default keep-alive (5 s) is shorter than many clients'; Fastify's default, kept. */
const KEEP_ALIVE_MS = 72_000;

export async function buildServer({ config, logger, readiness = [] }: ServerDeps): Promise<Server> {
  const metrics = new Metrics();
  const store = await createStore(config.store);
  const proxy = new LlmProxy(config, logger, metrics, new ResponseHistory(store));
  const auth = new ApiKeyCheck(config.auth.apiKeys);
  // POST /v1/responses is served from node:http directly (see routes/responses.ts for why);
  // Fastify serves every other route.
  const responses = new ResponsesRoute({
    proxy,
    metrics,
    logger,
    auth,
    bodyLimit: config.server.bodyLimit,
    streamKeepAliveMs: config.server.streamKeepAliveMs,
  });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => requestIdOf(req.headers),
    return503OnClosing: true,
    serverFactory: (fastifyHandler) => {
      const server = createServer((req, res) => {
        const route = ResponsesRoute.match(req);
        if (route === null) fastifyHandler(req, res);
        else responses.handle(req, res, route);
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      return server;
    },
  });
  const logged = (request: FastifyRequest): LoggedRequest => ({
    log: request.log as unknown as Logger,
    reqId: null,
    method: request.method,
    route: request.routeOptions.url ?? 'unmatched',
    proxyLog: request.proxyLog,
  });

  app.decorateRequest('proxyLog', null as unknown as ProxyLog);
  // Callback-style hooks: no promise per request per hook.
  app.addHook('onRequest', (request, reply, done) => {
    request.proxyLog = newProxyLog();
    metrics.inFlight.inc();
    reply.header('x-request-id', request.id);
    // A client gone before the reply ends never reaches onResponse: log it here, as nginx's 499.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished && !reply.sent) logRequest(logged(request), 499, metrics);
    });
    if (auth.enabled && isApiRoute(request.url)) {
      try {
        auth.verify(request.headers);
      } catch (err) {
        done(err as Error);
        return;
      }
    }
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const log = request.log as unknown as Logger;
    const error = reportError(err, { id: request.id, log, proxyLog: request.proxyLog }, reply.raw.destroyed);
    if (error === null || reply.sent || reply.raw.headersSent) return;
    void reply.code(error.status).headers(error.headers).type('application/json').send(toErrorBody(error));
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, request.url);
    void reply.code(404).type('application/json').send(toErrorBody(error));
  });

  app.addHook('onResponse', (request, reply, done) => {
    logRequest(logged(request), reply.statusCode, metrics);
    done();
  });

  registerModelRoutes(app, proxy);
  registerStoredResponseRoutes(app, store);
  app.addHook('preClose', (done) => {
    responses.closing = true;
    done();
  });
  app.addHook('onClose', async () => {
    // Every connection is closed by now; what the exchanges still do is log and count. Bounded, so
    // a bug there cannot hold the process open.
    await Promise.race([responses.idle(), sleep(1_000, undefined, { ref: false })]);
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
