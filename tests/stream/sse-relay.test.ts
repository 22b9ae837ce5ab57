/**
 * The relay (upstream SSE bytes -> parser -> translator -> client writes), driven directly with a
 * scripted upstream body and a recording response, and over real HTTP through the proxy.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type TargetConfig } from '../../src/config.js';
import { Cancellation } from '../../src/services/cancellation.js';
import { type ReplyBody, UpstreamClient, type UpstreamReply } from '../../src/services/upstream-client.js';
import { relayStream } from '../../src/stream/sse-relay.js';
import { StreamTranslator } from '../../src/stream/stream-translator.js';
import { createResponseContext } from '../../src/utils/response-envelope.js';
import { parseChatCompletion } from '../../src/utils/response-parser.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import {
  checkStream,
  FIXTURES,
  normalizeEvents,
  normalizeResponse,
  parseSseText,
  type StreamFixture,
  sseBody,
} from './fixtures.js';

/** A target as the configuration builds it (with an API key, to check redaction). */
const target = (baseUrl = 'http://127.0.0.1:9/v1', extra = ''): TargetConfig => {
  const toml = `[server]\n\n${oneTarget(baseUrl, `api_key_env = "MOCK_KEY"\n${extra}`)}`;
  return parseConfig(toml, 'test.toml', { MOCK_KEY: 'sk-secret-key-123' }).targets[0] as TargetConfig;
};

/** A response that records what the relay writes (what a client would read). */
class RecordingResponse extends Writable {
  status = 0;
  headers: Record<string, string> = {};
  text = '';
  /** The text of each write, in order. */
  writes: string[] = [];
  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    this.writes.push(chunk.toString('utf8'));
    cb();
  }
}

/**
 * An upstream reply whose body yields exactly the given reads, each on a later tick (as socket reads
 * arrive), waiting while the reader's promise is pending, as the real body does.
 */
function scriptedReply(reads: readonly Buffer[], headers: IncomingHttpHeaders = {}): UpstreamReply {
  let destroyed = false;
  const body: ReplyBody = {
    text: async () => Buffer.concat([...reads]).toString('utf8'),
    consume: async (read) => {
      for (const chunk of reads) {
        await new Promise((resolve) => setImmediate(resolve));
        if (destroyed) return;
        await read([chunk]);
      }
    },
    destroy: () => {
      destroyed = true;
    },
  };
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream', ...headers },
    body,
    failure: (err: unknown) => client.transportError(err),
  };
}

let client: UpstreamClient;
beforeAll(() => {
  client = new UpstreamClient(target());
});
afterAll(async () => {
  await client.close();
});

/** Runs the real relay over the given upstream reads; returns what the client received. */
async function relay(reads: readonly Buffer[], headers: IncomingHttpHeaders = {}, checkFraming = true) {
  const res = new RecordingResponse();
  const translator = new StreamTranslator(createResponseContext({ model: 'test-model', input: 'Hi' }));
  const outcome = await relayStream(
    res as unknown as ServerResponse,
    scriptedReply(reads, headers),
    translator,
    client,
    new Cancellation(),
    { keepAliveMs: 0, headers: { 'x-request-id': 'req_1' } },
  );
  // parseSseText checks every line with expect(); the byte-split loop runs thousands of relays.
  const events = checkFraming
    ? parseSseText(res.text).events
    : res.text
        .slice(0, -2)
        .split('\n\n')
        .map((block) => JSON.parse(block.slice(block.indexOf('\ndata: ') + 7)));
  return { res, outcome, events, translator };
}

const OPENAI_TEXT = FIXTURES.find((f) => f.name.startsWith('OpenAI: role-only')) as StreamFixture;
const VLLM = FIXTURES.find((f) => f.name.startsWith('vLLM')) as StreamFixture;

describe('relay: framing and outcome', () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const { res, outcome, events, translator } = await relay([Buffer.from(sseBody(fixture))]);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'content-type': expect.stringMatching(/^text\/event-stream/),
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-request-id': 'req_1',
    });
    expect(res.writableEnded).toBe(true);
    expect(normalizeEvents(events)).toEqual(fixture.events.flat());
    const final = checkStream(events);
    expect(final).toEqual(JSON.parse(JSON.stringify(translator.final)));
    expect(outcome).toBe(fixture.status);
  });
});

