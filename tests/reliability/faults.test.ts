/**
 * Fault injection: the real proxy in front of a real HTTP mock upstream that misbehaves (refuses,
 * never answers, stalls, resets, sends garbage, truncates, drips, rate-limits, fails). For each
 * fault: what the client sees (status, envelope or stream terminal event, rough timing), how
 * many attempts reached the upstream, and the one `request` log line. No secret ever reaches a log.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatCompletion, MockUpstream, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import {
  chunk,
  closedPort,
  expectEnvelope,
  post,
  type Reply,
  requestLine,
  sleep,
  streamEvents,
  wordChunks,
} from './helpers.js';

const UPSTREAM_KEY = 'sk-upstream-secret-4711abcd';
const HEADER_SECRET = 'hdr-secret-value-0815xyz';
const ENV = { MOCK_KEY: UPSTREAM_KEY, TEAM_SECRET: HEADER_SECRET };

/** The target every fault proxy uses: a key, a `${ENV}` header, fast retries, short timeouts. */
function faultTarget(
  baseUrl: string,
  timeouts = 'connect = "1s", first_byte = "200ms", idle = "200ms", total = "10s"',
) {
  return oneTarget(
    baseUrl,
    [
      'api_key_env = "MOCK_KEY"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a TOML ${ENV} reference, not a template
      'headers = { "X-Team-Secret" = "${TEAM_SECRET}" }',
      'retries = { max = 2, base_delay = "10ms", max_delay = "2s" }',
      `timeouts = { ${timeouts} }`,
    ].join('\n'),
  );
}

const BODY = { model: 'test-model', input: 'Hi' };
const STREAM_BODY = { ...BODY, stream: true };

let mock: MockUpstream;
let proxy: TestProxy;
/** Every proxy started here, for the secrets check at the end. */
const proxies: TestProxy[] = [];
let seq = 0;

async function faultProxy(baseUrl: string, timeouts?: string): Promise<TestProxy> {
  const p = await startProxy(faultTarget(baseUrl, timeouts), ENV, 'debug');
  proxies.push(p);
  return p;
}

/** POSTs with a fresh request id and returns the reply and the id. */
async function send(body: unknown = BODY, p = proxy): Promise<Reply & { id: string }> {
  const id = `fault-${++seq}`;
  const reply = await post(p.url, body, { 'x-request-id': id, authorization: 'Bearer client-token-xyz' });
  expect(reply.headers.get('x-request-id')).toBe(id);
  return { ...reply, id };
}

/** Writes `text` one byte every `intervalMs`, stopping if the connection goes away. */
function drip(res: ServerResponse, text: string, intervalMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= text.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(text[i++] as string);
  }, intervalMs);
  res.on('close', () => clearInterval(timer));
}

beforeAll(async () => {
  mock = await MockUpstream.start();
  proxy = await faultProxy(mock.baseUrl);
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await mock?.close();
  // No fault, at debug level, ever logs a configured secret or the client's token.
  for (const p of proxies) {
    const text = p.logText();
    expect(text).not.toContain(UPSTREAM_KEY);
    expect(text).not.toContain(HEADER_SECRET);
    expect(text).not.toContain('client-token-xyz');
  }
});

beforeEach(() => {
  mock.requests.length = 0;
  mock.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
});

afterEach(() => {
  for (const p of proxies) {
    expect(p.logText()).not.toContain(UPSTREAM_KEY);
    expect(p.logText()).not.toContain(HEADER_SECRET);
  }
});

