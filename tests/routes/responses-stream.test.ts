/**
 * Streaming end to end: the real proxy in front of a real HTTP mock Chat Completions server, read
 * by the official clients (openai 7.x and 6.x) and as raw SSE bytes.
 */
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import OpenAI6 from 'openai6';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MockUpstream, type RecordedRequest, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { assertValidEvent, assertValidResponse } from '../helpers/spec-validator.js';
import {
  checkStream,
  FIXTURES,
  type Json,
  normalizeEvents,
  normalizeResponse,
  parseSseText,
  type StreamFixture,
  WITH_REPLY,
} from '../stream/fixtures.js';

const NO_RETRIES = 'retries = { max = 0 }';

let upstream: MockUpstream;
let proxy: TestProxy;
let client: OpenAI;
let client6: OpenAI;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  // No retries: these tests are about what one upstream answer becomes.
  proxy = await startProxy(oneTarget(upstream.baseUrl, NO_RETRIES));
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  // The 6.x client has its own (older) types; the calls used here are the same in both.
  client6 = new OpenAI6({
    baseURL: `${proxy.url}/v1`,
    apiKey: 'client-key',
    maxRetries: 0,
  }) as unknown as OpenAI;
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
});

const BODY = { model: 'test-model', input: 'Hi', stream: true };

/** The mock answers a fixture: SSE when asked to stream, its JSON reply otherwise. */
function serve(f: StreamFixture) {
  return (req: RecordedRequest, res: ServerResponse) => {
    if (req.body?.stream === true) sendSse(res, f.chunks, { done: f.done !== false });
    else sendJson(res, 200, f.reply);
  };
}

