import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatCompletion, ResponsesRequest } from '../../src/types.js';
import { buildResponse, createResponseContext, mapUsage } from '../../src/utils/response-envelope.js';
import { itemJson, jsonString, responseJson } from '../../src/utils/response-json.js';
import { parseChatCompletion } from '../../src/utils/response-parser.js';
import { ToolCodec } from '../../src/utils/tool-codec.js';

/** Any text, lone surrogates, control characters and quotes included. */
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string(),
  fc.constantFrom('', '"', '\\', '\n', '\ud800'),
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const request: fc.Arbitrary<ResponsesRequest> = fc
  .record({
    model: maybe(text),
    instructions: maybe(fc.oneof(text, fc.constant(null))),
    max_output_tokens: maybe(fc.oneof(fc.nat(), fc.constant(null))),
    temperature: maybe(fc.double({ min: 0, max: 2, noNaN: true })),
    top_p: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    user: maybe(text),
    metadata: maybe(fc.dictionary(text, text, { maxKeys: 3 })),
    text: maybe(
      fc.oneof(
        fc.constant({ format: { type: 'text' } }),
        fc.constant({ format: { type: 'json_object' } }),
        fc.record({ verbosity: fc.constantFrom('low', 'high') }),
      ),
    ),
    reasoning: maybe(
      fc.record({ effort: maybe(fc.constantFrom('low', 'high')), summary: maybe(fc.constant('auto')) }),
    ),
    tool_choice: maybe(fc.constantFrom('auto', 'none', 'required')),
    prompt_cache_key: maybe(text),
    previous_response_id: maybe(text),
    safety_identifier: maybe(text),
    parallel_tool_calls: maybe(fc.boolean()),
  })
  .map((r) => ({
    ...r,
    input: 'hi',
    tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }],
  })) as unknown as fc.Arbitrary<ResponsesRequest>;

const reply: fc.Arbitrary<ChatCompletion> = fc
  .record({
    content: fc.oneof(text, fc.constant(null)),
    refusal: maybe(text),
    reasoning_content: maybe(text),
    toolArgs: fc.array(text, { maxLength: 2 }),
    finish: fc.constantFrom('stop', 'length', 'content_filter', 'tool_calls', null),
    usage: maybe(
      fc.record({
        prompt_tokens: fc.nat(),
        completion_tokens: fc.nat(),
        total_tokens: fc.nat(),
        prompt_tokens_details: maybe(fc.record({ cached_tokens: fc.nat() })),
      }),
    ),
  })
  .map(
    (r) =>
      ({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          {
            index: 0,
            finish_reason: r.finish,
            logprobs: null,
            message: {
              role: 'assistant',
              content: r.content,
              ...(r.refusal === undefined ? {} : { refusal: r.refusal }),
              ...(r.reasoning_content === undefined ? {} : { reasoning_content: r.reasoning_content }),
              ...(r.toolArgs.length === 0
                ? {}
                : {
                    tool_calls: r.toolArgs.map((args, i) => ({
                      id: `call_${i}`,
                      type: 'function',
                      function: { name: 'get_weather', arguments: args },
                    })),
                  }),
            },
          },
        ],
        ...(r.usage === undefined ? {} : { usage: r.usage }),
      }) as unknown as ChatCompletion,
  );

describe('responseJson', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes the envelope, messages and usage itself, not through JSON.stringify', () => {
    const ctx = createResponseContext({ model: 'm', input: 'hi' }, 1_800_000_000_000, false);
    const response = parseChatCompletion(
      {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            logprobs: null,
            message: { role: 'assistant', content: 'Hello', refusal: null },
          },
        ],
        usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
      } as ChatCompletion,
      ctx,
    );
    const expected = JSON.stringify(response);
    const stringify = vi.spyOn(JSON, 'stringify');
    expect(responseJson(response)).toBe(expected);
    expect(stringify).not.toHaveBeenCalled();
  });

  it('writes what JSON.stringify writes, for Responses the parser makes from any reply and request', () => {
    fc.assert(
      fc.property(request, reply, fc.boolean(), (req, chat, stored) => {
        const ctx = createResponseContext(req, 1_800_000_000_000, stored);
        const response = parseChatCompletion(chat, ctx, {
          logprobs: false,
          tools: new ToolCodec(req.tools ?? []),
          sealReasoning: null,
        });
        expect(responseJson(response)).toBe(JSON.stringify(response));
      }),
      { numRuns: 400 },
    );
  });

  it('writes snapshots without output or usage, failed and incomplete ones, as JSON.stringify does', () => {
    const ctx = createResponseContext({ model: 'm', input: 'hi', user: 'u' }, 1_800_000_000_000, false);
    for (const state of [
      { status: 'in_progress' as const, output: [], usage: null },
      { status: 'failed' as const, output: [], usage: null, error: { code: 'server_error', message: 'x"y' } },
      {
        status: 'incomplete' as const,
        output: [],
        usage: mapUsage(undefined),
        incompleteDetails: { reason: 'max_output_tokens' as const },
      },
    ]) {
      const response = buildResponse(ctx, state);
      expect(responseJson(response)).toBe(JSON.stringify(response));
    }
  });

  it('leaves a Response of another shape to JSON.stringify, so no field is lost', () => {
    const response = buildResponse(createResponseContext({ model: 'm', input: 'hi' }), {
      status: 'completed',
      output: [],
      usage: null,
    });
    const extended = { ...response, extra: { a: 1 } };
    expect(responseJson(extended)).toBe(JSON.stringify(extended));
    const { truncation: _dropped, ...missing } = response;
    expect(responseJson(missing as typeof response)).toBe(JSON.stringify(missing));
  });

  it('writes items of shapes it does not know, and parts with logprobs, through JSON.stringify', () => {
    const part = {
      type: 'output_text',
      text: 'a',
      annotations: [],
      logprobs: [{ token: 'a', logprob: 0, bytes: [97] }],
    };
    const message = { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [part] };
    const extra = { ...message, phase: 'final_answer' };
    for (const item of [message, extra, { type: 'web_search_call', id: 'ws_1', status: 'completed' }]) {
      expect(itemJson(item as never)).toBe(JSON.stringify(item));
    }
  });
});

describe('jsonString', () => {
  it('is JSON.stringify for every string', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(jsonString(s)).toBe(JSON.stringify(s));
      }),
      { numRuns: 2000 },
    );
  });
});