describe('the target configuration reaches the upstream', () => {
  it('sends the key and the env-expanded header upstream, and answers 200', async () => {
    const r = await send();
    expect(r.status).toBe(200);
    expect(mock.requests).toHaveLength(1);
    expect(mock.last.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(mock.last.headers['x-team-secret']).toBe(HEADER_SECRET);
    const line = await requestLine(proxy, r.id);
    expect(line).toMatchObject({ status: 200, attempts: 1, target: 'mock', upstreamStatus: 200 });
  });
});

describe('connection faults', () => {
  it('refused connections: retried max+1 times, then 502 upstream_unreachable', async () => {
    const dead = await faultProxy(`http://127.0.0.1:${await closedPort()}/v1`);
    const r = await send(BODY, dead);
    expect(r.status).toBe(502);
    expect(expectEnvelope(r)).toEqual({
      message: "Upstream target 'mock' is unreachable: connection refused",
      type: 'server_error',
      param: null,
      code: 'upstream_unreachable',
    });
    expect(r.ms).toBeLessThan(3_000);
    const line = await requestLine(dead, r.id);
    expect(line).toMatchObject({ status: 502, attempts: 3, target: 'mock', upstreamStatus: null });
    expect(line.error).toMatchObject({ code: 'upstream_unreachable' });
  });

  it('refused connections on a stream: the same 502 envelope, not an event stream', async () => {
    const dead = await faultProxy(`http://127.0.0.1:${await closedPort()}/v1`);
    const r = await send(STREAM_BODY, dead);
    expect(r.status).toBe(502);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(expectEnvelope(r).code).toBe('upstream_unreachable');
    expect((await requestLine(dead, r.id)).attempts).toBe(3);
  });

  it('a connection reset before any header is retried, then 502 upstream_unreachable', async () => {
    mock.handler = (_req, res) => {
      res.socket?.destroy();
    };
    const r = await send();
    expect(r.status).toBe(502);
    const e = expectEnvelope(r);
    expect(e.code).toBe('upstream_unreachable');
    expect(e.message).toContain("Upstream target 'mock'");
    expect(mock.requests).toHaveLength(3);
    expect(await requestLine(proxy, r.id)).toMatchObject({ status: 502, attempts: 3, target: 'mock' });
  });

  it('a reset mid-JSON body: 502 upstream_unreachable, not retried (the reply had begun)', async () => {
    mock.handler = (_req, res) => {
      const text = JSON.stringify(chatCompletion({ content: 'Hello!' }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, 40));
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const r = await send();
    expect(r.status).toBe(502);
    expect(expectEnvelope(r)).toMatchObject({ type: 'server_error', code: 'upstream_unreachable' });
    expect(r.ms).toBeLessThan(3_000);
    expect(mock.requests).toHaveLength(1);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 502,
      attempts: 1,
      target: 'mock',
      upstreamStatus: 200,
    });
  });
});

