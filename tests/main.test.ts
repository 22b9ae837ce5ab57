import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatCompletion, MockUpstream, sendJson } from './helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from './helpers/proxy.js';
import { assertValidResponse } from './helpers/spec-validator.js';

let upstream: MockUpstream;
let proxy: TestProxy;
let client: OpenAI;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  proxy = await startProxy(oneTarget(upstream.baseUrl));
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
});

describe('non-streaming end to end', () => {
  it('answers a text request through the official client', async () => {
    const response = await client.responses.create({ model: 'test-model', input: 'Hi', instructions: 'Be terse.' });
    expect(response.output_text).toBe('Hello!');
    expect(response.status).toBe('completed');
    expect(upstream.last.path).toBe('/v1/chat/completions');
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    assertValidResponse(response);
  });
});