describe('relay: writes', () => {
  const run = async (beforeFinal?: () => Promise<null>) => {
    const res = new RecordingResponse();
    const translator = new StreamTranslator(createResponseContext({ model: 'test-model', input: 'Hi' }));
    const fixture = FIXTURES[0] as StreamFixture;
    await relayStream(
      res as unknown as ServerResponse,
      scriptedReply([Buffer.from(sseBody(fixture))]),
      translator,
      client,
      new Cancellation(),
      { keepAliveMs: 0, headers: {}, ...(beforeFinal ? { beforeFinal } : {}) },
    );
    return res.writes;
  };

  const types = (write: string | undefined) => parseSseText(write ?? '').events.map((e) => e.type);

  it('a stream that arrives in one read: its opening events at once, then the rest in one write', async () => {
    const writes = await run();
    expect(writes).toHaveLength(2);
    expect(types(writes[0])).toEqual(['response.created', 'response.in_progress']);
    expect(types(writes[1]).at(-1)).toBe('response.completed');
  });

  it('with beforeFinal, the terminal event is held back and written after it resolves', async () => {
    let called = false;
    const writes = await run(async () => {
      called = true;
      return null;
    });
    expect(called).toBe(true);
    expect(writes).toHaveLength(3);
    expect(types(writes[1])).not.toContain('response.completed');
    expect(types(writes[2])).toEqual(['response.completed']);
  });
});

describe('relay: the upstream body split anywhere yields the same events', () => {
  for (const fixture of [OPENAI_TEXT, VLLM]) {
    it(`${fixture.name}: split in two at every byte boundary`, async () => {
      const bytes = Buffer.from(sseBody(fixture));
      // The OpenAI body has multi-byte characters, so some splits fall inside one.
      if (fixture === OPENAI_TEXT) expect(bytes.length).toBeGreaterThan(sseBody(fixture).length);
      const whole = normalizeEvents((await relay([bytes])).events);
      expect(whole).toEqual(fixture.events.flat());
      for (let i = 1; i < bytes.length; i++) {
        const { events } = await relay([bytes.subarray(0, i), bytes.subarray(i)], {}, false);
        const got = normalizeEvents(events);
        if (JSON.stringify(got) !== JSON.stringify(whole)) {
          expect(
            got,
            `split at byte ${i}: ${JSON.stringify(bytes.subarray(Math.max(0, i - 10), i).toString())}`,
          ).toEqual(whole);
        }
      }
    });
  }

  it('one byte per read', async () => {
    const bytes = Buffer.from(sseBody(OPENAI_TEXT));
    const reads = [...bytes].map((b) => Buffer.from([b]));
    const { events } = await relay(reads);
    expect(normalizeEvents(events)).toEqual(OPENAI_TEXT.events.flat());
    checkStream(events);
  });

  it('splits inside "é" and inside "😀" keep the characters whole', async () => {
    const bytes = Buffer.from(sseBody(OPENAI_TEXT));
    for (const ch of ['é', '😀']) {
      const at = bytes.indexOf(Buffer.from(ch));
      for (let k = 1; k < Buffer.byteLength(ch); k++) {
        const { events } = await relay([bytes.subarray(0, at + k), bytes.subarray(at + k)]);
        const done = events.find((e) => e.type === 'response.output_text.done');
        expect(done.text).toBe('Hello! Café time 😀.');
        expect(JSON.stringify(events)).not.toContain('\uFFFD');
      }
    }
  });
});

