/**
 * A request storm of malformed and random bodies against POST /v1/responses: random JSON values,
 * random types for every known field, raw garbage bytes. No answer may be a 5xx, every error is a
 * well-formed envelope with a request id, and the proxy keeps serving afterwards.
 *
 * property.test.ts covers the same ground with fast-check (shrinking); this storm adds raw bytes,
 * wrong content types and concurrency, from a seeded generator: set STORM_SEED to replay a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletion, MockUpstream, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { expectEnvelope, wordChunks } from './helpers.js';

const SEED = Number(process.env.STORM_SEED ?? 0x5eed_2026);
const CASES = 600;
const CONCURRENCY = 12;

/** mulberry32: a small, fast, seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const STRINGS = [
  '',
  ' ',
  'Hi',
  'test-model',
  'x'.repeat(5000),
  '\u0000',
  '\ud800',
  '😀 ünïcødé',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal that looks like a placeholder
  '${HOME}',
  '../../etc/passwd',
  '%s%n',
  'null',
  '{"a":1}',
  '\r\n\r\nHTTP/1.1 200 OK',
];
const NUMBERS = [0, -1, 1, 1.5, -0.5, 2, 3, 20, 21, 1e308, -1e308, 2 ** 53 + 1, 1e-300, 4294967296];

function randomString(r: Rng): string {
  if (r.chance(0.6)) return r.pick(STRINGS);
  let s = '';
  const n = r.int(20);
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(0x3000));
  return s;
}

/** Any JSON value, depth-limited. */
function randomJson(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 3 ? 4 : 7);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick(NUMBERS);
    case 3:
      return randomString(r);
    case 4:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = r.int(4);
      for (let i = 0; i < n; i++)
        o[r.chance(0.5) ? r.pick(FIELD_NAMES) : randomString(r)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

/** Values close to valid for each field (so the storm also reaches translation), plus junk. */
const PLAUSIBLE: Record<string, unknown[]> = {
  model: ['test-model', '', 'gpt-4o', 'x'.repeat(300)],
  input: [
    'Hi',
    [],
    [{}],
    [{ role: 'user', content: 'Hi' }],
    [{ role: 'user', content: [{ type: 'input_text', text: 'x' }] }],
    [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'x' }] }],
    [{ type: 'message', role: 'system', content: [{ type: 'input_text' }] }],
    [{ role: 'developer', content: 5 }],
    [{ role: 'weird', content: 'x' }],
    [{ type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' }],
    [{ type: 'function_call', call_id: 'c1', name: 'f', arguments: 7 }],
    [{ type: 'function_call_output', call_id: 'c1', output: 'ok' }],
    [{ type: 'function_call_output', output: ['x'] }],
    [{ type: 'reasoning', summary: [] }],
    [{ type: 'reasoning', summary: [{ type: 'summary_text', text: 'hm' }], encrypted_content: 'e' }],
    [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:image/png;base64,AAAA' }] }],
    [{ role: 'user', content: [{ type: 'input_image' }] }],
    [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }],
    [{ role: 'user', content: [{ type: 'input_audio' }] }],
    [{ type: 'item_reference', id: 'x' }],
    [{ type: 'computer_call' }],
  ],
  instructions: ['Be brief.', null, ''],
  stream: [true, false, null],
  stream_options: [{ include_obfuscation: false }, {}, null],
  tools: [
    [],
    [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }],
    [{ type: 'function', name: 'f', strict: true, parameters: { type: 'object' } }],
    [{ type: 'function' }],
    [{ type: 'function', name: 5 }],
    [{ type: 'web_search' }],
    [{ type: 'custom', name: 'c' }],
    [{ type: 'mcp' }],
  ],
  tool_choice: [
    'auto',
    'none',
    'required',
    'bogus',
    { type: 'function', name: 'f' },
    { type: 'function' },
    { type: 'x' },
  ],
  parallel_tool_calls: [true, false, null],
  max_output_tokens: [1, 16, 0, -5, 1.5, 1e10, null],
  max_tool_calls: [0, 1, null],
  temperature: [0, 0.7, 2, null],
  top_p: [0, 0.5, 1, null],
  top_logprobs: [0, 5, 20, null],
  text: [
    {},
    { format: { type: 'text' } },
    { format: { type: 'json_object' } },
    { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } } },
    { format: { type: 'json_schema', name: 'x', schema: { type: 'object' }, strict: true } },
    { format: { type: 'json_schema' } },
    { format: { type: 'json_schema', name: 5, schema: 'no' } },
    { format: { type: 'bogus' } },
    { format: null },
    { verbosity: 'low' },
    { verbosity: 42 },
  ],
  reasoning: [{ effort: 'high' }, { effort: 'bogus' }, { summary: 'auto' }, { effort: null }, {}, null],
  metadata: [{ a: 'b' }, {}, null],
  store: [true, false, null],
  background: [true, false, null],
  previous_response_id: ['resp_123', null],
  include: [[], ['reasoning.encrypted_content'], ['message.output_text.logprobs'], ['bogus'], null],
  user: ['u1'],
  safety_identifier: ['s', null],
  prompt_cache_key: ['k', null],
  service_tier: ['auto', 'default', 'flex', 'priority', 'bogus', null],
  truncation: ['auto', 'disabled', 'bogus', null],
  prompt: [{ id: 'p' }],
  conversation: ['c'],
  modalities: [['text']],
  seed: [1],
  n: [2],
};
const FIELD_NAMES = Object.keys(PLAUSIBLE);