/** POSTs and reads the whole reply as text (the raw SSE bytes, decoded). */
async function post(body: unknown, base = proxy.url) {
  const r = await fetch(`${base}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

async function rawStream(body: unknown = BODY, base = proxy.url) {
  const r = await post(body, base);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/event-stream\b/);
  expect(r.headers.get('cache-control')).toBe('no-cache');
  expect(r.headers.get('x-accel-buffering')).toBe('no');
  expect(r.headers.get('x-request-id')).toMatch(/^req_/);
  expect(r.headers.get('content-length')).toBeNull();
  const { events, comments } = parseSseText(r.text);
  return { events, comments, final: checkStream(events), text: r.text };
}

/** Removes what the SDKs add to a Response (convenience and parsed fields). */
function stripSdk(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripSdk);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (['output_text', 'output_parsed', 'parsed', 'parsed_arguments'].includes(k)) continue;
    out[k] = stripSdk(v);
  }
  return out;
}

const expectedOutput = (f: StreamFixture) =>
  f.events
    .flat()
    .filter((e) => e.type === 'response.output_item.done')
    .map((e) => e.item);

const clients = [
  ['openai 7.x', () => client],
  ['openai 6.x', () => client6],
] as const;

const OK_FIXTURES = FIXTURES.filter((f) => f.status !== 'failed');
const FAILED_FIXTURES = FIXTURES.filter((f) => f.status === 'failed');
const TEXT = FIXTURES.find((f) => f.name.startsWith('OpenAI: role-only')) as StreamFixture;

describe('the upstream request', () => {
  it('asks the upstream to stream, with usage, and accepts text/event-stream', async () => {
    upstream.handler = serve(TEXT);
    await rawStream();
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.last.path).toBe('/v1/chat/completions');
    expect(upstream.last.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(upstream.last.headers.accept).toBe('text/event-stream');
  });

  it('POST /response streams too', async () => {
    upstream.handler = serve(TEXT);
    const r = await fetch(`${proxy.url}/response`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(BODY),
    });
    expect(normalizeEvents(parseSseText(await r.text()).events)).toEqual(TEXT.events.flat());
  });
});

describe('raw SSE bytes: headers, framing, exact events', () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    upstream.handler = serve(fixture);
    const { events, final, text } = await rawStream();
    expect(normalizeEvents(events)).toEqual(fixture.events.flat());
    expect(final.status).toBe(fixture.status);
    expect(final.usage).toEqual(fixture.usage);
    expect(text.startsWith('event: response.created\ndata: {')).toBe(true);
  });
});

describe.each(clients)('client.responses.stream() with %s', (_sdkName, sdk) => {
  it.each(OK_FIXTURES.map((f) => [f.name, f] as const))('accepts: %s', async (_name, fixture) => {
    upstream.handler = serve(fixture);
    const stream = sdk().responses.stream({ model: 'test-model', input: 'Hi' });
    const seen: Json[] = [];
    for await (const event of stream) seen.push(event);
    const final = stripSdk(await stream.finalResponse());
    assertValidResponse(final);
    for (const e of seen) assertValidEvent(stripSdk(e));
    expect(seen.map((e) => e.type)).toEqual(fixture.events.flat().map((e) => e.type));
    expect(seen.map((e) => e.sequence_number)).toEqual(seen.map((_, i) => i));
    expect(final.status).toBe(fixture.status);
    expect(final.usage).toEqual(fixture.usage);
    expect(normalizeResponse(final).output).toEqual(expectedOutput(fixture));
    // The ids the client saw streaming are the ids of the final output.
    const added = seen.filter((e) => e.type === 'response.output_item.added').map((e) => e.item.id);
    expect(final.output.map((i: Json) => i.id)).toEqual(added);
  });

  it.each(FAILED_FIXTURES.map((f) => [f.name, f] as const))('throws for: %s', async (_name, fixture) => {
    upstream.handler = serve(fixture);
    const stream = sdk().responses.stream({ model: 'test-model', input: 'Hi' });
    const message = (fixture.events.flat().find((e) => e.type === 'error') as Json).message;
    const err = await (async () => {
      for await (const _ of stream);
      return stream.finalResponse();
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toContain(message);
    if (sdk() === client) expect(err).toBeInstanceOf(OpenAI.APIError);
  });
});

describe('streamed final Response == non-streamed Response for the same upstream content', () => {
  it.each(WITH_REPLY.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    upstream.handler = serve(fixture);
    const { final } = await rawStream();
    const plain = await post({ model: 'test-model', input: 'Hi' });
    expect(plain.status).toBe(200);
    const nonStreamed = JSON.parse(plain.text);
    assertValidResponse(nonStreamed);
    expect(normalizeResponse(final)).toEqual(normalizeResponse(nonStreamed));
  });

  it('and through the SDK: stream().finalResponse() equals create()', async () => {
    for (const fixture of WITH_REPLY) {
      upstream.handler = serve(fixture);
      const streamed = await client.responses.stream({ model: 'test-model', input: 'Hi' }).finalResponse();
      const created = await client.responses.create({ model: 'test-model', input: 'Hi' });
      expect(normalizeResponse(stripSdk(streamed))).toEqual(normalizeResponse(stripSdk(created)));
    }
  });
});

describe('upstream errors before the stream starts: real status and a JSON envelope', () => {
  const cases: Array<[number, Json, number, Json]> = [
    [
      400,
      {
        error: {
          message: 'context too long',
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      },
      400,
      {
        message: 'context too long',
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    ],
    [404, { error: { message: 'no such model', type: 'NotFoundError', param: null, code: null } }, 404, null],
    [429, { error: { message: 'Slow down.', type: 'requests', param: null, code: null } }, 429, null],
    [500, { error: { message: 'CUDA out of memory', type: 'InternalError', code: 500 } }, 502, null],
    [503, { detail: 'overloaded' }, 502, null],
  ];

  it.each(cases)('upstream %i -> %#', async (status, body, expected, envelope) => {
    upstream.handler = (_req, res) =>
      sendJson(res, status, body, status === 429 ? { 'retry-after': '3' } : {});
    const r = await post(BODY);
    expect(r.status).toBe(expected);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const json = JSON.parse(r.text);
    expect(Object.keys(json)).toEqual(['error']);
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    if (envelope) expect(json.error).toEqual(envelope);
    if (status === 429) expect(r.headers.get('retry-after')).toBe('3');
    if (status >= 500) expect(json.error).toMatchObject({ type: 'server_error', code: 'upstream_error' });
    expect(r.text).not.toContain('event:');

    for (const [, sdk] of clients) {
      const err = await sdk()
        .responses.stream({ model: 'test-model', input: 'Hi' })
        .finalResponse()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: expected });
    }
  });

  it('an unreachable upstream -> 502 JSON, not a stream', async () => {
    const dead = await MockUpstream.start();
    const url = dead.baseUrl;
    await dead.close();
    const p = await startProxy(oneTarget(url, NO_RETRIES), {}, 'error');
    try {
      const r = await post(BODY, p.url);
      expect(r.status).toBe(502);
      expect(JSON.parse(r.text).error).toMatchObject({ type: 'server_error', code: 'upstream_unreachable' });
    } finally {
      await p.close();
    }
  });
});

describe('failures after the stream started', () => {
  const resetAfterHel = async (_req: RecordedRequest, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`,
    );
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hel' } }] })}\n\n`);
    await sleep(40);
    res.socket?.destroy();
  };

  it('upstream socket reset -> error + response.failed with the partial output', async () => {
    upstream.handler = resetAfterHel;
    const { events, final } = await rawStream();
    expect(final.status).toBe('failed');
    expect(final.output).toEqual([
      expect.objectContaining({
        type: 'message',
        status: 'incomplete',
        content: [expect.objectContaining({ text: 'Hel' })],
      }),
    ]);
    const error = events.at(-2);
    expect(error).toMatchObject({
      type: 'error',
      code: 'upstream_unreachable',
      error: { type: 'server_error' },
    });
    expect(error.message).toMatch(/connection closed by the upstream/);
  });

  it('SDK 7 throws an APIError for it; SDK 6 throws too', async () => {
    upstream.handler = resetAfterHel;
    const deltas: string[] = [];
    const stream = client.responses.stream({ model: 'test-model', input: 'Hi' });
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const err = await stream.finalResponse().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toMatch(/connection closed by the upstream/);
    expect(deltas).toEqual(['Hel']);

    const err6 = await client6.responses
      .stream({ model: 'test-model', input: 'Hi' })
      .finalResponse()
      .catch((e: unknown) => e);
    expect(err6).toBeInstanceOf(Error);
  });

  it('upstream idle timeout -> error (upstream_timeout) + response.failed; SDK 7 throws an APIError', async () => {
    const idleProxy = await startProxy(
      oneTarget(upstream.baseUrl, `${NO_RETRIES}\ntimeouts = { idle = "200ms" }`),
      {},
      'error',
    );
    try {
      upstream.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hel' } }] })}\n\n`);
        // then silence, connection open
      };
      const { events, final } = await rawStream(BODY, idleProxy.url);
      expect(final.output[0]).toMatchObject({ status: 'incomplete', content: [{ text: 'Hel' }] });
      expect(events.at(-2)).toMatchObject({ type: 'error', code: 'upstream_timeout' });
      const sdk = new OpenAI({ baseURL: `${idleProxy.url}/v1`, apiKey: 'k', maxRetries: 0 });
      const err = await sdk.responses
        .stream({ model: 'test-model', input: 'Hi' })
        .finalResponse()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as Error).message).toMatch(/timed out/);
    } finally {
      await idleProxy.close();
    }
  });

  it('the stream log line reports the outcome', async () => {
    upstream.handler = resetAfterHel;
    const before = proxy.logs.length;
    await rawStream();
    upstream.handler = serve(TEXT);
    await rawStream();
    await sleep(50);
    // One line per stream (Fastify's onResponse also fires for the hijacked reply), with the outcome.
    const lines = proxy.logs.slice(before).filter((l) => l.msg === 'request');
    expect(lines).toEqual([
      expect.objectContaining({
        status: 200,
        stream: true,
        outcome: 'failed',
        target: 'mock',
        upstreamStatus: 200,
      }),
      expect.objectContaining({
        status: 200,
        stream: true,
        outcome: 'completed',
        usage: { input: 8, output: 9 },
      }),
    ]);
  });
});

