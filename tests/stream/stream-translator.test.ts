import { describe, expect, it } from 'vitest';
import { StreamTranslator } from '../../src/stream/stream-translator.js';
import type { ResponsesRequest } from '../../src/types.js';
import { createResponseContext, type ResponseContext } from '../../src/utils/response-envelope.js';
import { parseChatCompletion } from '../../src/utils/response-parser.js';
import { chatCompletion } from '../helpers/mock-upstream.js';
import { assertValidEvent, assertValidResponse } from '../helpers/spec-validator.js';
import {
  checkStream,
  ev,
  FIXTURES,
  type Json,
  normalizeEvents,
  normalizeResponse,
  refusal,
  text,
  WITH_REPLY,
} from './fixtures.js';

const REQUEST: ResponsesRequest = { model: 'test-model', input: 'Hi' };

interface Run {
  events: Json[];
  translator: StreamTranslator;
  ctx: ResponseContext;
}

/** Drives the translator as the relay does: start, chunks until it finishes, then end. */
function run(
  chunks: readonly unknown[],
  o: { done?: boolean; logprobs?: boolean; request?: ResponsesRequest } = {},
): Run {
  const ctx = createResponseContext(o.request ?? REQUEST);
  const translator = new StreamTranslator(ctx, { logprobs: o.logprobs ?? false });
  const events: Json[] = [...translator.start()];
  for (const c of chunks) {
    if (translator.finished) break;
    events.push(...translator.chunk(c));
  }
  if (!translator.finished) events.push(...translator.end(o.done !== false));
  return { events, translator, ctx };
}

const chunk = (delta: Json, finish: string | null = null, extra: Json = {}) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...extra,
});
const tc = (index: number | undefined, f: { id?: string; name?: string; arguments?: unknown }) => ({
  ...(index === undefined ? {} : { index }),
  ...(f.id ? { id: f.id, type: 'function' } : {}),
  function: {
    ...(f.name ? { name: f.name } : {}),
    ...(f.arguments === undefined ? {} : { arguments: f.arguments }),
  },
});
const stop = chunk({}, 'stop');

/** The exact events, and the whole list checked against the grammar and both specs. */
function expectEvents(r: Run, expected: Json[]): Json {
  expect(normalizeEvents(r.events)).toEqual(expected.flat());
  const final = checkStream(r.events);
  expect(final).toBe(r.translator.final);
  return final;
}

/** The stream's final Response equals the non-streaming parser's for the same content. */
function expectSameAsNonStreaming(r: Run, reply: Json, logprobs = false): void {
  const parsed = parseChatCompletion(reply, r.ctx, { logprobs });
  assertValidResponse(parsed);
  expect(normalizeResponse(r.translator.final)).toEqual(normalizeResponse(parsed));
}

describe.each(FIXTURES.map((f) => [f.name, f] as const))('%s', (_name, fixture) => {
  it('emits exactly the expected events, each valid, numbered 0..n, with one terminal event', () => {
    const r = run(fixture.chunks, { done: fixture.done });
    const final = expectEvents(r, fixture.events);
    expect(final.status).toBe(fixture.status);
    expect(final.usage).toEqual(fixture.usage);
    expect(final.model).toBe('test-model');
    expect(r.translator.finished).toBe(true);
  });

  it('keeps every item id consistent between the item events and the final output', () => {
    const r = run(fixture.chunks, { done: fixture.done });
    const added = r.events.filter((e) => e.type === 'response.output_item.added').map((e) => e.item.id);
    const final = r.translator.final as Json;
    expect(final.output.map((i: Json) => i.id)).toEqual(added);
    expect(new Set(added).size).toBe(added.length);
    for (const e of r.events) if ('item_id' in e) expect(added).toContain(e.item_id);
  });
});

describe('one way of building items: stream final == parseChatCompletion(non-streaming reply)', () => {
  it.each(WITH_REPLY.map((f) => [f.name, f] as const))('%s', (_name, fixture) => {
    const r = run(fixture.chunks, { done: fixture.done });
    expectSameAsNonStreaming(r, fixture.reply);
  });
});

