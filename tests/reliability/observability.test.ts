/**
 * What operators see: Prometheus metrics that move as requests happen, /healthz and /readyz, the
 * admin listener, `x-request-id` on every error, the 500 for a proxy bug, and the one info log
 * line per request (bodies only at debug).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { chatCompletion, MockUpstream, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { expectEnvelope, get, post, requestLine, sleep, streamEvents, wordChunks } from './helpers.js';

const TARGET_EXTRA = [
  'models = ["test-*"]',
  'retries = { max = 2, base_delay = "10ms", max_delay = "1s" }',
  'timeouts = { first_byte = "200ms" }',
  // 'unsupported field' below needs a hosted tool refused (the default is to drop it).
  'hosted_tools = "reject"',
].join('\n');

let upstream: MockUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  proxy = await startProxy(oneTarget(upstream.baseUrl, TARGET_EXTRA), {}, 'info', 'body_limit = 2048');
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (req, res) => {
    if (req.body?.stream === true) sendSse(res, wordChunks(['Hello', ' there']));
    else sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
  };
});

const BODY = { model: 'test-model', input: 'Hi' };

/** Sums the samples of `name` whose labels include `labels` (0 when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      have[l[1] as string] = l[2] as string;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

async function scrape(base = proxy.url): Promise<string> {
  const r = await get(base, '/metrics');
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
  return r.text;
}

/** Runs `fn` and returns how much each probe's value changed. */
async function delta(
  probes: Array<[string, Record<string, string>]>,
  fn: () => Promise<unknown>,
): Promise<number[]> {
  const before = await scrape();
  await fn();
  await sleep(30); // the log line (and its metrics) is written just after the reply
  const after = await scrape();
  return probes.map(([name, labels]) => sample(after, name, labels) - sample(before, name, labels));
}