describe('client disconnects', () => {
  /** Streams from the proxy with a raw socket; resolves on the first bytes of the body. */
  function openStream(body: unknown = BODY) {
    const req = httpRequest(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      agent: false,
    });
    req.on('error', () => {});
    req.end(JSON.stringify(body));
    const response = once(req, 'response').then(([res]) => res as IncomingMessage);
    response.catch(() => {}); // a test that destroys the request early never awaits it
    return { req, response };
  }

  async function waitFor(pred: () => boolean, ms = 3_000): Promise<void> {
    const until = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > until) throw new Error('timed out waiting');
      await sleep(5);
    }
  }

  it('abort after the first event -> the upstream connection is closed within 100 ms', async () => {
    let upstreamClosedAt = 0;
    let writes = 0;
    upstream.handler = async (_req, res) => {
      res.socket?.once('close', () => {
        upstreamClosedAt = Date.now();
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // A slow upstream that would go on for a long time.
      while (!res.destroyed && writes < 500) {
        res.write(
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `t${writes++} ` } }] })}\n\n`,
        );
        await sleep(20);
      }
    };
    const closedBefore = upstream.closedConnections.length;
    const { req, response } = openStream();
    const res = await response;
    expect(res.statusCode).toBe(200);
    let text = '';
    for await (const chunk of res) {
      text += chunk;
      if (text.includes('event: response.created')) break; // breaking destroys the socket
    }
    req.destroy();
    const abortedAt = Date.now();
    await waitFor(() => upstreamClosedAt !== 0);
    expect(upstreamClosedAt - abortedAt).toBeLessThan(100);
    expect(upstream.closedConnections.slice(closedBefore).some((t) => t >= abortedAt)).toBe(true);
    expect(writes).toBeLessThan(100);
    await waitFor(() => proxy.logs.some((l) => l.msg === 'request' && l.outcome === 'client_closed'));
  });

  it('abort before the upstream answered -> upstream closed within 100 ms, logged as 499, no error', async () => {
    let upstreamClosedAt = 0;
    let received = false;
    upstream.handler = (_req, res) => {
      received = true;
      res.socket?.once('close', () => {
        upstreamClosedAt = Date.now();
      });
      // Never answers.
    };
    const logsBefore = proxy.logs.length;
    const { req } = openStream();
    await waitFor(() => received);
    req.destroy();
    const abortedAt = Date.now();
    await waitFor(() => upstreamClosedAt !== 0);
    expect(upstreamClosedAt - abortedAt).toBeLessThan(100);
    await waitFor(() => proxy.logs.slice(logsBefore).some((l) => l.msg === 'request'));
    const newLogs = proxy.logs.slice(logsBefore);
    expect(newLogs.filter((l) => l.msg === 'request')).toEqual([
      expect.objectContaining({ status: 499, stream: true }),
    ]);
    expect(newLogs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('a client that does not read gets backpressure: the upstream is paused, not buffered', async () => {
    const piece = 'x'.repeat(128 * 1024);
    const line = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece } }] })}\n\n`;
    const total = 800 * line.length; // ~100 MB
    let written = 0;
    let blockedSince = 0;
    let finished = false;
    let closed = false;
    upstream.handler = async (_req, res) => {
      res.on('close', () => {
        closed = true;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      while (written < total && !res.destroyed) {
        written += line.length;
        if (!res.write(line)) {
          blockedSince = Date.now();
          await drainedOrClosed(res);
          blockedSince = 0;
        }
      }
      finished = written >= total;
      if (!res.destroyed) res.end('data: [DONE]\n\n');
    };
    const { req, response } = openStream();
    const res = await response; // never read
    expect(res.statusCode).toBe(200);
    // Wait until the upstream has been unable to write for 500 ms (or, with no backpressure, is done).
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const timer = setInterval(() => {
        if (finished || (blockedSince !== 0 && Date.now() - blockedSince > 500)) {
          clearInterval(timer);
          resolve();
        } else if (Date.now() - started > 15_000) {
          clearInterval(timer);
          reject(new Error(`no stall seen; written ${written} of ${total}`));
        }
      }, 10);
    });
    expect(finished).toBe(false);
    expect(written).toBeLessThan(total / 2);
    req.destroy();
    await (async () => {
      const until = Date.now() + 3_000;
      while (!closed && Date.now() < until) await sleep(10);
    })();
    expect(closed).toBe(true);
  });
});

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