describe('translator: more upstream shapes', () => {
  it('reasoning that comes back after text opens a new reasoning item (interleaved thinking)', () => {
    const r = run([
      chunk({ reasoning_content: 'a' }),
      chunk({ content: 'b' }),
      chunk({ reasoning_content: 'c' }),
      chunk({ content: 'd' }),
      stop,
    ]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.rsAdded(0),
      ev.rsDelta(0, 'a'),
      ev.rsDone(0, 'a'),
      ev.msgAdded(1),
      ev.textPart(1),
      ev.textDelta(1, 'b'),
      ev.textDone(1, 'b'),
      ev.msgDone(1, [text('b')]),
      ev.rsAdded(2),
      ev.rsDelta(2, 'c'),
      ev.rsDone(2, 'c'),
      ev.msgAdded(3),
      ev.textPart(3),
      ev.textDelta(3, 'd'),
      ev.textDone(3, 'd'),
      ev.msgDone(3, [text('d')]),
      ev.completed,
    ]);
  });

  it('reasoning and content in one delta: reasoning item first, then the message', () => {
    const r = run([chunk({ reasoning: 'think', content: 'say' }), stop]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.rsAdded(0),
      ev.rsDelta(0, 'think'),
      ev.rsDone(0, 'think'),
      ev.msgAdded(1),
      ev.textPart(1),
      ev.textDelta(1, 'say'),
      ev.textDone(1, 'say'),
      ev.msgDone(1, [text('say')]),
      ev.completed,
    ]);
    expectSameAsNonStreaming(r, chatCompletion({ reasoning: 'think', content: 'say', usage: null }));
  });

  it('reads reasoning_content before reasoning when an upstream sends both (no duplication)', () => {
    const r = run([chunk({ reasoning_content: 'x', reasoning: 'x' }), chunk({ content: 'y' }), stop]);
    expect((r.translator.final as Json).output[0].content).toEqual([{ type: 'reasoning_text', text: 'x' }]);
    checkStream(r.events);
  });

  it('text then refusal in one message: two content parts, content_index 0 and 1', () => {
    const r = run([chunk({ content: 'Sure' }), chunk({ refusal: 'but no.' }), stop]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Sure'),
      ev.textDone(0, 'Sure'),
      ev.refusalPart(0, 1),
      ev.refusalDelta(0, 'but no.', 1),
      ev.refusalDone(0, 'but no.', 1),
      ev.msgDone(0, [text('Sure'), refusal('but no.')]),
      ev.completed,
    ]);
    expectSameAsNonStreaming(r, chatCompletion({ content: 'Sure', refusal: 'but no.', usage: null }));
  });

  it('an empty answer (finish + [DONE] only) is one empty message, as without streaming', () => {
    const r = run([chunk({ role: 'assistant', content: '' }), stop]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDone(0, ''),
      ev.msgDone(0, [text('')]),
      ev.completed,
    ]);
    expectSameAsNonStreaming(r, chatCompletion({ content: null, usage: null }));
  });

  it('[DONE] without a finish_reason completes; EOF after a finish_reason without [DONE] completes', () => {
    const a = run([chunk({ content: 'a' })], { done: true });
    expect(checkStream(a.events).status).toBe('completed');
    const b = run([chunk({ content: 'b' }), stop], { done: false });
    expect(checkStream(b.events).status).toBe('completed');
  });

  it('keeps the last non-null usage (usage on several chunks, then null)', () => {
    const u = (n: number) => ({ prompt_tokens: n, completion_tokens: n, total_tokens: 2 * n });
    const r = run([
      chunk({ content: 'a' }, null, { usage: u(1) }),
      chunk({ content: 'b' }, null, { usage: u(2) }),
      chunk({}, 'stop', { usage: null }),
    ]);
    expect(checkStream(r.events).usage).toMatchObject({ input_tokens: 2, output_tokens: 2, total_tokens: 4 });
  });

  it('takes service_tier from the chunks', () => {
    const r = run([chunk({ content: 'a' }, 'stop', { service_tier: 'flex' })]);
    expect(checkStream(r.events).service_tier).toBe('flex');
  });

  it('echoes the request fields in every Response snapshot', () => {
    const request: ResponsesRequest = {
      model: 'test-model',
      input: 'Hi',
      instructions: 'Be brief.',
      temperature: 0.5,
      max_output_tokens: 99,
      metadata: { k: 'v' },
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          parameters: { type: 'object', properties: {} },
          strict: false,
        },
      ],
    };
    const r = run([chunk({ content: 'a' }), stop], { request });
    const final = checkStream(r.events);
    for (const resp of [r.events[0].response, final]) {
      expect(resp).toMatchObject({
        instructions: 'Be brief.',
        temperature: 0.5,
        max_output_tokens: 99,
        metadata: { k: 'v' },
        tools: [{ type: 'function', name: 'get_weather', strict: false }],
      });
    }
  });

  it('uses choice index 0 when an upstream lists several choices', () => {
    const r = run([
      {
        choices: [
          { index: 1, delta: { content: 'other' } },
          { index: 0, delta: { content: 'mine' } },
        ],
      },
      stop,
    ]);
    expect(checkStream(r.events).output[0].content[0].text).toBe('mine');
  });

  it('passes logprobs through when asked, on deltas, the done event and the final part', () => {
    const lp = (token: string) => ({
      token,
      logprob: -0.5,
      bytes: [...Buffer.from(token)],
      top_logprobs: [{ token, logprob: -0.5, bytes: [...Buffer.from(token)] }],
    });
    const r = run(
      [
        {
          ...chunk({ content: 'Hi' }),
          choices: [{ index: 0, delta: { content: 'Hi' }, logprobs: { content: [lp('Hi')] } }],
        },
        {
          ...chunk({ content: '!' }),
          choices: [{ index: 0, delta: { content: '!' }, logprobs: { content: [lp('!')] } }],
        },
        stop,
      ],
      { logprobs: true },
    );
    const final = checkStream(r.events);
    const deltas = r.events.filter((e) => e.type === 'response.output_text.delta');
    expect(deltas.map((d) => d.logprobs)).toEqual([[lp('Hi')], [lp('!')]]);
    expect(final.output[0].content[0].logprobs).toEqual([lp('Hi'), lp('!')]);
    expect(r.events.find((e) => e.type === 'response.output_text.done').logprobs).toEqual([
      lp('Hi'),
      lp('!'),
    ]);
    const reply = chatCompletion({ content: 'Hi!', usage: null });
    (reply.choices[0] as Json).logprobs = { content: [lp('Hi'), lp('!')] };
    expectSameAsNonStreaming(r, reply, true);
  });

  it('drops logprobs when they were not asked for', () => {
    const r = run([
      {
        choices: [{ index: 0, delta: { content: 'a' }, logprobs: { content: [{ token: 'a', logprob: 0 }] } }],
      },
      stop,
    ]);
    expect(r.events.find((e) => e.type === 'response.output_text.delta').logprobs).toEqual([]);
    checkStream(r.events);
  });
});

