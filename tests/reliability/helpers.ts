/**
 * Shared by the reliability suite: raw HTTP calls to the proxy with timing, the one per-request
 * log line, the error envelope check, SSE parsing and chunk builders.
 */
import { createServer } from 'node:net';
import { expect, vi } from 'vitest';
import type { TestProxy } from '../helpers/proxy.js';
import { checkStream, type Json, parseSseText } from '../stream/fixtures.js';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Json;
  /** Milliseconds from sending the request to the end of the reply body. */
  ms: number;
}

/** POSTs `body` (a string is sent as it is) to `path` and reads the whole reply. */
export async function post(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
  path = '/v1/responses',
): Promise<Reply> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return read(res, t0);
}

export async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const t0 = performance.now();
  return read(await fetch(`${base}${path}`, { headers }), t0);
}

async function read(res: Response, t0: number): Promise<Reply> {
  const text = await res.text();
  let json: Json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: left null
  }
  return { status: res.status, headers: res.headers, text, json, ms: performance.now() - t0 };
}

/** Asserts the OpenAI error envelope (exactly these four keys, with the right types). */
export function expectEnvelope(reply: Pick<Reply, 'json' | 'text'>): {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
} {
  const json = reply.json;
  expect(json, reply.text).toBeTypeOf('object');
  expect(json, reply.text).not.toBeNull();
  expect(Object.keys(json)).toEqual(['error']);
  const e = json.error;
  expect(Object.keys(e).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof e.message).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
  expect(typeof e.type).toBe('string');
  expect(e.param === null || typeof e.param === 'string').toBe(true);
  expect(e.code === null || typeof e.code === 'string').toBe(true);
  // Never a stack trace.
  expect(reply.text).not.toMatch(/\n\s+at /);
  return e;
}

/** The one `request` line of a request id: waits for it, then checks no second one follows. */
export async function requestLine(proxy: TestProxy, id: string): Promise<Json> {
  await vi.waitFor(() => expect(proxy.logs.some((l) => l.reqId === id && l.msg === 'request')).toBe(true), {
    timeout: 3_000,
  });
  await new Promise((r) => setTimeout(r, 30));
  const lines = proxy.logs.filter((l) => l.reqId === id && l.msg === 'request');
  expect(lines).toHaveLength(1);
  return lines[0];
}

/** SSE text -> events, checked against the event grammar; returns the events and the terminal one. */
export function streamEvents(text: string): { events: Json[]; terminal: Json } {
  const { events } = parseSseText(text);
  checkStream(events);
  return { events, terminal: events[events.length - 1] };
}

/** A port nothing listens on: bind one, then close it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One streamed chat chunk. */
export function chunk(delta: Record<string, unknown>, finish: string | null = null, usage?: unknown): Json {
  return {
    id: 'chatcmpl-r',
    object: 'chat.completion.chunk',
    created: 1_800_000_000,
    model: 'test-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(usage === undefined ? {} : { usage }),
  };
}

export const USAGE_CHUNK = {
  id: 'chatcmpl-r',
  object: 'chat.completion.chunk',
  created: 1_800_000_000,
  model: 'test-model',
  choices: [],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
};

/** A complete stream: role, the words, stop, usage. */
export function wordChunks(words: readonly string[]): Json[] {
  return [
    chunk({ role: 'assistant', content: '' }),
    ...words.map((w) => chunk({ content: w })),
    chunk({}, 'stop'),
    USAGE_CHUNK,
  ];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
