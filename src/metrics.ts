/**
 * Prometheus metrics (`GET /metrics`). One registry per server instance (no global default
 * registry), so tests and several servers in one process never share counters.
 */
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { LabelledCounter, LabelledHistogram, PlainGauge } from './labelled-metrics.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export type UpstreamErrorKind = 'unreachable' | 'timeout' | 'http_4xx' | 'http_429' | 'http_5xx' | 'protocol';

export class Metrics {
  readonly registry = new Registry();
  // Updated by every request: the cheap implementations (labelled-metrics.ts says why).
  readonly requests = new LabelledCounter(
    'llm_proxy_requests_total',
    'Requests served, by route, HTTP status, target and model.',
    ['route', 'status', 'target', 'model', 'stream'],
    this.registry,
  );
  readonly duration = new LabelledHistogram(
    'llm_proxy_request_duration_seconds',
    'Whole request time as the client sees it.',
    ['route', 'target', 'stream'],
    LATENCY_BUCKETS,
    this.registry,
  );
  readonly upstreamDuration = new LabelledHistogram(
    'llm_proxy_upstream_duration_seconds',
    'Time spent waiting on the upstream (to headers for streams, to the full body otherwise).',
    ['target'],
    LATENCY_BUCKETS,
    this.registry,
  );
  readonly timeToFirstToken = new LabelledHistogram(
    'llm_proxy_time_to_first_token_seconds',
    'Streams: from the request to the first output delta written to the client.',
    ['target'],
    LATENCY_BUCKETS,
    this.registry,
  );
  readonly tokens = new LabelledCounter(
    'llm_proxy_tokens_total',
    'Tokens reported by upstreams, by direction (input, output).',
    ['target', 'model', 'direction'],
    this.registry,
  );
  readonly inFlight = new PlainGauge(
    'llm_proxy_in_flight_requests',
    'Requests being served now.',
    this.registry,
  );
  // Updated only when something goes wrong: prom-client's own.
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
