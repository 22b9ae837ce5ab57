/**
 * The benchmark's yardstick is itself tested: the pass-through baseline (bench/passthrough.mjs)
 * relays a request to the bench mock upstream and its reply back, JSON and SSE, unchanged in content.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionBody, chatCompletionEvents, REPLY_TEXT, startMock } from '../bench/mock-upstream.mjs';
import { startPassthrough } from '../bench/passthrough.mjs';

describe('bench: pass-through baseline and mock upstream', () => {
  const seen: Array<{ path: string; body: string }> = [];
  let mock: Awaited<ReturnType<typeof startMock>>;
  let pass: Awaited<ReturnType<typeof startPassthrough>>;

  beforeAll(async () => {
    // 1 ms between chunks: the stream reaches the baseline over several reads.
    mock = await startMock({
      chunks: 10,
      chunkDelayMs: 1,
      onRequest: (path, body) => seen.push({ path, body }),
    });
    pass = await startPassthrough({ upstream: `http://127.0.0.1:${mock.port}/v1` });
  });
  afterAll(async () => {
    await pass?.close();
    await mock?.close();
  });

  const post = (body: unknown) =>
    fetch(`http://127.0.0.1:${pass.port}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('relays a JSON request and reply', async () => {
    const request = { model: 'bench-model', input: 'hi', store: false };
    const res = await post(request);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(chatCompletionBody()));
    expect(seen.at(-1)?.path).toBe('/v1/chat/completions');
    expect(JSON.parse(seen.at(-1)?.body ?? '')).toEqual(request);
  });

  it('relays a stream event by event, ending with [DONE]', async () => {
    const res = await post({ model: 'bench-model', input: 'hi', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = (await res.text()).split('\n\n').filter(Boolean);
    const expected = chatCompletionEvents(10).map((e) => e.trimEnd());
    expect(events).toEqual(expected);
    const text = events
      .slice(0, 10)
      .map((e) => JSON.parse(e.slice('data: '.length)).choices[0].delta.content)
      .join('');
    expect(text).toBe(REPLY_TEXT);
    expect(events.at(-1)).toBe('data: [DONE]');
  });

  it('answers /healthz', async () => {
    const res = await fetch(`http://127.0.0.1:${pass.port}/healthz`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});
