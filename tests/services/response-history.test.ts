/**
 * ResponseHistory over a MemoryStore: ids for input items, the context `previous_response_id`
 * builds (chains included), `item_reference` resolution, and the 400s for what cannot be found.
 */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError, PreviousResponseNotFoundError, ProxyError } from '../../src/errors.js';
import { isItemReference, normalizeItem, ResponseHistory } from '../../src/services/response-history.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { StoredItem } from '../../src/store/response-store.js';
import type { ResponsesRequest } from '../../src/types.js';
import { makeEntry, outputItems } from '../store/helpers.js';

const ID = (prefix: string) => new RegExp(`^${prefix}_[0-9a-f]{32}$`);

function history(now: () => number = Date.now): ResponseHistory {
  return new ResponseHistory(
    new MemoryStore(
      { ttlMs: 60_000, maxEntries: 100, maxBytes: 64 * 1024 * 1024, maxResponseBytes: 1024 * 1024 },
      now,
    ),
  );
}

function request(body: Record<string, unknown>): ResponsesRequest {
  return { model: 'test-model', ...body } as ResponsesRequest;
}

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProxyError);
  return err as ProxyError;
}

describe('normalizeItem', () => {
  it.each<[string, Record<string, unknown>, string, string]>([
    ['a message', { type: 'message', role: 'user', content: 'hi' }, 'message', 'msg'],
    ['a message without a type', { role: 'user', content: 'hi' }, 'message', 'msg'],
    [
      'a function call',
      { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}' },
      'function_call',
      'fc',
    ],
    [
      'a function call output',
      { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
      'function_call_output',
      'fco',
    ],
    ['a reasoning item', { type: 'reasoning', summary: [] }, 'reasoning', 'rs'],
  ])('gives %s an id with its prefix', (_, item, type, prefix) => {
    const out = normalizeItem(item);
    expect(out.id).toMatch(ID(prefix));
    expect(out.type).toBe(type);
    expect(out.status).toBe('completed');
  });

  it('gives every item its own id', () => {
    const ids = new Set(Array.from({ length: 50 }, () => normalizeItem({ role: 'user', content: 'x' }).id));
    expect(ids.size).toBe(50);
  });

  it('keeps a given id, and replaces an empty one', () => {
    expect(normalizeItem({ type: 'message', id: 'msg_client1', role: 'user', content: 'x' }).id).toBe(
      'msg_client1',
    );
    expect(
      normalizeItem({ type: 'function_call', id: 'fc_mine', call_id: 'c', name: 'f', arguments: '' }).id,
    ).toBe('fc_mine');
    expect(normalizeItem({ type: 'message', id: '', role: 'user', content: 'x' }).id).toMatch(ID('msg'));
  });

  it('turns string content into input_text for user, system and developer messages', () => {
    for (const role of ['user', 'system', 'developer']) {
      expect(normalizeItem({ role, content: 'hello' })).toEqual({
        id: expect.stringMatching(ID('msg')),
        type: 'message',
        role,
        status: 'completed',
        content: [{ type: 'input_text', text: 'hello' }],
      });
    }
  });

  it('turns string content into output_text for assistant messages', () => {
    expect(normalizeItem({ role: 'assistant', content: 'sure' })).toEqual({
      id: expect.stringMatching(ID('msg')),
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'sure', annotations: [], logprobs: [] }],
    });
  });

  it('completes assistant output_text parts the spec requires annotations and logprobs on', () => {
    const given = { type: 'output_text', text: 'ok', annotations: [{ type: 'url_citation' }], logprobs: [] };
    expect(
      normalizeItem({
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'sure' }, given, { type: 'refusal', refusal: 'no' }],
      }).content,
    ).toEqual([
      { type: 'output_text', text: 'sure', annotations: [], logprobs: [] },
      given,
      { type: 'refusal', refusal: 'no' },
    ]);
  });

  it('keeps content parts, other fields, and a given status', () => {
    const content = [
      { type: 'input_text', text: 'look' },
      { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' },
    ];
    const out = normalizeItem({ type: 'message', role: 'user', content, status: 'incomplete' });
    expect(out.content).toEqual(content);
    expect(out.status).toBe('incomplete');
    const call = normalizeItem({
      type: 'function_call',
      call_id: 'call_9',
      name: 'lookup',
      arguments: '{"q":1}',
    });
    expect(call).toMatchObject({ call_id: 'call_9', name: 'lookup', arguments: '{"q":1}' });
  });

  it('does not change the item it is given', () => {
    const item = { role: 'user', content: 'hi' };
    normalizeItem(item);
    expect(item).toEqual({ role: 'user', content: 'hi' });
  });
});

