/**
 * Prometheus metrics (`GET /metrics`). One registry per server instance (no global default
 * registry), so tests and several servers in one process never share counters.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export type UpstreamErrorKind = 'unreachable' | 'timeout' | 'http_4xx' | 'http_429' | 'http_5xx' | 'protocol';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'llm_proxy_requests_total',
    help: 'Requests served, by route, HTTP status, target and model.',
    labelNames: ['route', 'status', 'target', 'model', 'stream'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'llm_proxy_request_duration_seconds',
    help: 'Whole request time as the client sees it.',
    labelNames: ['route', 'target', 'stream'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'llm_proxy_upstream_duration_seconds',
    help: 'Time spent waiting on the upstream (to headers for streams, to the full body otherwise).',
    labelNames: ['target'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: 'llm_proxy_time_to_first_token_seconds',
    help: 'Streams: from the request to the first output delta written to the client.',
    labelNames: ['target'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'llm_proxy_tokens_total',
    help: 'Tokens reported by upstreams, by direction (input, output).',
    labelNames: ['target', 'model', 'direction'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'llm_proxy_in_flight_requests',
    help: 'Requests being served now.',
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'llm_proxy_upstream_retries_total',
    help: 'Upstream attempts repeated after a retryable failure.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });
  readonly fallbacks = new Counter({
    name: 'llm_proxy_upstream_fallbacks_total',
    help: 'Requests moved to a fallback target.',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'llm_proxy_upstream_errors_total',
    help: 'Upstream failures by kind.',
    labelNames: ['target', 'kind'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'llm_proxy_' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
