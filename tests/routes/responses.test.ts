/**
 * POST /v1/responses over real HTTP: an unknown top-level field is ignored (the request still
 * succeeds) and named once in a debug line; no such line when every field is known, or at info.
 * A body nested too deep is refused before the upstream is called.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/http/body-reader.js';
import { chatCompletion, MockUpstream, sendJson } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';

const MSG = 'ignored request fields not in the spec';

let upstream: MockUpstream;
let proxy: TestProxy;
let quiet: TestProxy;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'debug');
  quiet = await startProxy(oneTarget(upstream.baseUrl), {}, 'info');
});

afterAll(async () => {
  await proxy?.close();
  await quiet?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
});

async function post(base: string, body: unknown, requestId: string) {
  const res = await fetch(`${base}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    json: (await res.json()) as { status: string; output: Array<{ content: Array<{ text: string }> }> },
  };
}

/** Waits for the request's access line, so every line of the request was written. */
async function linesOf(p: TestProxy, reqId: string) {
  await vi.waitFor(() => expect(p.logs.some((l) => l.reqId === reqId && l.msg === 'request')).toBe(true), {
    timeout: 3_000,
  });
  return p.logs.filter((l) => l.reqId === reqId);
}

describe('unknown request fields', () => {
  it('at debug: one line naming the ignored field, and the request succeeds', async () => {
    const r = await post(proxy.url, { model: 'test-model', input: 'Hi', foo: 1 }, 'ignored-1');
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('completed');
    expect(r.json.output[0]?.content[0]?.text).toBe('Hello!');
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.last.body).not.toHaveProperty('foo');

    const lines = (await linesOf(proxy, 'ignored-1')).filter((l) => l.msg === MSG);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'debug', ignored: ['foo'] });
  });

  it('names every unknown field, and none of the known ones', async () => {
    const r = await post(
      proxy.url,
      { model: 'test-model', input: 'Hi', temperature: 0.5, foo: 1, bar_baz: 'x' },
      'ignored-2',
    );
    expect(r.status).toBe(200);
    const lines = (await linesOf(proxy, 'ignored-2')).filter((l) => l.msg === MSG);
    expect(lines).toHaveLength(1);
    expect([...lines[0].ignored].sort()).toEqual(['bar_baz', 'foo']);
  });

  it('no line when every field is known', async () => {
    const r = await post(proxy.url, { model: 'test-model', input: 'Hi', temperature: 0.5 }, 'ignored-none');
    expect(r.status).toBe(200);
    expect((await linesOf(proxy, 'ignored-none')).filter((l) => l.msg === MSG)).toEqual([]);
  });

  it('no line at info, and the request still succeeds', async () => {
    const r = await post(quiet.url, { model: 'test-model', input: 'Hi', foo: 1 }, 'ignored-info');
    expect(r.status).toBe(200);
    expect((await linesOf(quiet, 'ignored-info')).filter((l) => l.msg === MSG)).toEqual([]);
  });
});

describe('a request that arrives after shutdown began', () => {
  it('gets a 503 server_shutting_down with Connection: close, on a connection still open for an earlier request', async () => {
    const slow = await MockUpstream.start((_req, res) => {
      setTimeout(() => sendJson(res, 200, chatCompletion({ content: 'late' })), 300);
    });
    const closing = await startProxy(oneTarget(slow.baseUrl), {}, 'info');
    try {
      const { port } = new URL(closing.url);
      const body = JSON.stringify({ model: 'test-model', input: 'Hi', store: false });
      const post = (id: string) =>
        `POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: ${id}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('utf8');
      });
      const ended = once(socket, 'close');
      // The first request is still in flight when shutdown begins; the second arrives after.
      socket.write(post('first'));
      await vi.waitFor(() => expect(slow.requests).toHaveLength(1));
      const shutdown = closing.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.write(post('second'));
      await ended;
      await shutdown;
      const replies = received.split(/(?=HTTP\/1\.1 )/);
      expect(replies).toHaveLength(2);
      expect(replies[0]).toMatch(/^HTTP\/1\.1 200 /);
      expect(replies[1]).toMatch(/^HTTP\/1\.1 503 /);
      expect(replies[1]).toMatch(/\r\nconnection: close\r\n/i);
      expect(replies[1]).toMatch(/\r\nx-request-id: second\r\n/i);
      const envelope = JSON.parse((replies[1] ?? '').slice((replies[1] ?? '').indexOf('\r\n\r\n') + 4));
      expect(envelope).toEqual({
        error: {
          message: 'The proxy is shutting down; retry the request.',
          type: 'server_error',
          param: null,
          code: 'server_shutting_down',
        },
      });
      expect(slow.requests).toHaveLength(1);
    } finally {
      await closing.close().catch(() => {});
      await slow.close();
    }
  });
});

describe('a body nested too deep', () => {
  // JSON.parse takes it, but it used to reach the upstream and then fail as a 500 where the proxy
  // serialised it again (the store's copy of the input), after the upstream's tokens were spent.
  it('in an unknown field of an input item: a 400 invalid_json, and the upstream is never called', async () => {
    const deep = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;
    const send = (n: number) =>
      fetch(`${proxy.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"model":"m","input":[{"role":"user","content":"hi","extra":${deep(n)}}]}`,
      });
    for (const n of [MAX_JSON_DEPTH, 5_000, 100_000]) {
      const res = await send(n);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          message: `We could not parse the JSON body of your request: it is nested more than ${MAX_JSON_DEPTH} levels deep`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_json',
        },
      });
    }
    expect(upstream.requests).toHaveLength(0);
    // Just under the limit (the field's arrays start at level 4): accepted, sent, answered.
    const ok = await send(MAX_JSON_DEPTH - 4);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { status: string }).status).toBe('completed');
    expect(upstream.requests).toHaveLength(1);
  });
});