describe('keep-alive comments', () => {
  let kaProxy: TestProxy;
  beforeAll(async () => {
    kaProxy = await startProxy(
      oneTarget(upstream.baseUrl, NO_RETRIES),
      {},
      'warn',
      'stream_keepalive = "50ms"',
    );
  });
  afterAll(async () => {
    await kaProxy?.close();
  });

  const silentMiddle = async (_req: RecordedRequest, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hel' } }] })}\n\n`);
    await sleep(400);
    res.write(
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] })}\n\n`,
    );
    res.end('data: [DONE]\n\n');
  };

  it('appear while the upstream is silent when configured, between whole events', async () => {
    upstream.handler = silentMiddle;
    const { comments, final, text } = await rawStream(BODY, kaProxy.url);
    expect(comments.length).toBeGreaterThanOrEqual(1);
    expect(new Set(comments)).toEqual(new Set([': keep-alive']));
    expect(final.output[0].content[0].text).toBe('Hello');
    // Only in the silent stretch: after the first delta and before the second.
    const first = text.indexOf(': keep-alive');
    expect(first).toBeGreaterThan(text.indexOf('"delta":"Hel"'));
    expect(text.lastIndexOf(': keep-alive')).toBeLessThan(text.indexOf('"delta":"lo"'));
  });

  it('both SDKs accept a stream with keep-alive comments', async () => {
    upstream.handler = silentMiddle;
    for (const sdk of [
      new OpenAI({ baseURL: `${kaProxy.url}/v1`, apiKey: 'k', maxRetries: 0 }),
      new OpenAI6({ baseURL: `${kaProxy.url}/v1`, apiKey: 'k', maxRetries: 0 }) as unknown as OpenAI,
    ]) {
      const final = await sdk.responses.stream({ model: 'test-model', input: 'Hi' }).finalResponse();
      expect(final.status).toBe('completed');
      expect(final.output_text).toBe('Hello');
    }
  });

  it('do not appear by default', async () => {
    upstream.handler = silentMiddle;
    const { comments, text } = await rawStream();
    expect(comments).toEqual([]);
    expect(text.split('\n').filter((l) => l.startsWith(':'))).toEqual([]);
  });
});