describe('relay: upstream SSE variants', () => {
  it('CRLF line endings, comments, event: and id: lines from the upstream are handled', async () => {
    const body = sseBody(OPENAI_TEXT)
      .split('\n\n')
      .filter(Boolean)
      .map((block, i) => `: ping ${i}\r\nevent: message\r\nid: ${i}\r\n${block}\r\n\r\n`)
      .join('');
    const { events } = await relay([Buffer.from(body)]);
    expect(normalizeEvents(events)).toEqual(OPENAI_TEXT.events.flat());
  });

  it('a data payload split over two data: lines is joined', async () => {
    const json = JSON.stringify({
      choices: [{ index: 0, delta: { content: 'two lines' }, finish_reason: 'stop' }],
    });
    const mid = json.indexOf('"delta"');
    const body = `data: ${json.slice(0, mid)}\ndata: ${json.slice(mid)}\n\ndata: [DONE]\n\n`;
    const { events } = await relay([Buffer.from(body)]);
    // SSE joins data lines with "\n", which JSON allows between tokens.
    expect(checkStream(events).output[0].content[0].text).toBe('two lines');
  });

  it('a last event not terminated by a blank line is still read at EOF', async () => {
    const finish = JSON.stringify({
      choices: [{ index: 0, delta: { content: 'end' }, finish_reason: 'stop' }],
    });
    for (const tail of [`data: ${finish}`, `data: ${finish}\n`, `data: ${finish}\n\ndata: [DONE]`]) {
      const { events, outcome } = await relay([Buffer.from(tail)]);
      expect(outcome, JSON.stringify(tail.slice(-20))).toBe('completed');
      expect(checkStream(events).output[0].content[0].text).toBe('end');
    }
  });

  it('a leading byte-order mark is ignored', async () => {
    const { events } = await relay([Buffer.from(`\uFEFF${sseBody(OPENAI_TEXT)}`)]);
    expect(normalizeEvents(events)).toEqual(OPENAI_TEXT.events.flat());
  });

  it('a malformed chunk -> error + response.failed naming it, with secrets redacted', async () => {
    const body = `${sseBody({ chunks: OPENAI_TEXT.chunks.slice(0, 2), done: false })}data: {"oops" sk-secret-key-123\n\n`;
    const { events, outcome } = await relay([Buffer.from(body)]);
    const final = checkStream(events);
    expect(outcome).toBe('failed');
    expect(final.output).toEqual([expect.objectContaining({ status: 'incomplete' })]);
    const error = events.at(-2);
    expect(error.message).toMatch(/^the upstream sent a malformed chunk: \{"oops" /);
    expect(JSON.stringify(events)).not.toContain('sk-secret-key-123');
  });

  it('an upstream `event: error` fails the stream with its message (JSON or plain text)', async () => {
    const head = sseBody({ chunks: OPENAI_TEXT.chunks.slice(0, 2), done: false });
    for (const [data, message] of [
      ['{"message":"overloaded","type":"server_error"}', 'upstream error: overloaded'],
      ['{"error":{"message":"bad gateway"}}', 'upstream error: bad gateway'],
      ['model crashed', 'upstream error: model crashed'],
    ]) {
      const { events, outcome } = await relay([Buffer.from(`${head}event: error\ndata: ${data}\n\n`)]);
      expect(outcome).toBe('failed');
      expect(events.at(-2)).toMatchObject({ type: 'error', code: 'upstream_error', message });
      checkStream(events);
    }
  });

  it('nothing after a failure is read or written', async () => {
    const body = `data: {"error":{"message":"boom"}}\n\n${sseBody(OPENAI_TEXT)}`;
    const { events } = await relay([Buffer.from(body)]);
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'error',
      'response.failed',
    ]);
  });

  it('an empty 200 body -> error + response.failed', async () => {
    const { events, outcome } = await relay([]);
    expect(outcome).toBe('failed');
    expect(events.at(-2)).toMatchObject({ type: 'error', message: 'the upstream stream ended unexpectedly' });
  });

  it('a JSON reply to a streaming request is replayed as a valid stream, same as the non-streaming result', async () => {
    for (const fixture of FIXTURES.filter((f) => f.reply)) {
      const { events, outcome, translator } = await relay([Buffer.from(JSON.stringify(fixture.reply))], {
        'content-type': 'application/json; charset=utf-8',
      });
      expect(outcome).toBe(fixture.status);
      const final = checkStream(events);
      const parsed = parseChatCompletion(
        fixture.reply,
        createResponseContext({ model: 'test-model', input: 'Hi' }),
      );
      expect(normalizeResponse(final)).toEqual(normalizeResponse(parsed));
      expect(translator.finished).toBe(true);
    }
  });

  it('a JSON error body with status 200 -> error + response.failed carrying its message', async () => {
    const { events } = await relay([Buffer.from('{"error":{"message":"model not loaded"}}')], {
      'content-type': 'application/json',
    });
    expect(events.at(-2)).toMatchObject({ type: 'error', message: 'upstream error: model not loaded' });
    checkStream(events);
  });
});

