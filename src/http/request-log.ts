/**
 * The one info line per request (what was asked, where it went, how it ended) and the request
 * metrics, written together so they never disagree.
 */
import type { ProxyError } from '../errors.js';
import type { Logger } from '../logging-config.js';
import type { Metrics } from '../metrics.js';
import type { CallInfo } from '../services/llm-proxy.js';
import type { RelayOutcome } from '../stream/sse-relay.js';
import type { ResponseUsage } from '../types.js';

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
  /** Milliseconds from the request to the first output delta (streams only). */
  firstTokenMs?: number;
  logged: boolean;
}

export function newProxyLog(): ProxyLog {
  return {
    model: null,
    stream: false,
    call: null,
    usage: null,
    error: null,
    startedAt: performance.now(),
    logged: false,
  };
}

/** The request a line is about. */
export interface LoggedRequest {
  /** Writes the line; when it is not already bound to the request id, `reqId` is. */
  log: Pick<Logger, 'info' | 'isLevelEnabled'>;
  reqId: string | null;
  method: string;
  /** The route pattern (not the URL: ids would make every line distinct), or 'unmatched'. */
  route: string;
  proxyLog: ProxyLog;
}

export function logRequest(request: LoggedRequest, status: number, metrics: Metrics): void {
  const log = request.proxyLog;
  if (!log || log.logged) return;
  log.logged = true;
  const ms = performance.now() - log.startedAt;
  const route = request.route;
  const target = log.call?.target ?? null;
  const upstreamMs = log.call?.upstreamMs ?? null;
  if (request.log.isLevelEnabled('info')) {
    request.log.info(
      {
        ...(request.reqId === null ? {} : { reqId: request.reqId }),
        method: request.method,
        route,
        status,
        ms: round(ms),
        model: log.model,
        stream: log.stream,
        ...(log.outcome ? { outcome: log.outcome } : {}),
        target,
        attempts: log.call?.attempts ?? 0,
        upstreamStatus: log.call?.upstreamStatus ?? null,
        upstreamMs: upstreamMs === null ? null : round(upstreamMs),
        // What the proxy itself added: everything but the wait on the upstream.
        proxyMs: upstreamMs === null || log.stream ? null : round(Math.max(0, ms - upstreamMs)),
        ...(log.firstTokenMs === undefined ? {} : { firstTokenMs: round(log.firstTokenMs) }),
        usage: log.usage ? { input: log.usage.input_tokens, output: log.usage.output_tokens } : null,
        ...(log.error ? { error: { code: log.error.code, message: log.error.message } } : {}),
      },
      'request',
    );
  }
  metrics.inFlight.dec();
  const stream = log.stream ? 'true' : 'false';
  // The model label only for routed requests: a rejected request's model is whatever the client
  // typed, and every distinct value would be a new series kept in memory for good.
  const model = target === null ? '' : (log.model ?? '');
  metrics.requests.inc({ route, status: statusLabel(status), target: target ?? '', model, stream });
  metrics.duration.observe({ route, target: target ?? '', stream }, ms / 1000);
  if (log.firstTokenMs !== undefined && target)
    metrics.timeToFirstToken.observe({ target }, log.firstTokenMs / 1000);
  if (log.usage && target) {
    metrics.tokens.inc({ target, model, direction: 'input' }, log.usage.input_tokens);
    metrics.tokens.inc({ target, model, direction: 'output' }, log.usage.output_tokens);
  }
}

/** Status labels made once each, not a new string per request. */
const STATUS_LABELS: string[] = [];
function statusLabel(status: number): string {
  let label = STATUS_LABELS[status];
  if (label === undefined) {
    label = String(status);
    if (status >= 100 && status < 600) STATUS_LABELS[status] = label;
  }
  return label;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