describe('timeouts', () => {
  it('an upstream that accepts and never answers: 504 upstream_timeout after first_byte', async () => {
    mock.handler = () => {}; // never answers
    const r = await send();
    expect(r.status).toBe(504);
    expect(expectEnvelope(r)).toEqual({
      message: "Upstream target 'mock' timed out (waiting for the first byte).",
      type: 'server_error',
      param: null,
      code: 'upstream_timeout',
    });
    expect(r.ms).toBeGreaterThanOrEqual(150);
    expect(r.ms).toBeLessThan(3_000);
    // A request the upstream may be working on is not sent again.
    expect(mock.requests).toHaveLength(1);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 504,
      attempts: 1,
      target: 'mock',
      upstreamStatus: null,
      error: { code: 'upstream_timeout' },
    });
  });

  it('never answers a stream request: the same 504 envelope', async () => {
    mock.handler = () => {};
    const r = await send(STREAM_BODY);
    expect(r.status).toBe(504);
    expect(expectEnvelope(r).code).toBe('upstream_timeout');
    expect(r.ms).toBeLessThan(3_000);
  });

  it('headers, then a stalled JSON body: 504 upstream_timeout (idle)', async () => {
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-1","choices":[');
    };
    const r = await send();
    expect(r.status).toBe(504);
    expect(expectEnvelope(r)).toEqual({
      message: "Upstream target 'mock' timed out (idle between chunks).",
      type: 'server_error',
      param: null,
      code: 'upstream_timeout',
    });
    expect(r.ms).toBeGreaterThanOrEqual(150);
    expect(r.ms).toBeLessThan(3_000);
    expect(mock.requests).toHaveLength(1);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 504,
      attempts: 1,
      target: 'mock',
      upstreamStatus: 200,
    });
  });

  it('a stream that stalls after a chunk: 200, then error + response.failed upstream_timeout', async () => {
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: 'Hel' }))}\n\n`);
    };
    const r = await send(STREAM_BODY);
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(3_000);
    const { events, terminal } = streamEvents(r.text);
    expect(terminal.type).toBe('response.failed');
    const error = events.find((e) => e.type === 'error');
    expect(error).toMatchObject({ code: 'upstream_timeout', message: expect.stringContaining('idle') });
    // The partial text reached the client before the stall.
    expect(events.some((e) => e.type === 'response.output_text.delta' && e.delta === 'Hel')).toBe(true);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 200,
      stream: true,
      outcome: 'failed',
      attempts: 1,
      target: 'mock',
    });
  });

  it('dripping one byte per 3 ms under a 200 ms idle timeout still succeeds', async () => {
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      drip(res, JSON.stringify(chatCompletion({ content: 'Slow.', usage: null })), 3);
    };
    const r = await send();
    expect(r.status, r.text).toBe(200);
    expect(r.json.output[0].content[0].text).toBe('Slow.');
    expect(r.ms).toBeLessThan(10_000);
    expect(await requestLine(proxy, r.id)).toMatchObject({ status: 200, attempts: 1, upstreamStatus: 200 });
  });

  it('dripping past the total timeout: 504 upstream_timeout (total)', async () => {
    const short = await faultProxy(
      mock.baseUrl,
      'connect = "1s", first_byte = "5s", idle = "5s", total = "300ms"',
    );
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      drip(res, JSON.stringify(chatCompletion({ content: 'x'.repeat(2000) })), 3);
    };
    const r = await send(BODY, short);
    expect(r.status).toBe(504);
    expect(expectEnvelope(r)).toEqual({
      message: "Upstream target 'mock' timed out (total).",
      type: 'server_error',
      param: null,
      code: 'upstream_timeout',
    });
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.ms).toBeLessThan(3_000);
    expect(await requestLine(short, r.id)).toMatchObject({ status: 504, attempts: 1, target: 'mock' });
  });

  it('a stream that outlives the total timeout ends with response.failed upstream_timeout', async () => {
    const short = await faultProxy(
      mock.baseUrl,
      'connect = "1s", first_byte = "5s", idle = "5s", total = "400ms"',
    );
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }))}\n\n`);
      const timer = setInterval(() => {
        if (!res.destroyed) res.write(`data: ${JSON.stringify(chunk({ content: 'w ' }))}\n\n`);
      }, 50);
      res.on('close', () => clearInterval(timer));
    };
    const r = await send(STREAM_BODY, short);
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(3_000);
    const { events, terminal } = streamEvents(r.text);
    expect(terminal.type).toBe('response.failed');
    expect(events.find((e) => e.type === 'error')).toMatchObject({
      code: 'upstream_timeout',
      message: "Upstream target 'mock' timed out (total).",
    });
    expect(await requestLine(short, r.id)).toMatchObject({ status: 200, outcome: 'failed', attempts: 1 });
  });
});