describe('ResponseHistory.context', () => {
  it('makes a string input one user message', async () => {
    const { items } = await history().context(request({ input: 'hello' }));
    expect(items).toEqual([
      {
        id: expect.stringMatching(ID('msg')),
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [{ type: 'input_text', text: 'hello' }],
      },
    ]);
  });

  it('puts the previous response’s stored input, then its output, then the new input', async () => {
    const h = history();
    const previous = makeEntry();
    await h.store.put(previous);
    const { items } = await h.context(
      request({
        previous_response_id: previous.response.id,
        input: [{ role: 'user', content: 'and tomorrow?' }],
      }),
    );
    expect(items).toHaveLength(previous.inputItems.length + outputItems(previous).length + 1);
    expect(items.slice(0, -1)).toEqual([...previous.inputItems, ...outputItems(previous)]);
    expect(items.at(-1)).toMatchObject({
      type: 'message',
      role: 'user',
      id: expect.stringMatching(ID('msg')),
      content: [{ type: 'input_text', text: 'and tomorrow?' }],
    });
  });

  it('follows a chain through what save stored', async () => {
    const h = history();
    const turn = async (input: string, previous: string | null, answer: string) => {
      const ctx = await h.context(
        request({ input, ...(previous ? { previous_response_id: previous } : {}) }),
      );
      const entry = makeEntry({ text: answer });
      await h.save(entry.response, ctx);
      return { ctx, entry };
    };
    const one = await turn('first', null, 'answer one');
    const two = await turn('second', one.entry.response.id, 'answer two');
    const three = await turn('third', two.entry.response.id, 'answer three');

    expect(await h.store.get(two.entry.response.id)).toEqual({
      response: two.entry.response,
      inputItems: two.ctx.items,
    });
    const texts = three.ctx.items.map((i) => {
      const part = (i.content as Array<{ text?: string }> | undefined)?.[0];
      return `${i.type}:${part?.text ?? ''}`;
    });
    expect(texts).toEqual([
      'message:first',
      'reasoning:',
      'message:answer one',
      'function_call:',
      'message:second',
      'reasoning:',
      'message:answer two',
      'function_call:',
      'message:third',
    ]);
    // Ids stay what they were when first stored.
    expect(three.ctx.items.slice(0, 4)).toEqual([...one.ctx.items, ...outputItems(one.entry)]);
  });

  it('rejects an unknown previous_response_id with a 400', async () => {
    const err = await rejection(
      history().context(request({ previous_response_id: 'resp_nope', input: 'hi' })),
    );
    expect(err).toBeInstanceOf(PreviousResponseNotFoundError);
    expect(err).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      param: 'previous_response_id',
      code: 'previous_response_not_found',
    });
    expect(err.message).toContain('resp_nope');
  });

  it('treats an expired previous response as not found', async () => {
    let now = 1_000_000;
    const h = history(() => now);
    const previous = makeEntry();
    await h.store.put(previous);
    now += 60_001;
    const err = await rejection(
      h.context(request({ previous_response_id: previous.response.id, input: 'hi' })),
    );
    expect(err).toBeInstanceOf(PreviousResponseNotFoundError);
  });

  it('resolves item_reference to a stored input or output item', async () => {
    const h = history();
    const stored = makeEntry();
    await h.store.put(stored);
    const input = stored.inputItems[0] as StoredItem;
    const output = outputItems(stored)[1] as StoredItem;
    const { items } = await h.context(
      request({
        input: [
          { type: 'item_reference', id: input.id },
          { role: 'user', content: 'between' },
          { type: 'item_reference', id: output.id },
        ],
      }),
    );
    expect(items).toHaveLength(3);
    expect(items[0]).toEqual(input);
    expect(items[1]).toMatchObject({ role: 'user', content: [{ type: 'input_text', text: 'between' }] });
    expect(items[2]).toEqual(output);
  });

  it('resolves the short reference forms {id} and {type: null, id}', async () => {
    const h = history();
    const stored = makeEntry();
    await h.store.put(stored);
    const input = stored.inputItems[0] as StoredItem;
    const output = outputItems(stored)[1] as StoredItem;
    const { items, inherited } = await h.context(
      request({ input: [{ id: input.id }, { type: null, id: output.id }] }),
    );
    expect(items).toEqual([input, output]);
    expect(inherited).toBe(0);
    expect(isItemReference({ id: 'msg_1' })).toBe(true);
    expect(isItemReference({ role: 'user', id: 'msg_1', content: 'hi' })).toBe(false);
    expect(isItemReference({ type: 'message', id: 'msg_1' })).toBe(false);
  });

  it('counts the items inherited from previous_response_id', async () => {
    const h = history();
    const previous = makeEntry();
    await h.store.put(previous);
    const ctx = await h.context(request({ previous_response_id: previous.response.id, input: 'next' }));
    expect(ctx.inherited).toBe(previous.inputItems.length + outputItems(previous).length);
    expect(ctx.items).toHaveLength(ctx.inherited + 1);
  });

  it('rejects an item_reference to an unknown item with a 400 naming input[i].id', async () => {
    const err = await rejection(
      history().context(
        request({
          input: [
            { role: 'user', content: 'hi' },
            { type: 'item_reference', id: 'msg_unknown' },
          ],
        }),
      ),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ status: 400, param: 'input[1].id', code: 'item_not_found' });
    expect(err.message).toContain('msg_unknown');
  });

  it('rejects an item_reference without an id with a 400 naming input[i].id', async () => {
    const err = await rejection(history().context(request({ input: [{ type: 'item_reference' }] })));
    expect(err).toMatchObject({ status: 400, param: 'input[0].id' });
  });

  it('no longer resolves an item of a deleted response', async () => {
    const h = history();
    const stored = makeEntry();
    await h.store.put(stored);
    await h.store.delete(stored.response.id);
    const err = await rejection(
      h.context(request({ input: [{ type: 'item_reference', id: outputItems(stored)[0]?.id }] })),
    );
    expect(err).toMatchObject({ status: 400, param: 'input[0].id', code: 'item_not_found' });
  });
});
