/**
 * Property-based (fast-check): any JSON body, and any value in any known field of an otherwise
 * valid request, gets a 2xx or a well-formed 4xx envelope: never a 5xx, never a crash. fast-check
 * shrinks a failing body to the smallest one that still fails and prints its seed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletion, MockUpstream, sendJson } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { expectEnvelope, post } from './helpers.js';

const FIELDS = [
  'model',
  'input',
  'instructions',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'max_output_tokens',
  'temperature',
  'top_p',
  'top_logprobs',
  'text',
  'reasoning',
  'metadata',
  'store',
  'include',
  'previous_response_id',
  'truncation',
  'user',
  'service_tier',
] as const;

let upstream: MockUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  upstream = await MockUpstream.start((_req, res) => sendJson(res, 200, chatCompletion({ content: 'ok' })));
  proxy = await startProxy(oneTarget(upstream.baseUrl, 'retries = { max = 0 }'), {}, 'warn');
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

async function check(body: string): Promise<void> {
  const reply = await post(proxy.url, body);
  expect(reply.status, `${reply.status} for ${body.slice(0, 300)}`).toBeLessThan(500);
  if (reply.status >= 400) expectEnvelope(reply);
}

describe('property: no request body yields a 5xx', { timeout: 60_000 }, () => {
  it('arbitrary JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.json({ maxDepth: 4 }), (body) => check(body)),
      { numRuns: 150 },
    );
  });

  it('a valid request with one field replaced by an arbitrary value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 3 }), (field, value) =>
        check(JSON.stringify({ model: 'm', input: 'Hi', [field]: value })),
      ),
      { numRuns: 200 },
    );
  });

  it('input items of arbitrary shape', async () => {
    const item = fc.record(
      {
        type: fc.constantFrom(
          'message',
          'function_call',
          'function_call_output',
          'reasoning',
          'item_reference',
          'x',
        ),
        role: fc.constantFrom('user', 'assistant', 'system', 'developer', 'tool'),
        content: fc.oneof(fc.string(), fc.array(fc.record({ type: fc.string(), text: fc.jsonValue() }))),
        call_id: fc.oneof(fc.string(), fc.integer()),
        name: fc.string(),
        arguments: fc.jsonValue(),
        output: fc.jsonValue(),
        id: fc.string(),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 6 }), (input) =>
        check(JSON.stringify({ model: 'm', input })),
      ),
      { numRuns: 200 },
    );
  });
});
