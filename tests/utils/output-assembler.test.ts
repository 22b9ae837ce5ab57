/**
 * OutputAssembler on its own, with an event-collecting sink: the exact event sequence for each
 * transition of the state machine, the finished items, and the failure paths (abort, a nameless
 * tool call). Every event is also checked against the published stream-event schemas.
 */
import { describe, expect, it } from 'vitest';
import {
  AssemblyError,
  OutputAssembler,
  type OutputEvent,
  type ToolCallFragment,
} from '../../src/utils/output-assembler.js';
import { assertValidEvent } from '../helpers/spec-validator.js';
import type { Json } from '../stream/fixtures.js';

function collect(options: ConstructorParameters<typeof OutputAssembler>[1] = {}) {
  const events: Json[] = [];
  const sink = (e: OutputEvent) => {
    events.push(e);
  };
  return { a: new OutputAssembler(sink, options), events };
}

/** Every event is valid once the stream writer numbers it. */
function expectValid(events: readonly Json[]): void {
  events.forEach((e, i) => {
    assertValidEvent({ ...e, sequence_number: i + 1 });
  });
}

/** output_index is 0, 1, 2… in order of `added`, each item added before its deltas and done once. */
function expectWellFormed(events: readonly Json[]): void {
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.output_index);
  const done = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.output_index);
  expect(added).toEqual(added.map((_, i) => i));
  expect(done).toEqual(added);
}

const text = (t: string) => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });

