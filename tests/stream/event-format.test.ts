/**
 * formatEvent: every event of a stream is written as `event: <type>\ndata: <JSON.stringify(event)>`,
 * byte for byte, though most are built as text.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eventJson, formatEvent } from '../../src/stream/event-format.js';
import { type StreamEvent, StreamTranslator } from '../../src/stream/stream-translator.js';
import { createResponseContext } from '../../src/utils/response-envelope.js';
import { ToolCodec } from '../../src/utils/tool-codec.js';

/** JSON.stringify of the event; a lifecycle event's `sequence_number` before its Response. */
const generic = (event: { type: string }) => {
  const data =
    'response' in event
      ? JSON.stringify({
          type: event.type,
          sequence_number: (event as StreamEvent).sequence_number,
          response: event.response,
        })
      : JSON.stringify(event);
  return `event: ${event.type}\ndata: ${data}\n\n`;
};
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string(),
  fc.constantFrom('', '"', '\\', '\n', '\ud800'),
);

/** One upstream chunk's delta: text, a refusal, reasoning or a piece of a tool call. */
const delta = fc.oneof(
  text.map((content) => ({ content })),
  text.map((refusal) => ({ refusal })),
  text.map((reasoning_content) => ({ reasoning_content })),
  fc.record({ index: fc.constantFrom(0, 1), args: text }).map(({ index, args }) => ({
    tool_calls: [
      { index, id: `call_${index}`, type: 'function', function: { name: 'get_weather', arguments: args } },
    ],
  })),
);

function stream(
  deltas: object[],
  finish: string | null,
  logprobs: boolean,
  fail: boolean,
  withTools = true,
): StreamEvent[] {
  const tools = withTools ? [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }] : [];
  const ctx = createResponseContext({ model: 'm', input: 'hi', tools } as never, 1_700_000_000_000, false);
  const translator = new StreamTranslator(ctx, { logprobs, tools: new ToolCodec(tools) });
  const events = [...translator.start()];
  for (const d of deltas) events.push(...translator.chunk({ choices: [{ index: 0, delta: d }] }));
  if (fail) {
    events.push(...translator.fail({ type: 'server_error', code: 'upstream_error', message: 'cut "here"' }));
  } else {
    events.push(...translator.chunk({ choices: [{ index: 0, delta: {}, finish_reason: finish }] }));
    events.push(
      ...translator.chunk({
        choices: [],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      }),
    );
    events.push(...translator.end(true));
  }
  return events;
}

describe('formatEvent', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes every event of any stream as JSON.stringify of the event would', () => {
    fc.assert(
      fc.property(
        fc.array(delta, { maxLength: 8 }),
        fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', null),
        fc.boolean(),
        fc.boolean(),
        (deltas, finish, logprobs, fail) => {
          for (const event of stream(deltas, finish, logprobs, fail)) {
            expect(formatEvent(event)).toBe(generic(event));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes the text deltas of streams whose events interleave as JSON.stringify would', () => {
    // The head of a text delta is kept for the last content part seen: deltas of two streams, or
    // of two parts, taking turns must each get their own.
    const text = (id: string, output: number, content: number, delta: string, n: number) => ({
      type: 'response.output_text.delta' as const,
      item_id: id,
      output_index: output,
      content_index: content,
      delta,
      logprobs: [],
      sequence_number: n,
    });
    const events = [
      text('msg_a', 0, 0, 'Hello', 1),
      text('msg_b', 0, 0, 'Hi "there"', 1),
      text('msg_a', 0, 0, ', world', 2),
      text('msg_a', 0, 1, 'next part', 3),
      text('msg_a', 1, 1, 'next item', 4),
      text('msg_"b', 0, 0, 'line\nbreak', 2),
    ];
    for (const event of events) expect(formatEvent(event)).toBe(generic(event as never));
  });

  it('writes the events of a text reply without JSON.stringify of any object', () => {
    // (Without tools: the echoed tool definitions are the client's own JSON, left to JSON.stringify.)
    const events = stream([{ content: 'Hello' }, { content: ', world' }], 'stop', false, false, false);
    const expected = events.map(generic);
    const stringify = vi.spyOn(JSON, 'stringify');
    expect(events.map(formatEvent)).toEqual(expected);
    const objects = stringify.mock.calls.filter(([value]) => typeof value === 'object' && value !== null);
    expect(objects).toEqual([]);
  });

  it('leaves an event with a key it does not know to JSON.stringify', () => {
    const event = { type: 'response.custom', sequence_number: 3, extra: { a: [1, 2] } };
    expect(eventJson(event as never)).toBe(JSON.stringify(event));
    const withUndefined = {
      type: 'response.output_text.done',
      text: 'a',
      logprobs: undefined,
      sequence_number: 4,
    };
    expect(eventJson(withUndefined as never)).toBe(JSON.stringify(withUndefined));
  });
});