describe('GET /metrics', () => {
  it('exposes every metric family', async () => {
    const text = await scrape();
    for (const [name, type] of [
      ['llm_proxy_requests_total', 'counter'],
      ['llm_proxy_request_duration_seconds', 'histogram'],
      ['llm_proxy_upstream_duration_seconds', 'histogram'],
      ['llm_proxy_time_to_first_token_seconds', 'histogram'],
      ['llm_proxy_tokens_total', 'counter'],
      ['llm_proxy_in_flight_requests', 'gauge'],
      ['llm_proxy_upstream_retries_total', 'counter'],
      ['llm_proxy_upstream_errors_total', 'counter'],
    ]) {
      expect(text, name).toContain(`# TYPE ${name} ${type}`);
    }
    // Default process metrics, prefixed.
    expect(text).toContain('llm_proxy_process_cpu_seconds_total');
  });

  it('a JSON request moves requests, durations and tokens', async () => {
    const labels = { route: '/v1/responses', target: 'mock', stream: 'false' };
    const [requests, duration, upstreamDuration, input, output] = await delta(
      [
        ['llm_proxy_requests_total', { ...labels, status: '200', model: 'test-model' }],
        ['llm_proxy_request_duration_seconds_count', labels],
        ['llm_proxy_upstream_duration_seconds_count', { target: 'mock' }],
        ['llm_proxy_tokens_total', { target: 'mock', model: 'test-model', direction: 'input' }],
        ['llm_proxy_tokens_total', { target: 'mock', model: 'test-model', direction: 'output' }],
      ],
      async () => expect((await post(proxy.url, BODY)).status).toBe(200),
    );
    expect([requests, duration, upstreamDuration, input, output]).toEqual([1, 1, 1, 12, 5]);
  });

  it('a stream moves the stream=true series and the tokens of the final usage', async () => {
    const [requests, duration, input, output] = await delta(
      [
        [
          'llm_proxy_requests_total',
          { route: '/v1/responses', status: '200', target: 'mock', stream: 'true' },
        ],
        ['llm_proxy_request_duration_seconds_count', { route: '/v1/responses', stream: 'true' }],
        ['llm_proxy_tokens_total', { direction: 'input' }],
        ['llm_proxy_tokens_total', { direction: 'output' }],
      ],
      async () => {
        const r = await post(proxy.url, { ...BODY, stream: true });
        expect(streamEvents(r.text).terminal.type).toBe('response.completed');
      },
    );
    expect([requests, duration, input, output]).toEqual([1, 1, 7, 3]);
  });

  it('llm_proxy_time_to_first_token_seconds observes streams, and the log line carries firstTokenMs', async () => {
    const [count] = await delta(
      [['llm_proxy_time_to_first_token_seconds_count', { target: 'mock' }]],
      async () => {
        const r = await post(proxy.url, { ...BODY, stream: true });
        expect(streamEvents(r.text).terminal.type).toBe('response.completed');
      },
    );
    expect(count).toBe(1);
    const line = proxy.logs.filter((l) => l.msg === 'request' && l.stream === true).at(-1);
    expect(typeof line?.firstTokenMs).toBe('number');
    expect(line?.firstTokenMs).toBeGreaterThanOrEqual(0);
    expect(line?.firstTokenMs).toBeLessThanOrEqual(line?.ms);
  });

  it('a JSON request does not observe time to first token', async () => {
    const [count] = await delta(
      [['llm_proxy_time_to_first_token_seconds_count', { target: 'mock' }]],
      async () => expect((await post(proxy.url, BODY)).status).toBe(200),
    );
    expect(count).toBe(0);
  });

  it('retries and upstream errors are counted by target and kind', async () => {
    upstream.handler = (_req, res) => {
      if (upstream.requests.length <= 2) sendJson(res, 503, { error: { message: 'busy' } });
      else sendJson(res, 200, chatCompletion({ content: 'ok' }));
    };
    const [retries, errors5xx] = await delta(
      [
        ['llm_proxy_upstream_retries_total', { target: 'mock' }],
        ['llm_proxy_upstream_errors_total', { target: 'mock', kind: 'http_5xx' }],
      ],
      async () => expect((await post(proxy.url, BODY)).status).toBe(200),
    );
    expect([retries, errors5xx]).toEqual([2, 2]);

    upstream.handler = (_req, res) => sendJson(res, 429, 'slow', { 'retry-after': '60' });
    const [retries429, errors429] = await delta(
      [
        ['llm_proxy_upstream_retries_total', { target: 'mock' }],
        ['llm_proxy_upstream_errors_total', { target: 'mock', kind: 'http_429' }],
      ],
      async () => expect((await post(proxy.url, BODY)).status).toBe(429),
    );
    expect([retries429, errors429]).toEqual([0, 1]);

    upstream.handler = () => {}; // never answers: a first-byte timeout
    const [timeouts, requests504] = await delta(
      [
        ['llm_proxy_upstream_errors_total', { target: 'mock', kind: 'timeout' }],
        ['llm_proxy_requests_total', { status: '504', target: 'mock' }],
      ],
      async () => expect((await post(proxy.url, BODY)).status).toBe(504),
    );
    expect([timeouts, requests504]).toEqual([1, 1]);

    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('not json');
    };
    const [protocol] = await delta(
      [['llm_proxy_upstream_errors_total', { target: 'mock', kind: 'protocol' }]],
      async () => expect((await post(proxy.url, BODY)).status).toBe(502),
    );
    expect(protocol).toBe(1);
  });

  it('failures while the body is read (JSON or stream) are counted as upstream errors', async () => {
    upstream.handler = (req, res) => {
      // Headers and the start of a body, then silence: an idle timeout while the body is read.
      if (req.body?.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":');
      }
    };
    const slow = await startProxy(oneTarget(upstream.baseUrl, 'timeouts = { idle = "200ms" }'), {}, 'info');
    try {
      const count = async () =>
        sample((await get(slow.url, '/metrics')).text, 'llm_proxy_upstream_errors_total', {
          target: 'mock',
          kind: 'timeout',
        });
      const before = await count();
      expect((await post(slow.url, BODY)).status).toBe(504);
      await sleep(30);
      expect((await count()) - before).toBe(1);
      const stream = await post(slow.url, { ...BODY, stream: true });
      expect(streamEvents(stream.text).terminal.type).toBe('response.failed');
      await sleep(30);
      expect((await count()) - before).toBe(2);
    } finally {
      await slow.close();
    }
  });

  it('rejected requests are counted too, without a target or the model the client typed', async () => {
    const [notFound, bad] = await delta(
      [
        // No model label for unrouted requests: arbitrary client strings would grow the series forever.
        ['llm_proxy_requests_total', { route: '/v1/responses', status: '404', target: '', model: '' }],
        ['llm_proxy_requests_total', { route: '/v1/responses', status: '400', target: '' }],
      ],
      async () => {
        expect((await post(proxy.url, { model: 'other-model', input: 'Hi' })).status).toBe(404);
        expect((await post(proxy.url, '{bad')).status).toBe(400);
      },
    );
    expect([notFound, bad]).toEqual([1, 1]);
    expect(await scrape()).not.toContain('other-model');
  });

  it('llm_proxy_in_flight_requests counts a request while it is served', async () => {
    let release: () => void = () => {};
    upstream.handler = (_req, res) => {
      release = () => sendJson(res, 200, chatCompletion({ content: 'late' }));
    };
    // The scrape itself is in flight while /metrics answers.
    const idle = sample(await scrape(), 'llm_proxy_in_flight_requests');
    const pending = post(proxy.url, BODY);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    expect(sample(await scrape(), 'llm_proxy_in_flight_requests')).toBe(idle + 1);
    release();
    expect((await pending).status).toBe(200);
    await sleep(30);
    expect(sample(await scrape(), 'llm_proxy_in_flight_requests')).toBe(idle);
  });

  it('the in-flight gauge returns to idle after errors, streams and client disconnects', async () => {
    const idle = sample(await scrape(), 'llm_proxy_in_flight_requests');
    await post(proxy.url, '{bad');
    await post(proxy.url, { model: 'other-model', input: 'Hi' });
    await get(proxy.url, '/nope');
    await post(proxy.url, { ...BODY, stream: true });
    upstream.handler = () => {};
    const controller = new AbortController();
    const gone = fetch(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(BODY),
      signal: controller.signal,
    }).catch(() => null);
    await vi.waitFor(() => expect(upstream.requests.length).toBeGreaterThan(0));
    controller.abort();
    await gone;
    await vi.waitFor(async () => expect(sample(await scrape(), 'llm_proxy_in_flight_requests')).toBe(idle));

    // A stream client that goes away mid-stream.
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => {
        res.write('data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n');
      }, 20);
      res.on('close', () => clearInterval(timer));
    };
    const streamAbort = new AbortController();
    const res = await fetch(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rid-gone-stream' },
      body: JSON.stringify({ ...BODY, stream: true }),
      signal: streamAbort.signal,
    });
    const reader = res.body?.getReader();
    await reader?.read();
    expect(sample(await scrape(), 'llm_proxy_in_flight_requests')).toBe(idle + 1);
    streamAbort.abort();
    await reader?.read().catch(() => null);
    await vi.waitFor(async () => expect(sample(await scrape(), 'llm_proxy_in_flight_requests')).toBe(idle));
    expect(await requestLine(proxy, 'rid-gone-stream')).toMatchObject({
      stream: true,
      outcome: 'client_closed',
    });
  });
});