describe('OutputAssembler events', () => {
  it('reasoning -> text -> two tool calls: the exact event list and items', () => {
    const { a, events } = collect();
    a.reasoning('think');
    a.reasoning('ing');
    a.text('Hel');
    a.text('lo');
    a.toolCall({ index: 0, id: 'call_1', name: 'get', arguments: '{"a"' });
    a.toolCall({ index: 0, arguments: ':1}' });
    a.toolCall({ index: 1, id: 'call_2', name: 'put', arguments: '' });
    a.toolCall({ index: 1, arguments: '{}' });
    const items = a.finish('completed');

    expect(items.map((i) => i.type)).toEqual(['reasoning', 'message', 'function_call', 'function_call']);
    const [rs, msg, fc1, fc2] = items.map((i) => (i as { id: string }).id) as [
      string,
      string,
      string,
      string,
    ];
    expect(rs).toMatch(/^rs_/);
    expect(msg).toMatch(/^msg_/);
    expect(fc1).toMatch(/^fc_/);
    expect(fc2).toMatch(/^fc_/);

    const reasoningItem = {
      id: rs,
      type: 'reasoning',
      status: 'completed',
      summary: [],
      content: [{ type: 'reasoning_text', text: 'thinking' }],
    };
    const messageItem = {
      id: msg,
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [text('Hello')],
    };
    const call1 = {
      id: fc1,
      type: 'function_call',
      status: 'completed',
      arguments: '{"a":1}',
      call_id: 'call_1',
      name: 'get',
    };
    const call2 = {
      id: fc2,
      type: 'function_call',
      status: 'completed',
      arguments: '{}',
      call_id: 'call_2',
      name: 'put',
    };
    expect(events).toEqual([
      {
        type: 'response.output_item.added',
        output_index: 0,
        item: { id: rs, type: 'reasoning', status: 'in_progress', summary: [], content: [] },
      },
      {
        type: 'response.content_part.added',
        item_id: rs,
        output_index: 0,
        content_index: 0,
        part: { type: 'reasoning_text', text: '' },
      },
      {
        type: 'response.reasoning_text.delta',
        item_id: rs,
        output_index: 0,
        content_index: 0,
        delta: 'think',
      },
      { type: 'response.reasoning_text.delta', item_id: rs, output_index: 0, content_index: 0, delta: 'ing' },
      {
        type: 'response.reasoning_text.done',
        item_id: rs,
        output_index: 0,
        content_index: 0,
        text: 'thinking',
      },
      {
        type: 'response.content_part.done',
        item_id: rs,
        output_index: 0,
        content_index: 0,
        part: { type: 'reasoning_text', text: 'thinking' },
      },
      { type: 'response.output_item.done', output_index: 0, item: reasoningItem },
      {
        type: 'response.output_item.added',
        output_index: 1,
        item: { id: msg, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
      },
      {
        type: 'response.content_part.added',
        item_id: msg,
        output_index: 1,
        content_index: 0,
        part: text(''),
      },
      {
        type: 'response.output_text.delta',
        item_id: msg,
        output_index: 1,
        content_index: 0,
        delta: 'Hel',
        logprobs: [],
      },
      {
        type: 'response.output_text.delta',
        item_id: msg,
        output_index: 1,
        content_index: 0,
        delta: 'lo',
        logprobs: [],
      },
      {
        type: 'response.output_text.done',
        item_id: msg,
        output_index: 1,
        content_index: 0,
        text: 'Hello',
        logprobs: [],
      },
      {
        type: 'response.content_part.done',
        item_id: msg,
        output_index: 1,
        content_index: 0,
        part: text('Hello'),
      },
      { type: 'response.output_item.done', output_index: 1, item: messageItem },
      {
        type: 'response.output_item.added',
        output_index: 2,
        item: {
          id: fc1,
          type: 'function_call',
          status: 'in_progress',
          arguments: '',
          call_id: 'call_1',
          name: 'get',
        },
      },
      { type: 'response.function_call_arguments.delta', item_id: fc1, output_index: 2, delta: '{"a"' },
      { type: 'response.function_call_arguments.delta', item_id: fc1, output_index: 2, delta: ':1}' },
      // The second call was buffered while the first streamed; it is announced once the first closes.
      {
        type: 'response.function_call_arguments.done',
        item_id: fc1,
        output_index: 2,
        arguments: '{"a":1}',
        name: 'get',
      },
      { type: 'response.output_item.done', output_index: 2, item: call1 },
      {
        type: 'response.output_item.added',
        output_index: 3,
        item: {
          id: fc2,
          type: 'function_call',
          status: 'in_progress',
          arguments: '',
          call_id: 'call_2',
          name: 'put',
        },
      },
      { type: 'response.function_call_arguments.delta', item_id: fc2, output_index: 3, delta: '{}' },
      {
        type: 'response.function_call_arguments.done',
        item_id: fc2,
        output_index: 3,
        arguments: '{}',
        name: 'put',
      },
      { type: 'response.output_item.done', output_index: 3, item: call2 },
    ]);
    expect(items).toEqual([reasoningItem, messageItem, call1, call2]);
    expectValid(events);
  });

  it('a refusal after text: one message with two parts', () => {
    const { a, events } = collect();
    a.text('Sure, ');
    a.refusal("I can't");
    a.refusal(' do that.');
    const items = a.finish('completed');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      type: 'message',
      status: 'completed',
      content: [text('Sure, '), { type: 'refusal', refusal: "I can't do that." }],
    });
    expect(events.map((e) => [e.type, e.content_index])).toEqual([
      ['response.output_item.added', undefined],
      ['response.content_part.added', 0],
      ['response.output_text.delta', 0],
      ['response.output_text.done', 0],
      ['response.content_part.done', 0],
      ['response.content_part.added', 1],
      ['response.refusal.delta', 1],
      ['response.refusal.delta', 1],
      ['response.refusal.done', 1],
      ['response.content_part.done', 1],
      ['response.output_item.done', undefined],
    ]);
    expect(events[5].part).toEqual({ type: 'refusal', refusal: '' });
    expect(events[8].refusal).toBe("I can't do that.");
    expectWellFormed(events);
    expectValid(events);
  });

  it('text after tool calls opens a new message', () => {
    const { a, events } = collect();
    a.text('Let me check.');
    a.toolCall({ index: 0, id: 'call_x', name: 'lookup', arguments: '{"q":"x"}' });
    a.text('Done.');
    const items = a.finish('completed');
    expect(items.map((i) => i.type)).toEqual(['message', 'function_call', 'message']);
    const [m1, , m2] = items as Json[];
    expect(m1.id).not.toBe(m2.id);
    expect(m1.content).toEqual([text('Let me check.')]);
    expect(m2.content).toEqual([text('Done.')]);
    const deltas = events.filter((e) => e.type === 'response.output_text.delta');
    expect(deltas.map((e) => [e.item_id, e.output_index, e.content_index])).toEqual([
      [m1.id, 0, 0],
      [m2.id, 2, 0],
    ]);
    expectWellFormed(events);
    expectValid(events);
  });

  it("finish('incomplete') marks only the last item incomplete", () => {
    const { a, events } = collect();
    a.reasoning('hmm');
    a.toolCall({ index: 0, id: 'c1', name: 'f', arguments: '{}' });
    a.toolCall({ index: 1, id: 'c2', name: 'g', arguments: '{"x":' });
    a.text('partial');
    const items = a.finish('incomplete') as Json[];
    expect(items.map((i) => [i.type, i.status])).toEqual([
      ['reasoning', 'completed'],
      ['function_call', 'completed'],
      ['function_call', 'completed'],
      ['message', 'incomplete'],
    ]);
    const doneStatuses = events
      .filter((e) => e.type === 'response.output_item.done')
      .map((e) => e.item.status);
    expect(doneStatuses).toEqual(['completed', 'completed', 'completed', 'incomplete']);
    expectWellFormed(events);
    expectValid(events);
  });

  it("finish('incomplete') in the middle of tool calls marks the last call only", () => {
    const { a } = collect();
    a.toolCall({ index: 0, id: 'c1', name: 'f', arguments: '{}' });
    a.toolCall({ index: 1, id: 'c2', name: 'g', arguments: '{"x":' });
    const items = a.finish('incomplete') as Json[];
    expect(items.map((i) => [i.call_id, i.status])).toEqual([
      ['c1', 'completed'],
      ['c2', 'incomplete'],
    ]);
  });

  it('abort() closes the open message as incomplete and creates nothing new', () => {
    const { a, events } = collect();
    a.text('Half a sen');
    a.abort();
    expect(a.items).toHaveLength(1);
    expect(a.items[0]).toMatchObject({
      type: 'message',
      status: 'incomplete',
      content: [text('Half a sen')],
    });
    expect(events[events.length - 1]).toMatchObject({
      type: 'response.output_item.done',
      item: { status: 'incomplete' },
    });
    expectWellFormed(events);
    expectValid(events);
  });

  it('abort() with nothing open adds no empty message', () => {
    const { a, events } = collect();
    a.abort();
    expect(a.items).toEqual([]);
    expect(events).toEqual([]);
    expect(a.hasOutput).toBe(false);

    // With only reasoning open, abort closes it and adds no message.
    const second = collect();
    second.a.reasoning('r');
    second.a.abort();
    expect(second.a.items.map((i) => [i.type, (i as Json).status])).toEqual([['reasoning', 'incomplete']]);
    expect(second.events.some((e) => e.item?.type === 'message')).toBe(false);
  });

  it('abort() during tool calls closes the live call incomplete and drops the buffered ones', () => {
    const { a, events } = collect();
    a.toolCall({ index: 0, id: 'c1', name: 'f', arguments: '{"a":' });
    a.toolCall({ index: 1, id: 'c2', name: 'g', arguments: '{}' });
    a.abort();
    expect(a.items).toHaveLength(1);
    expect(a.items[0]).toMatchObject({ type: 'function_call', call_id: 'c1', status: 'incomplete' });
    expect(events.some((e) => e.item?.call_id === 'c2')).toBe(false);
    expectWellFormed(events);
  });

  it('a reply with nothing yields one empty message', () => {
    const { a, events } = collect();
    a.text('');
    a.reasoning('');
    a.refusal('');
    a.toolCall({}); // an empty fragment starts nothing
    expect(a.hasOutput).toBe(false);
    const items = a.finish('completed');
    expect(items).toEqual([
      {
        id: expect.stringMatching(/^msg_/),
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [text('')],
      },
    ]);
    expect(events.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
    ]);
    expectValid(events);
  });

  it('a nameless tool call is an AssemblyError and nothing is half-announced', () => {
    const { a, events } = collect();
    a.text('Calling.');
    const before = events.length;
    a.toolCall({ index: 0, id: 'call_nameless', arguments: '{"a":1}' });
    // Nothing announced for the call (it has no name yet); the message is closed.
    const afterFragment = events.slice(before);
    expect(afterFragment.some((e) => e.type === 'response.output_item.added')).toBe(false);
    expect(() => a.finish('completed')).toThrow(AssemblyError);
    expect(() => a.finish('completed')).toThrow(
      'the upstream sent a tool call (id call_nameless) without a name',
    );
    // No added without its done, and no function_call event at all.
    const added = events.filter((e) => e.type === 'response.output_item.added').length;
    const done = events.filter((e) => e.type === 'response.output_item.done').length;
    expect(added).toBe(done);
    expect(events.some((e) => String(e.type).startsWith('response.function_call'))).toBe(false);
    expect(a.items.map((i) => i.type)).toEqual(['message']);
  });

  it('a nameless call after a named one: AssemblyError before the named one is closed', () => {
    const { a, events } = collect();
    a.toolCall({ index: 0, id: 'c1', name: 'f', arguments: '{}' });
    a.toolCall({ index: 1, id: 'c2', arguments: '{}' });
    const count = events.length;
    const err = (() => {
      try {
        a.finish('completed');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(AssemblyError);
    expect((err as Error).name).toBe('AssemblyError');
    expect((err as Error).message).toContain('c2');
    expect(events).toHaveLength(count); // finish emitted nothing
    // abort() can still close the live call.
    a.abort();
    expect(a.items).toMatchObject([{ call_id: 'c1', status: 'incomplete' }]);
  });

  it('sealReasoning adds encrypted_content to reasoning items (and only to them)', () => {
    const sealed: string[] = [];
    const { a, events } = collect({
      sealReasoning: (t) => {
        sealed.push(t);
        return `sealed(${t})`;
      },
    });
    a.reasoning('first thought');
    a.text('answer');
    a.reasoning('second');
    const items = a.finish('completed') as Json[];
    expect(sealed).toEqual(['first thought', 'second']);
    expect(items.map((i) => i.encrypted_content)).toEqual([
      'sealed(first thought)',
      undefined,
      'sealed(second)',
    ]);
    expect(items[1]).not.toHaveProperty('encrypted_content');
    const doneReasoning = events.filter(
      (e) => e.type === 'response.output_item.done' && e.item.type === 'reasoning',
    );
    expect(doneReasoning.map((e) => e.item.encrypted_content)).toEqual([
      'sealed(first thought)',
      'sealed(second)',
    ]);
    expectValid(events);

    const plain = collect();
    plain.a.reasoning('x');
    expect(plain.a.finish('completed')[0]).not.toHaveProperty('encrypted_content');
  });

  it('works without a sink (the non-streaming parser) and yields the same items', () => {
    const drive = (a: OutputAssembler) => {
      a.reasoning('r');
      a.text('t');
      const f: ToolCallFragment = { id: 'c', name: 'n', arguments: '{}' };
      a.toolCall(f);
      return a.finish('completed').map((i) => ({ ...i, id: '' }));
    };
    expect(drive(new OutputAssembler(null))).toEqual(drive(collect().a));
  });
});
