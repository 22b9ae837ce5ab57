/**
 * Stateful Responses end to end, the same suite on each store backend (memory, SQLite in a temp
 * dir, the real Redis): the real proxy in front of a real HTTP mock Chat Completions server, driven
 * by the official `openai` client and by raw HTTP. Conversations continue from
 * `previous_response_id` alone, `item_reference` resolves stored items, and the stored-response
 * endpoints (GET, DELETE, input_items, cancel) behave as OpenAI's.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import type { ResponseStreamParams } from 'openai/lib/responses/ResponseStream';
import type {
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseInputItem,
} from 'openai/resources/responses/responses';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Backend,
  CHAT_WEATHER_TOOL,
  ChatScript,
  chatToolCall,
  storeToml,
  WEATHER_TOOL,
} from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { assertValidResponse, schemaErrors } from '../helpers/spec-validator.js';
import { expectEnvelope, get, post, sleep, streamEvents } from '../reliability/helpers.js';
import { REDIS_URL, redisKeys, redisTestPrefix, wipeRedisPrefix } from '../store/helpers.js';
import type { Json } from '../stream/fixtures.js';

const MODEL = 'test-model';
const NO_RETRIES = 'retries = { max = 0 }';
const ITEM_ID = /^(msg|fc|fco|rs)_[0-9a-f]{32}$/;
const PREFIX_OF: Record<string, string> = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  reasoning: 'rs',
};

const user = (content: string) => ({ role: 'user', content });
const system = (content: string) => ({ role: 'system', content });
const STREAM_FIELDS = { stream: true, stream_options: { include_usage: true } };

/**
 * A Response as the proxy sent it: without what the SDK computes (`output_text`; the stream helper
 * adds `output_parsed`, each call's `parsed_arguments` and each text part's `parsed`).
 */
function plain(response: Response): Json {
  const { output_text: _t, output_parsed: _p, ...rest } = response as Json;
  const output = rest.output.map(({ parsed_arguments: _a, ...item }: Json) =>
    Array.isArray(item.content)
      ? { ...item, content: item.content.map(({ parsed: _c, ...part }: Json) => part) }
      : item,
  );
  return { ...rest, output };
}

/** The proxy's error for a call the SDK made, as `{status, type, code, param, message}`. */
async function apiError(p: Promise<unknown>): Promise<Json> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the call should have failed').toBeInstanceOf(OpenAI.APIError);
  const e = err as InstanceType<typeof OpenAI.APIError>;
  return { status: e.status, type: e.type, code: e.code, param: e.param, message: e.message };
}