describe('health and readiness', () => {
  it('/healthz and /readyz answer 200', async () => {
    expect(await get(proxy.url, '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await get(proxy.url, '/readyz')).toMatchObject({ status: 200, json: { status: 'ready' } });
  });
});

describe('the admin listener ([server] admin_port)', () => {
  let admin: TestProxy;
  beforeAll(async () => {
    admin = await startProxy(oneTarget(upstream.baseUrl), {}, 'info', 'admin_port = 0');
  });
  afterAll(async () => {
    await admin?.close();
  });

  it('serves /healthz, /readyz and /metrics on its own port', async () => {
    expect(admin.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(admin.adminUrl).not.toBe(admin.url);
    const base = admin.adminUrl as string;
    expect(await get(base, '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await get(base, '/readyz')).toMatchObject({ status: 200, json: { status: 'ready' } });
    const before = sample((await get(base, '/metrics')).text, 'llm_proxy_requests_total', { status: '200' });
    expect((await post(admin.url, BODY)).status).toBe(200);
    await sleep(30);
    const metrics = await get(base, '/metrics');
    expect(metrics.status).toBe(200);
    expect(sample(metrics.text, 'llm_proxy_requests_total', { status: '200' })).toBe(before + 1);
    // The admin port serves only those.
    expect((await post(base, BODY)).status).toBe(404);
  });

  it('the main port then answers 404 for them, as an envelope with a request id', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const r = await get(admin.url, path);
      expect(r.status, path).toBe(404);
      expect(expectEnvelope(r).code).toBe('not_found');
      expect(r.headers.get('x-request-id')).toMatch(/^req_/);
    }
  });
});

describe('the admin listener on [server] admin_host', () => {
  let admin: TestProxy;
  beforeAll(async () => {
    admin = await startProxy(
      oneTarget(upstream.baseUrl),
      {},
      'info',
      'admin_host = "127.0.0.1"\nadmin_port = 0',
    );
  });
  afterAll(async () => {
    await admin?.close();
  });

  it('binds the admin listener on admin_host, on a port of its own', () => {
    expect(admin.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(admin.adminUrl?.startsWith('http://127.0.0.1:')).toBe(true);
    expect(admin.adminUrl).not.toBe(admin.url);
    expect(Number(new URL(admin.adminUrl as string).port)).toBeGreaterThan(0);
  });

  it('serves /healthz, /readyz and /metrics there', async () => {
    const base = admin.adminUrl as string;
    expect(await get(base, '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await get(base, '/readyz')).toMatchObject({ status: 200, json: { status: 'ready' } });
    const metrics = await get(base, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('# TYPE llm_proxy_requests_total counter');
    expect((await post(base, BODY)).status).toBe(404);
  });

  it('the main port answers 404 for them and still serves the API', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const r = await get(admin.url, path);
      expect(r.status, path).toBe(404);
      expect(expectEnvelope(r).code).toBe('not_found');
    }
    expect((await post(admin.url, BODY)).status).toBe(200);
  });

  // On Linux all of 127/8 is loopback: an admin_host unlike `host` shows which address is bound.
  it.runIf(process.platform === 'linux')('admin_host other than host binds that address only', async () => {
    const other = await startProxy(
      oneTarget(upstream.baseUrl),
      {},
      'info',
      'admin_host = "127.0.0.2"\nadmin_port = 0',
    );
    try {
      expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(other.adminUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
      const base = other.adminUrl as string;
      expect((await get(base, '/healthz')).status).toBe(200);
      // Nothing listens on the admin port at 127.0.0.1.
      const port = new URL(base).port;
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      await other.close();
    }
  });
});

describe('x-request-id on every error', () => {
  const cases: Array<[string, () => Promise<Awaited<ReturnType<typeof post>>>, number, string]> = [
    [
      'malformed JSON',
      () => post(proxy.url, '{"model":', { 'x-request-id': 'rid-json' }),
      400,
      'invalid_json',
    ],
    [
      'wrong field type',
      () => post(proxy.url, { ...BODY, temperature: 'hot' }, { 'x-request-id': 'rid-type' }),
      400,
      'invalid_type',
    ],
    [
      'unsupported field',
      () => post(proxy.url, { ...BODY, tools: [{ type: 'web_search' }] }, { 'x-request-id': 'rid-tool' }),
      400,
      'unsupported_value',
    ],
    [
      'body over the limit',
      () => post(proxy.url, { ...BODY, input: 'x'.repeat(4000) }, { 'x-request-id': 'rid-413' }),
      413,
      'request_too_large',
    ],
    [
      'unknown model',
      () => post(proxy.url, { ...BODY, model: 'other-model' }, { 'x-request-id': 'rid-model' }),
      404,
      'model_not_found',
    ],
    ['unknown route', () => get(proxy.url, '/v2/nothing', { 'x-request-id': 'rid-route' }), 404, 'not_found'],
    [
      'wrong content type',
      () => post(proxy.url, 'x', { 'content-type': 'text/csv', 'x-request-id': 'rid-415' }),
      415,
      'unsupported_media_type',
    ],
  ];

  it.each(cases)('%s', async (_name, call, status, code) => {
    const r = await call();
    expect(r.status).toBe(status);
    const e = expectEnvelope(r);
    expect(e.code).toBe(code);
    expect(r.headers.get('x-request-id')).toMatch(/^rid-/);
    if (status === 400 && code !== 'invalid_json') expect(e.param).not.toBeNull();
    expect(await requestLine(proxy, r.headers.get('x-request-id') as string)).toMatchObject({ status });
  });

  it('a generated id when the client sends none or an unusable one', async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { 'x-request-id': 'has spaces and ünïcode' },
      { 'x-request-id': 'x'.repeat(200) },
    ];
    for (const headers of variants) {
      const r = await post(proxy.url, '{', headers);
      expect(r.status).toBe(400);
      expect(r.headers.get('x-request-id')).toMatch(/^req_[\w-]+$/);
    }
  });
});

describe('a proxy bug', () => {
  it('is a 500 server_error naming the request id, without the message or a stack', async () => {
    const spy = vi
      .spyOn(proxy.proxy, 'respond')
      .mockRejectedValueOnce(new TypeError("Cannot read properties of undefined (reading 'secretThing')"));
    try {
      const r = await post(proxy.url, BODY, { 'x-request-id': 'rid-bug' });
      expect(r.status).toBe(500);
      expect(expectEnvelope(r)).toEqual({
        message: 'The proxy failed while handling request rid-bug.',
        type: 'server_error',
        param: null,
        code: 'server_error',
      });
      expect(r.headers.get('x-request-id')).toBe('rid-bug');
      expect(r.text).not.toContain('secretThing');
      expect(r.text).not.toContain('.ts:');
      // The log has the stack, at error level.
      await vi.waitFor(() =>
        expect(proxy.logs.some((l) => l.reqId === 'rid-bug' && l.level === 'error' && l.err?.stack)).toBe(
          true,
        ),
      );
      expect(await requestLine(proxy, 'rid-bug')).toMatchObject({
        status: 500,
        error: { code: 'server_error' },
      });
    } finally {
      spy.mockRestore();
    }
  });

  it('on a stream, before any byte was sent: the same 500 envelope', async () => {
    const spy = vi.spyOn(proxy.proxy, 'send').mockRejectedValueOnce(new RangeError('boom'));
    try {
      const r = await post(proxy.url, { ...BODY, stream: true }, { 'x-request-id': 'rid-bug-2' });
      expect(r.status).toBe(500);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(expectEnvelope(r).message).toBe('The proxy failed while handling request rid-bug-2.');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('the per-request log line', () => {
  const MARKER = 'input-marker-7c1e0f';

  it('at info: one line with every field, and no bodies', async () => {
    const r = await post(proxy.url, { model: 'test-model', input: MARKER }, { 'x-request-id': 'rid-log' });
    expect(r.status).toBe(200);
    const line = await requestLine(proxy, 'rid-log');
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request',
      reqId: 'rid-log',
      method: 'POST',
      route: '/v1/responses',
      model: 'test-model',
      target: 'mock',
      stream: false,
      status: 200,
      upstreamStatus: 200,
      attempts: 1,
      usage: { input: 12, output: 5 },
    });
    for (const field of ['ms', 'upstreamMs', 'proxyMs']) expect(typeof line[field], field).toBe('number');
    expect(line.ms).toBeGreaterThanOrEqual(line.upstreamMs);
    // Only this line for the request, and no payload anywhere.
    expect(proxy.logs.filter((l) => l.reqId === 'rid-log')).toHaveLength(1);
    expect(proxy.logText()).not.toContain(MARKER);
    expect(proxy.logText()).not.toContain('Hello!');
  });

  it('a stream line has stream, outcome and usage', async () => {
    await post(
      proxy.url,
      { model: 'test-model', input: 'Hi', stream: true },
      { 'x-request-id': 'rid-log-s' },
    );
    expect(await requestLine(proxy, 'rid-log-s')).toMatchObject({
      stream: true,
      outcome: 'completed',
      status: 200,
      upstreamStatus: 200,
      attempts: 1,
      target: 'mock',
      usage: { input: 7, output: 3 },
    });
  });

  it('at debug: the request and reply bodies are logged as well, still one request line', async () => {
    const debug = await startProxy(oneTarget(upstream.baseUrl), {}, 'debug');
    try {
      const r = await post(
        debug.url,
        { model: 'test-model', input: MARKER },
        { 'x-request-id': 'rid-debug' },
      );
      expect(r.status).toBe(200);
      await requestLine(debug, 'rid-debug');
      const mine = debug.logs.filter((l) => l.reqId === 'rid-debug' || l.msg?.startsWith('upstream'));
      expect(mine.some((l) => l.msg === 'upstream request' && JSON.stringify(l).includes(MARKER))).toBe(true);
      expect(mine.some((l) => l.msg === 'upstream reply' && JSON.stringify(l).includes('Hello!'))).toBe(true);
    } finally {
      await debug.close();
    }
  });

  it('LLM_PROXY_LOG_LEVEL overrides [logging] level', async () => {
    const quiet = await startProxy(oneTarget(upstream.baseUrl), { LLM_PROXY_LOG_LEVEL: 'warn' }, 'debug');
    try {
      expect((await post(quiet.url, BODY)).status).toBe(200);
      await sleep(50);
      expect(quiet.logs.filter((l) => l.msg === 'request' || l.msg === 'upstream request')).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});