describe('relay over real HTTP: transport failures', () => {
  let upstream: MockUpstream;
  beforeAll(async () => {
    upstream = await MockUpstream.start();
  });
  afterAll(async () => {
    await upstream.close();
  });

  /** A real upstream call with short timeouts, relayed to a recording response. */
  async function relayFrom(timeouts: string) {
    const c = new UpstreamClient(target(upstream.baseUrl, `timeouts = { ${timeouts} }`));
    try {
      const abort = new Cancellation();
      const reply = await c.post('{}', true, abort);
      const res = new RecordingResponse();
      const translator = new StreamTranslator(createResponseContext({ model: 'test-model', input: 'Hi' }));
      const outcome = await relayStream(res as unknown as ServerResponse, reply, translator, c, abort, {
        keepAliveMs: 0,
        headers: {},
      });
      return { outcome, events: parseSseText(res.text).events };
    } finally {
      await c.close();
    }
  }

  const partial = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hel' } }] })}\n\n`);
  };

  it('upstream idle timeout -> error (upstream_timeout) + response.failed with the partial output', async () => {
    upstream.handler = (_req, res) => partial(res); // then silence
    const { outcome, events } = await relayFrom('idle = "150ms"');
    expect(outcome).toBe('failed');
    const final = checkStream(events);
    expect(final.output).toEqual([
      expect.objectContaining({ status: 'incomplete', content: [expect.objectContaining({ text: 'Hel' })] }),
    ]);
    expect(events.at(-2)).toMatchObject({
      type: 'error',
      code: 'upstream_timeout',
      error: { type: 'server_error' },
    });
    expect(events.at(-2).message).toContain('idle between chunks');
  });

  it('upstream total timeout while still sending -> error (upstream_timeout, total) + response.failed', async () => {
    upstream.handler = async (_req, res) => {
      partial(res);
      for (let i = 0; i < 100 && !res.destroyed; i++) {
        await sleep(25);
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: '.' } }] })}\n\n`);
      }
      res.end();
    };
    const { outcome, events } = await relayFrom('total = "400ms"');
    expect(outcome).toBe('failed');
    const final = checkStream(events);
    expect(final.output[0].content[0].text).toMatch(/^Hel\.+$/);
    expect(events.at(-2)).toMatchObject({ type: 'error', code: 'upstream_timeout' });
    expect(events.at(-2).message).toContain('total');
  });

  it('upstream socket reset -> error (upstream_unreachable) + response.failed with the partial output', async () => {
    upstream.handler = async (_req, res) => {
      partial(res);
      await sleep(30);
      res.socket?.destroy();
    };
    const { outcome, events } = await relayFrom('idle = "5s"');
    expect(outcome).toBe('failed');
    const final = checkStream(events);
    expect(final.output[0].content[0].text).toBe('Hel');
    expect(events.at(-2)).toMatchObject({ type: 'error', code: 'upstream_unreachable' });
  });
});

describe('relay over real HTTP through the proxy: the body in two writes', () => {
  let upstream: MockUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await MockUpstream.start();
    proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'warn');
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  const bytes = Buffer.from(sseBody(OPENAI_TEXT));
  const inside = (s: string, k: number) => bytes.indexOf(Buffer.from(s)) + k;
  const splits: Array<[string, number]> = [
    ['inside "é"', inside('é', 1)],
    ['inside "😀" (after 1 byte)', inside('😀', 1)],
    ['inside "😀" (after 3 bytes)', inside('😀', 3)],
    ['inside "data:"', inside('data:', 3)],
    ['between the two newlines ending an event', inside('\n\n', 1)],
    ['inside [DONE]', inside('[DONE]', 2)],
  ];

  it.each(splits)('split %s', async (_where, at) => {
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(bytes.subarray(0, at));
      await sleep(15);
      res.end(bytes.subarray(at));
    };
    const r = await fetch(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-model', input: 'Hi', stream: true }),
    });
    const { events } = parseSseText(await r.text());
    expect(normalizeEvents(events)).toEqual(OPENAI_TEXT.events.flat());
    checkStream(events);
  });
});