describe.each<Backend>(['memory', 'sqlite', 'redis'])('stateful Responses, %s store', (backend) => {
  const script = new ChatScript();
  const prefix = redisTestPrefix();
  let dir: string;
  let upstream: MockUpstream;
  let proxy: TestProxy;
  let client: OpenAI;
  /** A second proxy on its own store with a 1 s TTL and a 4 KiB entry limit. */
  let limited: TestProxy;
  let limitedClient: OpenAI;

  const mainStore = () => storeToml(backend, where('main'));
  const where = (name: string) => ({
    sqlitePath: join(dir, `${name}.sqlite`),
    redisUrl: REDIS_URL,
    keyPrefix: `${prefix}${name}:`,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llm-proxy-stored-'));
    upstream = await MockUpstream.start(script.handler);
    const target = oneTarget(upstream.baseUrl, NO_RETRIES);
    proxy = await startProxy(mainStore() + target, {}, 'info');
    client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
    limited = await startProxy(
      storeToml(backend, where('limited'), 'ttl = "1s"\nmax_response_bytes = 4096') + target,
      {},
      'info',
    );
    limitedClient = new OpenAI({ baseURL: `${limited.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await proxy?.close();
    await limited?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
    if (backend === 'redis') {
      await wipeRedisPrefix(prefix);
      expect((await redisKeys(prefix)).size).toBe(0);
    }
  });

  beforeEach(() => {
    upstream.requests.length = 0;
    script.clear();
  });

  afterEach(() => {
    expect(script.pending, 'every scripted upstream reply was used').toBe(0);
  });

  /** One turn, JSON or streamed through the SDK's stream helper. */
  const create = (body: ResponseCreateParamsNonStreaming, stream: boolean, c = client): Promise<Response> =>
    stream ? c.responses.stream(body as ResponseStreamParams).finalResponse() : c.responses.create(body);

  const fco = (callId: string, output: string): ResponseInputItem => ({
    type: 'function_call_output',
    call_id: callId,
    output,
  });

  describe('conversations driven by previous_response_id', () => {
    it.each([
      ['JSON', false],
      ['streamed', true],
    ])(
      '%s: a three-turn tool conversation sends the upstream exactly the whole context',
      async (_l, stream) => {
        const extra = stream ? STREAM_FIELDS : {};
        const question = user('What is the weather in Paris?');
        const callMessage = {
          role: 'assistant',
          content: null,
          tool_calls: [chatToolCall('call_w1', 'get_weather', '{"city":"Paris"}')],
        };
        const toolMessage = { role: 'tool', tool_call_id: 'call_w1', content: '{"temp_c":21,"sky":"sunny"}' };

        // Turn 1: the user asks; the model calls the tool.
        script.reply({ tool_calls: [{ id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' }] });
        const r1 = await create(
          {
            model: MODEL,
            instructions: 'Be terse.',
            input: 'What is the weather in Paris?',
            tools: [WEATHER_TOOL],
          },
          stream,
        );
        assertValidResponse(plain(r1));
        expect(r1).toMatchObject({ status: 'completed', store: true, previous_response_id: null });
        expect(r1.output).toEqual([
          expect.objectContaining({ type: 'function_call', call_id: 'call_w1', name: 'get_weather' }),
        ]);
        expect(upstream.last.body).toEqual({
          model: MODEL,
          messages: [system('Be terse.'), question],
          tools: [CHAT_WEATHER_TOOL],
          ...extra,
        });

        // Turn 2, at once: only the previous id and the tool result.
        script.reply({ content: 'It is 21 °C and sunny in Paris.' });
        const r2 = await create(
          {
            model: MODEL,
            previous_response_id: r1.id,
            input: [fco('call_w1', '{"temp_c":21,"sky":"sunny"}')],
            tools: [WEATHER_TOOL],
          },
          stream,
        );
        assertValidResponse(plain(r2));
        expect(r2).toMatchObject({ status: 'completed', previous_response_id: r1.id, instructions: null });
        expect(r2.output_text).toBe('It is 21 °C and sunny in Paris.');
        // Instructions are not inherited: no system message.
        expect(upstream.last.body).toEqual({
          model: MODEL,
          messages: [question, callMessage, toolMessage],
          tools: [CHAT_WEATHER_TOOL],
          ...extra,
        });

        // Turn 3: another user message; turn 2's answer is in the history.
        const history = [question, callMessage, toolMessage, { role: 'assistant', content: r2.output_text }];
        script.reply({ content: 'Rain, 15 °C.' });
        const r3 = await create(
          { model: MODEL, previous_response_id: r2.id, input: 'And tomorrow?' },
          stream,
        );
        assertValidResponse(plain(r3));
        expect(r3.previous_response_id).toBe(r2.id);
        expect(upstream.last.body).toEqual({
          model: MODEL,
          messages: [...history, user('And tomorrow?')],
          ...extra,
        });

        // The same turn 3 with other instructions: only the new ones.
        script.reply({ content: 'Pluie, 15 °C.' });
        const r3b = await create(
          {
            model: MODEL,
            previous_response_id: r2.id,
            instructions: 'Answer in French.',
            input: 'And tomorrow?',
          },
          stream,
        );
        expect(r3b.instructions).toBe('Answer in French.');
        expect(upstream.last.body).toEqual({
          model: MODEL,
          messages: [system('Answer in French.'), ...history, user('And tomorrow?')],
          ...extra,
        });
        expect(upstream.requests).toHaveLength(4);

        // Each stored Response is what the client received.
        for (const r of [r1, r2, r3, r3b]) {
          const stored = await client.responses.retrieve(r.id);
          expect(plain(stored)).toEqual(plain(r));
          assertValidResponse(plain(stored));
        }
        // The last turn's context, oldest first, every item with its id.
        const items = await client.responses.inputItems.list(r3.id, { order: 'asc' });
        expect(items.data.map((i) => i.type)).toEqual([
          'message',
          'function_call',
          'function_call_output',
          'message',
          'message',
        ]);
        expect(items.data[1]?.id).toBe(r1.output[0]?.id);
        expect(items.data[3]?.id).toBe(r2.output[0]?.id);
      },
    );

    it('really keeps the entry in the configured backend', async () => {
      script.reply({ content: 'Kept.' });
      const r = await client.responses.create({ model: MODEL, input: 'Keep this.' });
      if (backend === 'sqlite') {
        const file = where('main').sqlitePath;
        expect(existsSync(file)).toBe(true);
        const db = new Database(file, { readonly: true, fileMustExist: true });
        try {
          const row = db.prepare('SELECT body FROM responses WHERE id = ?').get(r.id) as { body: string };
          expect(JSON.parse(row.body).response.id).toBe(r.id);
        } finally {
          db.close();
        }
      }
      if (backend === 'redis') {
        const keys = await redisKeys(where('main').keyPrefix);
        const ttl = keys.get(`${where('main').keyPrefix}resp:${r.id}`);
        // The default TTL is 30 days.
        expect(ttl).toBeGreaterThan(29 * 24 * 3_600_000);
      }
      expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
    });

    it('continues at once, turn after turn, alternating JSON and streams', async () => {
      let previous: string | null = null;
      for (let turn = 0; turn < 8; turn++) {
        script.reply({ content: `answer ${turn}` });
        const r: Response = await create(
          { model: MODEL, input: `question ${turn}`, previous_response_id: previous },
          turn % 2 === 1,
        );
        expect(r.output_text).toBe(`answer ${turn}`);
        // Every earlier question and answer, then this question.
        expect(upstream.last.body.messages).toHaveLength(2 * turn + 1);
        expect(upstream.last.body.messages.at(-2)).toEqual(
          turn === 0 ? undefined : { role: 'assistant', content: `answer ${turn - 1}` },
        );
        previous = r.id;
      }
    });

    it('continues from a stream as soon as response.completed arrives', async () => {
      script.reply({ content: 'Streamed.' }, { content: 'Continued.' });
      const stream = await client.responses.create({ model: MODEL, input: 'One', stream: true });
      let continued: Response | null = null;
      let retrieved: Response | null = null;
      let completed: Response | null = null;
      for await (const event of stream) {
        if (event.type !== 'response.completed') continue;
        completed = event.response;
        // No delay, the stream not even read to its end.
        [retrieved, continued] = await Promise.all([
          client.responses.retrieve(event.response.id),
          client.responses.create({ model: MODEL, previous_response_id: event.response.id, input: 'Two' }),
        ]);
      }
      expect(completed).not.toBeNull();
      expect(plain(retrieved as unknown as Response)).toEqual(plain(completed as unknown as Response));
      expect((continued as unknown as Response).output_text).toBe('Continued.');
      expect(upstream.last.body.messages).toEqual([
        user('One'),
        { role: 'assistant', content: 'Streamed.' },
        user('Two'),
      ]);
    });

    it('sends reasoning back as reasoning_content on the tool-call message (JSON then streamed)', async () => {
      for (const stream of [false, true]) {
        upstream.requests.length = 0;
        script.reply(
          {
            reasoning_content: 'The user wants the weather: call get_weather.',
            tool_calls: [{ id: 'call_r1', name: 'get_weather', arguments: '{"city":"Rome"}' }],
          },
          { content: 'Sunny in Rome.' },
        );
        const r1 = await create({ model: MODEL, input: 'Weather in Rome?', tools: [WEATHER_TOOL] }, stream);
        expect(r1.output.map((o) => o.type)).toEqual(['reasoning', 'function_call']);
        const r2 = await create(
          {
            model: MODEL,
            previous_response_id: r1.id,
            input: [fco('call_r1', 'sunny')],
            tools: [WEATHER_TOOL],
          },
          stream,
        );
        expect(r2.output_text).toBe('Sunny in Rome.');
        expect(upstream.last.body.messages).toEqual([
          user('Weather in Rome?'),
          {
            role: 'assistant',
            content: null,
            reasoning_content: 'The user wants the weather: call get_weather.',
            tool_calls: [chatToolCall('call_r1', 'get_weather', '{"city":"Rome"}')],
          },
          { role: 'tool', tool_call_id: 'call_r1', content: 'sunny' },
        ]);
      }
    });

    it('still continues from a later turn when an earlier one was deleted', async () => {
      script.reply({ content: 'A1' }, { content: 'A2' }, { content: 'A3' });
      const r1 = await client.responses.create({ model: MODEL, input: 'Q1' });
      const r2 = await client.responses.create({ model: MODEL, previous_response_id: r1.id, input: 'Q2' });
      await client.responses.delete(r1.id);
      await client.responses.create({ model: MODEL, previous_response_id: r2.id, input: 'Q3' });
      expect(upstream.last.body.messages).toEqual([
        user('Q1'),
        { role: 'assistant', content: 'A1' },
        user('Q2'),
        { role: 'assistant', content: 'A2' },
        user('Q3'),
      ]);
    });

    it.each([
      ['JSON', false],
      ['stream: true', true],
    ])('%s: an unknown previous_response_id is a 400 previous_response_not_found', async (_l, stream) => {
      const err = await apiError(
        client.responses.create({
          model: MODEL,
          previous_response_id: 'resp_0000000000000000000000000000dead',
          input: 'Hi',
          stream,
        }),
      );
      expect(err).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
        code: 'previous_response_not_found',
        param: 'previous_response_id',
      });
      expect(err.message).toContain('resp_0000000000000000000000000000dead');
      const raw = await post(proxy.url, { model: MODEL, previous_response_id: 'resp_nope', stream });
      expect(raw.status).toBe(400);
      expect(raw.headers.get('content-type')).toMatch(/^application\/json/);
      expect(expectEnvelope(raw)).toMatchObject({
        code: 'previous_response_not_found',
        param: 'previous_response_id',
      });
      expect(upstream.requests).toHaveLength(0);
    });
    it("errors in the new input name the client's own input index, not the whole context's", async () => {
      script.reply({ tool_calls: [{ id: 'call_e1', name: 'get_weather', arguments: '{"city":"Bern"}' }] });
      const r1 = await client.responses.create({
        model: MODEL,
        input: 'Weather in Bern?',
        tools: [WEATHER_TOOL],
      });
      // An output for a call that does not exist: the client's input[1].
      const wrongCall = await apiError(
        client.responses.create({
          model: MODEL,
          previous_response_id: r1.id,
          input: [fco('call_e1', 'cold'), fco('call_nope', 'x')],
          tools: [WEATHER_TOOL],
        }),
      );
      expect(wrongCall).toMatchObject({ status: 400, code: 'missing_tool_call', param: 'input[1].call_id' });
      expect(wrongCall.message).toMatch(/\binput\[1\]: no function call found/);
      // The stored call left without its output: the fix is in this request's input.
      const noOutput = await apiError(
        client.responses.create({ model: MODEL, previous_response_id: r1.id, input: 'And?' }),
      );
      expect(noOutput).toMatchObject({ status: 400, code: 'missing_tool_output', param: 'input' });
      expect(noOutput.message).toContain("previous response's context");
      expect(noOutput.message).toContain('call_e1');
      expect(upstream.requests).toHaveLength(1);
    });
  });

  describe('item_reference', () => {
    it('resolves stored input and output items, in place', async () => {
      script.reply({ tool_calls: [{ id: 'call_i1', name: 'get_weather', arguments: '{"city":"Lima"}' }] });
      const r1 = await client.responses.create({
        model: MODEL,
        input: 'Weather in Lima?',
        tools: [WEATHER_TOOL],
      });
      const inputs = await client.responses.inputItems.list(r1.id);
      const question = inputs.data[0];
      const call = r1.output[0];
      expect(question?.id).toMatch(/^msg_/);
      expect(call?.id).toMatch(/^fc_/);

      script.reply({ content: 'Warm in Lima.' });
      const r2 = await client.responses.create({
        model: MODEL,
        input: [
          { type: 'item_reference', id: question?.id as string },
          { type: 'item_reference', id: call?.id as string },
          fco('call_i1', 'warm'),
        ],
        tools: [WEATHER_TOOL],
      });
      expect(upstream.last.body.messages).toEqual([
        user('Weather in Lima?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [chatToolCall('call_i1', 'get_weather', '{"city":"Lima"}')],
        },
        { role: 'tool', tool_call_id: 'call_i1', content: 'warm' },
      ]);
      // The new response's context holds the referenced items themselves, with their ids.
      const stored = await client.responses.inputItems.list(r2.id, { order: 'asc' });
      expect(stored.data.map((i) => i.id).slice(0, 2)).toEqual([question?.id, call?.id]);
      expect(stored.data[1]).toMatchObject({
        type: 'function_call',
        call_id: 'call_i1',
        name: 'get_weather',
      });
    });

    it("accepts the spec's short form {id} (type omitted or null)", async () => {
      script.reply({ content: 'Noted.' }, { content: 'Blue.' }, { content: 'Yes.' });
      const r1 = await client.responses.create({ model: MODEL, input: 'Remember: blue.' });
      const { data } = await client.responses.inputItems.list(r1.id);
      const remembered = data[0]?.id as string;
      await client.responses.create({
        model: MODEL,
        input: [{ id: remembered } as ResponseInputItem, { role: 'user', content: 'Which colour?' }],
      });
      expect(upstream.last.body.messages).toEqual([user('Remember: blue.'), user('Which colour?')]);
      await client.responses.create({
        model: MODEL,
        input: [
          { type: null, id: r1.output[0]?.id as string },
          { role: 'user', content: 'Sure?' },
        ],
      });
      expect(upstream.last.body.messages).toEqual([{ role: 'assistant', content: 'Noted.' }, user('Sure?')]);
    });

    it('works next to previous_response_id and with store: false', async () => {
      script.reply({ content: 'First answer.' }, { content: 'Second.' });
      const r1 = await client.responses.create({ model: MODEL, input: 'Say something.' });
      const answer = r1.output[0]?.id as string;
      const r2 = await client.responses.create({
        model: MODEL,
        store: false,
        input: [
          { type: 'item_reference', id: answer },
          { role: 'user', content: 'Again?' },
        ],
      });
      expect(r2).toMatchObject({ store: false });
      expect(upstream.last.body.messages).toEqual([
        { role: 'assistant', content: 'First answer.' },
        user('Again?'),
      ]);
    });

    it('an unknown id is a 400 naming input[i].id, before any upstream call', async () => {
      script.reply({ content: 'x' });
      const r1 = await client.responses.create({ model: MODEL, input: 'Hi' });
      const err = await apiError(
        client.responses.create({
          model: MODEL,
          input: [
            { type: 'item_reference', id: r1.output[0]?.id as string },
            { type: 'item_reference', id: 'msg_00000000000000000000000000000000' },
          ],
        }),
      );
      expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'input[1].id' });
      expect(err.message).toContain('msg_00000000000000000000000000000000');
      expect(upstream.requests).toHaveLength(1);
    });
  });

  describe('GET and DELETE /v1/responses/{id}', () => {
    it('GET returns the stored Response; an unknown id is a 404 envelope', async () => {
      script.reply({ content: 'Stored.' });
      const created = await client.responses.create({
        model: MODEL,
        input: 'Store me',
        metadata: { topic: 'test' },
        temperature: 0.5,
      });
      const raw = await get(proxy.url, `/v1/responses/${created.id}`);
      expect(raw.status).toBe(200);
      expect(raw.json).toEqual(plain(created));
      assertValidResponse(raw.json);

      const missing = await get(proxy.url, '/v1/responses/resp_00000000000000000000000000000000');
      expect(missing.status).toBe(404);
      expect(expectEnvelope(missing)).toMatchObject({
        type: 'invalid_request_error',
        code: 'not_found',
        param: null,
      });
      expect(missing.json.error.message).toContain('resp_00000000000000000000000000000000');
      expect(await apiError(client.responses.retrieve('resp_missing'))).toMatchObject({ status: 404 });
    });

    it('DELETE answers {id, object, deleted}; then GET, DELETE and continuing all fail', async () => {
      script.reply({ content: 'Delete me.' });
      const r = await client.responses.create({ model: MODEL, input: 'Soon gone' });
      const del = await fetch(`${proxy.url}/v1/responses/${r.id}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await del.json()).toEqual({ id: r.id, object: 'response', deleted: true });

      expect((await get(proxy.url, `/v1/responses/${r.id}`)).status).toBe(404);
      expect((await get(proxy.url, `/v1/responses/${r.id}/input_items`)).status).toBe(404);
      const again = await fetch(`${proxy.url}/v1/responses/${r.id}`, { method: 'DELETE' });
      expect(again.status).toBe(404);
      expect(expectEnvelope({ json: await again.json(), text: '' })).toMatchObject({ code: 'not_found' });
      expect(
        await apiError(client.responses.create({ model: MODEL, previous_response_id: r.id, input: 'x' })),
      ).toMatchObject({ status: 400, code: 'previous_response_not_found' });
      // Its output items are gone with it.
      expect(
        await apiError(
          client.responses.create({
            model: MODEL,
            input: [{ type: 'item_reference', id: r.output[0]?.id as string }],
          }),
        ),
      ).toMatchObject({ status: 400, param: 'input[0].id' });

      // The SDK's delete works too.
      script.reply({ content: 'Also.' });
      const r2 = await client.responses.create({ model: MODEL, input: 'Also gone' });
      await client.responses.delete(r2.id);
      expect(await apiError(client.responses.retrieve(r2.id))).toMatchObject({ status: 404 });
      expect(await apiError(client.responses.delete(r2.id))).toMatchObject({ status: 404 });
    });
  });

  describe('GET /v1/responses/{id}/input_items', () => {
    /** 23 input items of every kind, then a continuation: 25 items in the second response's context. */
    let all: Json[];
    let responseId: string;

    beforeAll(async () => {
      const input = [
        { role: 'developer', content: 'You answer about weather.' },
        ...Array.from({ length: 9 }, (_, i) => [
          { role: 'user', content: `question ${i}` },
          { role: 'assistant', content: `answer ${i}` },
        ]).flat(),
        { type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Use the tool.' }] },
        { type: 'function_call', call_id: 'call_p1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_p1', output: '{"temp_c":3}' },
        { role: 'user', content: [{ type: 'input_text', text: 'Summarize.' }] },
      ] as unknown as ResponseInputItem[];
      script.reply({ content: 'Oslo: 3 °C.' }, { content: 'You are welcome.' });
      const first = await client.responses.create({ model: MODEL, input, tools: [WEATHER_TOOL] });
      const second = await client.responses.create({
        model: MODEL,
        previous_response_id: first.id,
        input: 'Thanks',
      });
      responseId = second.id;
      const full = await get(proxy.url, `/v1/responses/${responseId}/input_items?order=asc&limit=100`);
      expect(full.status).toBe(200);
      all = full.json.data;
      expect(full.json.has_more).toBe(false);
      const firstItems = await get(proxy.url, `/v1/responses/${first.id}/input_items?order=asc&limit=100`);
      // The continuation's context: the first response's input and output, then the new input.
      expect(all.map((i) => i.id)).toEqual([
        ...firstItems.json.data.map((i: Json) => i.id),
        first.output[0]?.id,
        expect.stringMatching(/^msg_/),
      ]);
      script.clear();
    });

    it('holds every item with an id of its kind, and validates as ResponseItemList', async () => {
      expect(all).toHaveLength(25);
      expect(all.map((i) => i.type)).toEqual([
        ...Array(19).fill('message'),
        'reasoning',
        'function_call',
        'function_call_output',
        'message',
        'message',
        'message',
      ]);
      for (const item of all) {
        expect(item.id).toMatch(ITEM_ID);
        expect(item.id.startsWith(`${PREFIX_OF[item.type]}_`)).toBe(true);
      }
      expect(new Set(all.map((i) => i.id)).size).toBe(25);
      expect(all[0]).toEqual({
        id: all[0].id,
        type: 'message',
        role: 'developer',
        status: 'completed',
        content: [{ type: 'input_text', text: 'You answer about weather.' }],
      });
      expect(all[2]).toMatchObject({
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'answer 0', annotations: [] }],
      });
      expect(all[21]).toMatchObject({
        type: 'function_call_output',
        call_id: 'call_p1',
        output: '{"temp_c":3}',
      });
      expect(all[24]).toMatchObject({ role: 'user', content: [{ type: 'input_text', text: 'Thanks' }] });
      const page = (await get(proxy.url, `/v1/responses/${responseId}/input_items?limit=100`)).json;
      expect(schemaErrors('openai', 'ResponseItemList', page)).toEqual([]);
    });

    it('defaults to the 20 newest first', async () => {
      const page = await get(proxy.url, `/v1/responses/${responseId}/input_items`);
      expect(page.status).toBe(200);
      const newest = [...all].reverse().slice(0, 20);
      expect(page.json).toEqual({
        object: 'list',
        data: newest,
        first_id: newest[0].id,
        last_id: newest[19].id,
        has_more: true,
      });
      expect(schemaErrors('openai', 'ResponseItemList', page.json)).toEqual([]);
    });

    it('order=asc lists oldest first; has_more is exact at the boundary', async () => {
      const asc = (await get(proxy.url, `/v1/responses/${responseId}/input_items?order=asc`)).json;
      expect(asc.data).toEqual(all.slice(0, 20));
      expect(asc.has_more).toBe(true);
      const exact = (await get(proxy.url, `/v1/responses/${responseId}/input_items?order=asc&limit=25`)).json;
      expect(exact).toMatchObject({ has_more: false, first_id: all[0].id, last_id: all[24].id });
      const oneShort = (await get(proxy.url, `/v1/responses/${responseId}/input_items?limit=24`)).json;
      expect(oneShort).toMatchObject({ has_more: true, first_id: all[24].id, last_id: all[1].id });
      const one = (await get(proxy.url, `/v1/responses/${responseId}/input_items?limit=1&order=desc`)).json;
      expect(one).toEqual({
        object: 'list',
        data: [all[24]],
        first_id: all[24].id,
        last_id: all[24].id,
        has_more: true,
      });
    });

    it.each(['asc', 'desc'] as const)('pages through every item with after, order=%s', async (order) => {
      const expected = order === 'asc' ? all : [...all].reverse();
      const seen: Json[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const query: string = `order=${order}&limit=7${after === null ? '' : `&after=${after}`}`;
        const reply = await get(proxy.url, `/v1/responses/${responseId}/input_items?${query}`);
        expect(reply.status).toBe(200);
        const page = reply.json;
        pages++;
        expect(schemaErrors('openai', 'ResponseItemList', page)).toEqual([]);
        expect(page.first_id).toBe(page.data[0].id);
        expect(page.last_id).toBe(page.data.at(-1).id);
        seen.push(...page.data);
        expect(page.has_more).toBe(seen.length < 25);
        if (!page.has_more) break;
        after = page.last_id;
      }
      expect(pages).toBe(4);
      expect(seen).toEqual(expected);
    });

    it('the SDK lists and auto-paginates input items', async () => {
      const first = await client.responses.inputItems.list(responseId);
      expect(first.data.map((i) => i.id)).toEqual(
        [...all]
          .reverse()
          .slice(0, 20)
          .map((i) => i.id),
      );
      expect(first.hasNextPage()).toBe(true);
      const ids: string[] = [];
      for await (const item of client.responses.inputItems.list(responseId, { order: 'asc', limit: 4 })) {
        ids.push(item.id as string);
      }
      expect(ids).toEqual(all.map((i) => i.id));
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=x', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=', 'limit'],
      ['order=newest', 'order'],
      ['after=msg_00000000000000000000000000000000', 'after'],
    ])('%s is a 400 naming %s', async (query, param) => {
      const reply = await get(proxy.url, `/v1/responses/${responseId}/input_items?${query}`);
      expect(reply.status).toBe(400);
      expect(expectEnvelope(reply)).toMatchObject({ type: 'invalid_request_error', param });
    });

    it('accepts the limit bounds 1 and 100; after the last item the page is empty', async () => {
      for (const limit of [1, 100]) {
        expect((await get(proxy.url, `/v1/responses/${responseId}/input_items?limit=${limit}`)).status).toBe(
          200,
        );
      }
      const end = await get(
        proxy.url,
        `/v1/responses/${responseId}/input_items?order=asc&after=${all[24].id}`,
      );
      expect(end.status).toBe(200);
      expect(end.json).toMatchObject({ object: 'list', data: [], has_more: false });
    });

    it('an unknown response is a 404', async () => {
      const reply = await get(proxy.url, '/v1/responses/resp_00000000000000000000000000000000/input_items');
      expect(reply.status).toBe(404);
      expect(expectEnvelope(reply).code).toBe('not_found');
    });
  });

  describe('POST /v1/responses/{id}/cancel', () => {
    it('is a 400 (only background responses can be cancelled); an unknown id is a 404', async () => {
      script.reply({ content: 'Done already.' });
      const r = await client.responses.create({ model: MODEL, input: 'Hi' });
      const res = await fetch(`${proxy.url}/v1/responses/${r.id}/cancel`, { method: 'POST' });
      expect(res.status).toBe(400);
      const text = await res.text();
      const e = expectEnvelope({ text, json: JSON.parse(text) });
      expect(e.type).toBe('invalid_request_error');
      expect(e.message).toMatch(/background/);
      const viaSdk = await apiError(client.responses.cancel(r.id));
      expect(viaSdk).toMatchObject({ status: 400 });
      expect(viaSdk.message).toMatch(/background/);
      // Still there.
      expect((await client.responses.retrieve(r.id)).status).toBe('completed');
      expect(await apiError(client.responses.cancel('resp_00000000000000000000000000000000'))).toMatchObject({
        status: 404,
      });
    });
  });

  describe('store', () => {
    it('defaults to true; store: false leaves no trace', async () => {
      script.reply({ content: 'Kept.' }, { content: 'Not kept.' }, { content: 'Streamed, not kept.' });
      const kept = await client.responses.create({ model: MODEL, input: 'Keep' });
      expect(kept).toMatchObject({ store: true });
      const gone = await client.responses.create({ model: MODEL, input: 'Forget', store: false });
      expect(gone).toMatchObject({ store: false });
      assertValidResponse(plain(gone));
      const streamed = await create({ model: MODEL, input: 'Forget', store: false }, true);
      expect(streamed).toMatchObject({ store: false });

      for (const r of [gone, streamed]) {
        expect(await apiError(client.responses.retrieve(r.id))).toMatchObject({ status: 404 });
        expect((await get(proxy.url, `/v1/responses/${r.id}/input_items`)).status).toBe(404);
        expect(
          await apiError(client.responses.create({ model: MODEL, previous_response_id: r.id, input: 'x' })),
        ).toMatchObject({ status: 400, code: 'previous_response_not_found', param: 'previous_response_id' });
        expect(
          await apiError(
            client.responses.create({
              model: MODEL,
              input: [{ type: 'item_reference', id: r.output[0]?.id as string }],
            }),
          ),
        ).toMatchObject({ status: 400, param: 'input[0].id' });
      }
      if (backend === 'redis') {
        const keys = [...(await redisKeys(where('main').keyPrefix)).keys()].join('\n');
        expect(keys).toContain(kept.id);
        expect(keys).not.toContain(gone.id);
        expect(keys).not.toContain(streamed.id);
      }
      expect(upstream.requests).toHaveLength(3);
    });

    it('store: false may continue a stored response without being stored itself', async () => {
      script.reply({ content: 'One.' }, { content: 'Two.' });
      const r1 = await client.responses.create({ model: MODEL, input: 'First' });
      const r2 = await client.responses.create({
        model: MODEL,
        previous_response_id: r1.id,
        input: 'Second',
        store: false,
      });
      expect(r2).toMatchObject({ store: false, previous_response_id: r1.id });
      expect(upstream.last.body.messages).toEqual([
        user('First'),
        { role: 'assistant', content: 'One.' },
        user('Second'),
      ]);
      expect(await apiError(client.responses.retrieve(r2.id))).toMatchObject({ status: 404 });
    });
  });

  describe('store limits', () => {
    it('an entry expires after the TTL (1 s)', async () => {
      script.reply({ content: 'Short-lived.' });
      const r = await limitedClient.responses.create({ model: MODEL, input: 'Hi' });
      expect((await limitedClient.responses.retrieve(r.id)).id).toBe(r.id);
      await sleep(1_500);
      expect(await apiError(limitedClient.responses.retrieve(r.id))).toMatchObject({ status: 404 });
      expect(
        await apiError(
          limitedClient.responses.create({ model: MODEL, previous_response_id: r.id, input: 'x' }),
        ),
      ).toMatchObject({ status: 400, code: 'previous_response_not_found' });
      expect(
        await apiError(
          limitedClient.responses.create({
            model: MODEL,
            input: [{ type: 'item_reference', id: r.output[0]?.id as string }],
          }),
        ),
      ).toMatchObject({ status: 400, param: 'input[0].id' });
      if (backend === 'redis') {
        const keys = [...(await redisKeys(where('limited').keyPrefix)).keys()];
        expect(keys.filter((k) => k.includes(r.id))).toEqual([]);
      }
    });

    it('an entry over max_response_bytes is a 413 (a stream ends failed); store: false still works', async () => {
      const big = 'x'.repeat(5_000);
      script.reply({ content: 'Too big to keep.' }, { content: 'Fine.' }, { content: 'Too big, streamed.' });
      const err = await apiError(limitedClient.responses.create({ model: MODEL, input: big }));
      expect(err).toMatchObject({
        status: 413,
        type: 'invalid_request_error',
        code: 'response_too_large_to_store',
        param: 'store',
      });
      const ok = await limitedClient.responses.create({ model: MODEL, input: big, store: false });
      expect(ok.output_text).toBe('Fine.');

      const raw = await post(limited.url, { model: MODEL, input: big, stream: true });
      expect(raw.status).toBe(200);
      const { events, terminal } = streamEvents(raw.text);
      expect(events.some((e) => e.type === 'response.completed')).toBe(false);
      const error = events.at(-2);
      expect(error).toMatchObject({ type: 'error', code: 'response_too_large_to_store' });
      expect(terminal.type).toBe('response.failed');
      expect(terminal.response.status).toBe('failed');
      expect(await apiError(limitedClient.responses.retrieve(terminal.response.id))).toMatchObject({
        status: 404,
      });
    });
  });
});