/** An object body: the model (usually), a random subset of fields, each plausible or random. */
function randomRequest(r: Rng): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (r.chance(0.85)) body.model = r.chance(0.8) ? 'test-model' : randomJson(r);
  if (r.chance(0.85)) body.input = r.chance(0.7) ? r.pick(PLAUSIBLE.input as unknown[]) : randomJson(r);
  const n = r.int(6);
  for (let i = 0; i < n; i++) {
    const field = r.pick(FIELD_NAMES);
    body[field] = r.chance(0.6) ? r.pick(PLAUSIBLE[field] as unknown[]) : randomJson(r);
  }
  if (r.chance(0.1)) body[randomString(r) || 'x'] = randomJson(r);
  return body;
}

const RAW_BODIES: Array<string | Buffer> = [
  '',
  ' ',
  '{',
  '}',
  '{"model":',
  '{"model":"test-model",}',
  "{'model':'test-model'}",
  '{"model":"test-model","input":"Hi"}garbage',
  'null',
  'true',
  '0',
  '"just a string"',
  '[]',
  '[{"model":"test-model"}]',
  '{"model":"test-model","input":"Hi","__proto__":{"admin":true}}',
  '{"model":"test-model","input":"Hi","constructor":{"prototype":{"x":1}}}',
  '{"model":"test-model","input":"Hi","model":5}',
  '\ufeff{"model":"test-model","input":"Hi"}',
  '{"model":"test-model","input":"\\ud800"}',
  '{"model":"test-model","input":"Hi","max_output_tokens":1e999}',
  `{"model":"test-model","input":"Hi","extra":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  `{"model":"test-model","input":${'['.repeat(3000)}${']'.repeat(3000)}}`,
  `{"model":"test-model","input":"Hi","metadata":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`,
  Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x81]),
  Buffer.from('{"model":"test-model","input":"\xff\xfe"}', 'latin1'),
];

interface Case {
  name: string;
  body: string | Buffer;
  contentType: string | null;
}

function cases(seed: number): Case[] {
  const r = prng(seed);
  const out: Case[] = RAW_BODIES.map((body, i) => ({
    name: `raw #${i}`,
    body,
    contentType: 'application/json',
  }));
  for (let i = 0; i < CASES; i++) {
    const kind = r.int(10);
    const body = kind === 0 ? JSON.stringify(randomJson(r)) : JSON.stringify(randomRequest(r));
    const contentType =
      kind === 1
        ? r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', null])
        : 'application/json';
    out.push({ name: `generated #${i} (seed ${seed})`, body, contentType });
  }
  return out;
}

let upstream: MockUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  upstream = await MockUpstream.start((req, res) => {
    if (req.body?.stream === true) sendSse(res, wordChunks(['Hello']));
    else sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
  });
  proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'info', 'body_limit = 1048576');
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

describe('a storm of malformed and random request bodies', () => {
  it(`never yields a 5xx; every error is an envelope with a request id (seed ${SEED})`, async () => {
    const all = cases(SEED);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const one = async (c: Case) => {
      const headers: Record<string, string> = {};
      if (c.contentType !== null) headers['content-type'] = c.contentType;
      const res = await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers, body: c.body });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const preview = String(c.body).slice(0, 300);
      try {
        expect(res.status).toBeLessThan(500);
        expect(res.headers.get('x-request-id')).toMatch(/^req_/);
        if (res.status === 200) {
          if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
            expect(text).toContain('event: response.created');
          } else {
            expect(JSON.parse(text)).toMatchObject({ object: 'response' });
          }
        } else {
          expect(res.status).toBeGreaterThanOrEqual(400);
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            // the envelope check reports it
          }
          const e = expectEnvelope({ json, text });
          if (res.status === 400 && e.code !== 'invalid_json') {
            // A 400 about a field names it (a body that is not an object has no param).
            expect(e.type).toBe('invalid_request_error');
          }
        }
      } catch (err) {
        failures.push(
          `${c.name}: ${res.status} ${text.slice(0, 300)}\n  body: ${preview}\n  ${(err as Error).message}`,
        );
      }
    };
    for (let i = 0; i < all.length; i += CONCURRENCY)
      await Promise.all(all.slice(i, i + CONCURRENCY).map(one));

    expect(failures, failures.slice(0, 5).join('\n\n')).toEqual([]);
    // The storm exercised both rejections and requests that went through.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(20);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);

    // Still alive, no proxy bug logged, one request line per request.
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
    const ok = await fetch(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-model', input: 'Hi' }),
    });
    expect(ok.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const bad = proxy.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(bad.map((l) => `${l.msg}: ${l.err?.message ?? ''}`)).toEqual([]);
    expect(proxy.logs.filter((l) => l.msg === 'request' && l.route === '/v1/responses')).toHaveLength(
      all.length + 1,
    );
  }, 60_000);
});