describe('garbage from the upstream', () => {
  it('malformed JSON: 502 upstream_error, not retried', async () => {
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":"chatcmpl-1","choices":[{"message":');
    };
    const r = await send();
    expect(r.status).toBe(502);
    const e = expectEnvelope(r);
    expect(e).toMatchObject({ type: 'server_error', code: 'upstream_error', param: null });
    expect(e.message).toMatch(/^Upstream target 'mock' sent an invalid reply: the body is not JSON/);
    expect(mock.requests).toHaveLength(1);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 502,
      attempts: 1,
      target: 'mock',
      upstreamStatus: 200,
      error: { code: 'upstream_error' },
    });
  });

  it('a malformed SSE chunk: 200, then response.failed upstream_error', async () => {
    mock.handler = (_req, res) =>
      sendSse(res, [chunk({ role: 'assistant', content: 'Hi' }), '{"choices":[{"delta":'], { done: true });
    const r = await send(STREAM_BODY);
    expect(r.status).toBe(200);
    const { events, terminal } = streamEvents(r.text);
    expect(terminal.type).toBe('response.failed');
    expect(events.find((e) => e.type === 'error')).toMatchObject({
      code: 'upstream_error',
      message: expect.stringContaining('malformed chunk'),
    });
    expect(await requestLine(proxy, r.id)).toMatchObject({ status: 200, outcome: 'failed', attempts: 1 });
  });

  it('a redirect or 304 from the upstream: 502 upstream_error, not passed on', async () => {
    for (const [status, headers] of [
      [302, { location: 'http://elsewhere.example/v1/chat/completions' }],
      [304, {}],
    ] as const) {
      mock.requests.length = 0;
      mock.handler = (_req, res) => {
        res.writeHead(status, headers);
        res.end();
      };
      for (const body of [BODY, STREAM_BODY]) {
        const r = await send(body);
        expect(r.status, String(status)).toBe(502);
        expect(r.headers.get('location')).toBeNull();
        expect(expectEnvelope(r)).toMatchObject({
          message: `Upstream target 'mock' failed with HTTP ${status}: HTTP ${status}`,
          type: 'server_error',
          code: 'upstream_error',
        });
        expect(await requestLine(proxy, r.id)).toMatchObject({
          status: 502,
          attempts: 1,
          upstreamStatus: status,
        });
      }
      expect(mock.requests).toHaveLength(2);
    }
  });

  it('a truncated SSE stream (EOF without [DONE] or finish_reason): response.failed', async () => {
    mock.handler = (_req, res) =>
      sendSse(res, [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Half an ans' })], {
        done: false,
      });
    const r = await send(STREAM_BODY);
    expect(r.status).toBe(200);
    const { events, terminal } = streamEvents(r.text);
    expect(terminal.type).toBe('response.failed');
    expect(events.find((e) => e.type === 'error')).toMatchObject({
      code: 'upstream_error',
      message: 'the upstream stream ended unexpectedly',
    });
    // The failed Response's error uses the spec's code enum.
    expect(terminal.response.error).toMatchObject({ code: 'server_error', message: expect.any(String) });
    expect(await requestLine(proxy, r.id)).toMatchObject({ status: 200, outcome: 'failed', attempts: 1 });
  });

  it('a stream reset mid-way: response.failed, the client connection still ends cleanly', async () => {
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: 'Par' }))}\n\n`);
      setTimeout(() => res.socket?.destroy(), 30);
    };
    const r = await send(STREAM_BODY);
    expect(r.status).toBe(200);
    const { events, terminal } = streamEvents(r.text);
    expect(terminal.type).toBe('response.failed');
    expect(events.find((e) => e.type === 'error')?.code).toBe('upstream_unreachable');
    expect(await requestLine(proxy, r.id)).toMatchObject({ status: 200, outcome: 'failed', attempts: 1 });
  });
});

describe('retries', () => {
  /** Answers `first` for the first `n` attempts, then a normal reply (SSE for stream requests). */
  function failThenOk(n: number, first: (res: ServerResponse) => void) {
    mock.handler = (req, res) => {
      if (mock.requests.length <= n) first(res);
      else if (req.body?.stream === true) sendSse(res, wordChunks(['Hello', ' again']));
      else sendJson(res, 200, chatCompletion({ content: 'Hello again' }));
    };
  }

  it('429 with Retry-After: 0, then 200: retried at once, the client sees 200 after 2 attempts', async () => {
    failThenOk(1, (res) => sendJson(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '0' }));
    const r = await send();
    expect(r.status).toBe(200);
    expect(r.json.output[0].content[0].text).toBe('Hello again');
    expect(r.ms).toBeLessThan(3_000);
    expect(mock.requests).toHaveLength(2);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 200,
      attempts: 2,
      target: 'mock',
      upstreamStatus: 200,
    });
  });

  it('429 with Retry-After: 1, then 200: waits the second before retrying', async () => {
    failThenOk(1, (res) => sendJson(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '1' }));
    const r = await send();
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThanOrEqual(950);
    expect(r.ms).toBeLessThan(5_000);
    expect(mock.requests).toHaveLength(2);
    expect((await requestLine(proxy, r.id)).attempts).toBe(2);
  });

  it('429 with a Retry-After longer than max_delay: no retry, 429 and the Retry-After passed on', async () => {
    mock.handler = (_req, res) =>
      sendJson(
        res,
        429,
        { error: { message: 'Quota exceeded.', type: 'requests' } },
        { 'retry-after': '30' },
      );
    const r = await send();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('30');
    expect(expectEnvelope(r)).toEqual({
      message: 'Quota exceeded.',
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    });
    expect(r.ms).toBeLessThan(3_000);
    expect(mock.requests).toHaveLength(1);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 429,
      attempts: 1,
      target: 'mock',
      upstreamStatus: 429,
    });
  });

  it('429 on every attempt: 429 rate_limit_exceeded after max+1 attempts', async () => {
    mock.handler = (_req, res) => sendJson(res, 429, 'busy', { 'retry-after': '0' });
    const r = await send();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('0');
    expect(expectEnvelope(r)).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(mock.requests).toHaveLength(3);
    expect((await requestLine(proxy, r.id)).attempts).toBe(3);
  });

  it('503 twice, then 200: the client sees 200 after 3 attempts', async () => {
    failThenOk(2, (res) => sendJson(res, 503, { error: { message: 'overloaded' } }));
    const r = await send();
    expect(r.status).toBe(200);
    expect(mock.requests).toHaveLength(3);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 200,
      attempts: 3,
      target: 'mock',
      upstreamStatus: 200,
    });
  });

  it('503 twice, then a stream: the stream completes after 3 attempts', async () => {
    failThenOk(2, (res) => sendJson(res, 503, { error: { message: 'overloaded' } }));
    const r = await send(STREAM_BODY);
    expect(r.status).toBe(200);
    const { terminal } = streamEvents(r.text);
    expect(terminal.type).toBe('response.completed');
    expect(terminal.response.output[0].content[0].text).toBe('Hello again');
    expect(mock.requests).toHaveLength(3);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 200,
      stream: true,
      outcome: 'completed',
      attempts: 3,
      usage: { input: 7, output: 3 },
    });
  });

  it('500 on every attempt: 502 upstream_error naming the target after max+1 attempts', async () => {
    mock.handler = (_req, res) => sendJson(res, 500, { error: { message: 'CUDA out of memory' } });
    const r = await send();
    expect(r.status).toBe(502);
    expect(expectEnvelope(r)).toEqual({
      message: "Upstream target 'mock' failed with HTTP 500: CUDA out of memory",
      type: 'server_error',
      param: null,
      code: 'upstream_error',
    });
    expect(r.ms).toBeLessThan(3_000);
    expect(mock.requests).toHaveLength(3);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 502,
      attempts: 3,
      target: 'mock',
      upstreamStatus: 500,
    });
  });

  it('401: not retried, 401 carried with the upstream message and type (the key redacted)', async () => {
    mock.handler = (req, res) =>
      sendJson(res, 401, {
        error: {
          message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    const r = await send();
    expect(r.status).toBe(401);
    expect(expectEnvelope(r)).toEqual({
      message: 'Incorrect API key provided: [REDACTED].',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    });
    expect(r.text).not.toContain(UPSTREAM_KEY);
    expect(mock.requests).toHaveLength(1);
    expect(await requestLine(proxy, r.id)).toMatchObject({
      status: 401,
      attempts: 1,
      target: 'mock',
      upstreamStatus: 401,
    });
  });

  it('400 from the upstream: not retried, status, message and param carried', async () => {
    mock.handler = (_req, res) =>
      sendJson(res, 400, {
        error: { message: 'max_tokens is too large', type: 'invalid_request_error', param: 'max_tokens' },
      });
    const r = await send();
    expect(r.status).toBe(400);
    expect(expectEnvelope(r)).toEqual({
      message: 'max_tokens is too large',
      type: 'invalid_request_error',
      param: 'max_tokens',
      code: null,
    });
    expect(mock.requests).toHaveLength(1);
  });

  it('a client that goes away during the backoff stops the retries', async () => {
    mock.handler = (_req, res) => sendJson(res, 429, 'busy', { 'retry-after': '2' });
    const controller = new AbortController();
    const pending = fetch(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(BODY),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await sleep(300);
    expect(mock.requests).toHaveLength(1);
    controller.abort();
    await pending;
    await sleep(2_200);
    expect(mock.requests).toHaveLength(1);
  });
});