describe('translator: tool-call quirks', () => {
  it('sets the name once when an upstream repeats id and name on every delta', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_r', name: 'get', arguments: '{"a"' })] }),
      chunk({ tool_calls: [tc(0, { id: 'call_r', name: 'get', arguments: ':1}' })] }),
      chunk({}, 'tool_calls'),
    ]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_r', 'get'),
      ev.argsDelta(0, '{"a"'),
      ev.argsDelta(0, ':1}'),
      ev.fcDone(0, 'call_r', 'get', '{"a":1}'),
      ev.completed,
    ]);
  });

  it('follows calls without an index: by id, and bare fragments go to the last call', () => {
    const r = run([
      chunk({ tool_calls: [tc(undefined, { id: 'call_a', name: 'a', arguments: '{' })] }),
      chunk({ tool_calls: [tc(undefined, { arguments: '}' })] }),
      chunk({ tool_calls: [tc(undefined, { id: 'call_b', name: 'b', arguments: '{"z":0}' })] }),
      chunk({}, 'tool_calls'),
    ]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_a', 'a'),
      ev.argsDelta(0, '{'),
      ev.argsDelta(0, '}'),
      ev.fcDone(0, 'call_a', 'a', '{}'),
      ev.fcAdded(1, 'call_b', 'b'),
      ev.argsDelta(1, '{"z":0}'),
      ev.fcDone(1, 'call_b', 'b', '{"z":0}'),
      ev.completed,
    ]);
  });

  it('two different ids on one index are two calls', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_1', name: 'a', arguments: '{}' })] }),
      chunk({ tool_calls: [tc(0, { id: 'call_2', name: 'b', arguments: '{}' })] }),
      chunk({}, 'tool_calls'),
    ]);
    const final = checkStream(r.events);
    expect(final.output.map((i: Json) => [i.call_id, i.name])).toEqual([
      ['call_1', 'a'],
      ['call_2', 'b'],
    ]);
  });

  it('a call with no arguments carries "{}", as without streaming', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_n', name: 'now', arguments: '' })] }),
      chunk({}, 'tool_calls'),
    ]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_n', 'now'),
      ev.argsDelta(0, '{}'),
      ev.fcDone(0, 'call_n', 'now', '{}'),
      ev.completed,
    ]);
    expectSameAsNonStreaming(
      r,
      chatCompletion({ tool_calls: [{ id: 'call_n', name: 'now', arguments: '' }], usage: null }),
    );
  });

  it('a call without an upstream id gets a generated call_ id', () => {
    const r = run([chunk({ tool_calls: [tc(0, { name: 'f', arguments: '{}' })] }), chunk({}, 'tool_calls')]);
    const final = checkStream(r.events);
    expect(final.output[0].call_id).toMatch(/^call_[0-9a-f]{32}$/);
    expect(r.events.find((e) => e.type === 'response.output_item.added').item.call_id).toBe(
      final.output[0].call_id,
    );
  });

  it('arguments sent as a JSON object (not a string) are serialized, as without streaming', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_o', name: 'f', arguments: { city: 'Paris' } })] }),
      chunk({}, 'tool_calls'),
    ]);
    expect(checkStream(r.events).output[0].arguments).toBe('{"city":"Paris"}');
    const reply = chatCompletion({ tool_calls: [{ id: 'call_o', name: 'f', arguments: '' }], usage: null });
    (reply.choices[0] as Json).message.tool_calls[0].function.arguments = { city: 'Paris' };
    expectSameAsNonStreaming(r, reply);
  });

  it('ignores an empty tool-call fragment for an unknown index instead of failing on a nameless call', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_e', name: 'f', arguments: '{}' })] }),
      chunk({ tool_calls: [tc(1, { arguments: '' })] }),
      chunk({}, 'tool_calls'),
    ]);
    expect(checkStream(r.events).output).toHaveLength(1);
  });

  it('an empty fragment does not close the open message', () => {
    const r = run([
      chunk({ content: 'a' }),
      chunk({ tool_calls: [tc(0, {})] }),
      chunk({ content: 'b' }),
      stop,
    ]);
    expect(checkStream(r.events).output).toEqual([expect.objectContaining({ content: [text('ab')] })]);
  });

  it('a nameless second call while the first streams: the first closes incomplete, then error + failed', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_ok', name: 'f', arguments: '{"a":1}' })] }),
      chunk({ tool_calls: [tc(1, { id: 'call_anon', arguments: '{}' })] }),
      chunk({}, 'tool_calls'),
    ]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_ok', 'f'),
      ev.argsDelta(0, '{"a":1}'),
      ev.fcDone(0, 'call_ok', 'f', '{"a":1}', 'incomplete'),
      ev.error('upstream_error', 'the upstream sent a tool call (id call_anon) without a name'),
      ev.failed,
    ]);
  });

  it('a nameless call followed by text fails at the text, leaving no half-announced item', () => {
    const r = run([
      chunk({ tool_calls: [tc(0, { id: 'call_x', arguments: '{}' })] }),
      chunk({ content: 'hi' }),
      stop,
    ]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.error('upstream_error', 'the upstream sent a tool call (id call_x) without a name'),
      ev.failed,
    ]);
  });

  it('a failure while calls are buffered drops the unannounced ones from the failed output', () => {
    const r = run(
      [
        chunk({ tool_calls: [tc(0, { id: 'call_1', name: 'a', arguments: '{' })] }),
        chunk({ tool_calls: [tc(1, { id: 'call_2', name: 'b', arguments: '{}' })] }),
      ],
      { done: false },
    );
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_1', 'a'),
      ev.argsDelta(0, '{'),
      ev.fcDone(0, 'call_1', 'a', '{', 'incomplete'),
      ev.error('upstream_error', 'the upstream stream ended unexpectedly'),
      ev.failed,
    ]);
  });
});

describe('translator: failures and lifecycle', () => {
  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', 'oops'],
  ])('a chunk that is %s fails the stream', (_name, payload) => {
    const r = run([chunk({ content: 'a' }), payload, stop]);
    const final = checkStream(r.events);
    expect(final.status).toBe('failed');
    expect(r.events.at(-2)).toMatchObject({ type: 'error', code: 'upstream_error' });
  });

  it('a chunk with a shape the proxy cannot read fails loudly instead of throwing', () => {
    const r = run(
      [
        chunk({ content: 'a' }),
        { choices: [{ index: 0, delta: { content: 'b' }, logprobs: { content: 5 } }] },
      ],
      {
        logprobs: true,
      },
    );
    const final = checkStream(r.events);
    expect(final.status).toBe('failed');
    expect(r.events.at(-2).message).toMatch(/^the upstream sent a chunk the proxy cannot translate/);
  });

  it('skips null entries in choices and tool_calls', () => {
    const r = run([
      { choices: [null, { index: 0, delta: { content: 'a', tool_calls: null } }] },
      chunk({ tool_calls: [null, tc(0, { id: 'call_1', name: 'f', arguments: '{}' })] }),
      stop,
    ]);
    expect(checkStream(r.events).output).toHaveLength(2);
  });

  it('an error chunk with a plain string error', () => {
    const r = run([{ error: 'model crashed' }]);
    expectEvents(r, [
      ev.created,
      ev.inProgress,
      ev.error('upstream_error', 'upstream error: model crashed'),
      ev.failed,
    ]);
  });

  it('fail() closes the open item as incomplete and keeps usage seen so far', () => {
    const ctx = createResponseContext(REQUEST);
    const t = new StreamTranslator(ctx);
    const events: Json[] = [...t.start()];
    events.push(
      ...t.chunk(
        chunk({ content: 'x' }, null, { usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }),
      ),
    );
    events.push(...t.fail({ type: 'server_error', code: 'upstream_timeout', message: 'timed out' }));
    const final = checkStream(events);
    expect(final.output).toEqual([expect.objectContaining({ status: 'incomplete', content: [text('x')] })]);
    expect(final.usage).toMatchObject({ input_tokens: 3, output_tokens: 1 });
    expect(events.at(-2)).toEqual({
      type: 'error',
      sequence_number: events.length - 2,
      code: 'upstream_timeout',
      message: 'timed out',
      param: null,
      error: { type: 'server_error', code: 'upstream_timeout', message: 'timed out', param: null },
    });
  });

  it('after the terminal event: chunk/end throw, fail() is a no-op; start() only once', () => {
    const r = run([chunk({ content: 'a' }), stop]);
    expect(() => r.translator.chunk(chunk({ content: 'b' }))).toThrow(/phase 'finished'/);
    expect(() => r.translator.end(true)).toThrow(/phase 'finished'/);
    expect(r.translator.fail({ type: 'server_error', code: 'x', message: 'y' })).toEqual([]);
    expect(() => r.translator.start()).toThrow(/phase 'finished'/);
    expect(r.translator.final?.status).toBe('completed');
  });

  it('whole(): a JSON reply to a streaming request becomes a valid stream equal to the non-streaming result', () => {
    for (const fixture of WITH_REPLY) {
      const ctx = createResponseContext(REQUEST);
      const t = new StreamTranslator(ctx);
      const events = [...t.start(), ...t.whole(fixture.reply)];
      const final = checkStream(events);
      expect(final.status).toBe(fixture.status);
      expect(normalizeResponse(final)).toEqual(normalizeResponse(parseChatCompletion(fixture.reply, ctx)));
    }
  });

  it('whole(): an error body or a non-completion fails the stream', () => {
    for (const body of [{ error: { message: 'bad' } }, { object: 'list' }, null]) {
      const t = new StreamTranslator(createResponseContext(REQUEST));
      const events = [...t.start(), ...t.whole(body)];
      expect(checkStream(events).status).toBe('failed');
    }
  });

  it('every event of every fixture passes both specs (also checked event by event here)', () => {
    let count = 0;
    for (const f of FIXTURES) {
      for (const e of run(f.chunks, { done: f.done }).events) {
        assertValidEvent(e);
        count++;
      }
    }
    expect(count).toBeGreaterThan(150);
  });
});
