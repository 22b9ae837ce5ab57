/**
 * Proxy keys (`[auth] api_keys_env`): the API routes need a valid bearer key, health, readiness
 * and metrics stay open, and no key (valid or not) ever reaches a log line. `forward_client_key`
 * sends the client's own bearer upstream instead of the configured key, without logging it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatCompletion, MockUpstream, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import type { Json } from '../stream/fixtures.js';
import { expectEnvelope, get, post, requestLine, streamEvents, wordChunks } from './helpers.js';

const KEY_1 = 'proxy-key-one-1111aaaa';
const KEY_2 = 'proxy-key-two-2222bbbb';
const WRONG = 'wrong-key-9999cccc';
const UPSTREAM_KEY = 'sk-upstream-3333dddd';
const CLIENT_OWN_KEY = 'sk-client-own-5555eeee';

let upstream: MockUpstream;
let proxy: TestProxy;
let byok: TestProxy;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  proxy = await startProxy(
    `[auth]\napi_keys_env = "LLM_PROXY_API_KEYS"\n\n${oneTarget(upstream.baseUrl, 'api_key_env = "UPSTREAM_KEY"')}`,
    { LLM_PROXY_API_KEYS: `${KEY_1}, ${KEY_2}`, UPSTREAM_KEY },
    'debug',
  );
  byok = await startProxy(
    oneTarget(upstream.baseUrl, 'api_key_env = "UPSTREAM_KEY"\nforward_client_key = true'),
    { UPSTREAM_KEY },
    'debug',
  );
});

afterAll(async () => {
  await proxy?.close();
  await byok?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (req, res) => {
    if (req.body?.stream === true) sendSse(res, wordChunks(['Hi']));
    else sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
  };
});

const BODY = { model: 'test-model', input: 'Hi' };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function expectNoKeyIn(text: string) {
  for (const key of [KEY_1, KEY_2, WRONG, UPSTREAM_KEY, CLIENT_OWN_KEY]) expect(text).not.toContain(key);
}

describe('[auth] api_keys_env', () => {
  it('POST /v1/responses without a key: 401 invalid_api_key, nothing sent upstream', async () => {
    const r = await post(proxy.url, BODY, { 'x-request-id': 'auth-none' });
    expect(r.status).toBe(401);
    expect(expectEnvelope(r)).toEqual({
      message: 'Missing API key: send it as "Authorization: Bearer <key>".',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    });
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(r.headers.get('x-request-id')).toBe('auth-none');
    expect(upstream.requests).toHaveLength(0);
    expect(await requestLine(proxy, 'auth-none')).toMatchObject({
      status: 401,
      target: null,
      attempts: 0,
      error: { code: 'invalid_api_key' },
    });
  });

  it('a wrong key, another scheme, or an empty bearer: 401 invalid_api_key', async () => {
    for (const authorization of [
      `Bearer ${WRONG}`,
      `Basic ${KEY_1}`,
      'Bearer',
      'Bearer ',
      KEY_1,
      `Bearer ${KEY_1}x`,
    ]) {
      const r = await post(proxy.url, BODY, { authorization });
      expect(r.status, authorization).toBe(401);
      expect(expectEnvelope(r).code).toBe('invalid_api_key');
      expectNoKeyIn(r.text);
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('the key check comes before the body is parsed', async () => {
    const r = await post(proxy.url, '{not json', {});
    expect(r.status).toBe(401);
    expect(expectEnvelope(r).code).toBe('invalid_api_key');
  });

  it('either valid key is accepted (case-insensitive scheme), and never sent upstream', async () => {
    for (const authorization of [`Bearer ${KEY_1}`, `Bearer ${KEY_2}`, `bearer ${KEY_1}`]) {
      const r = await post(proxy.url, BODY, { authorization });
      expect(r.status, authorization).toBe(200);
      expect(r.json.output[0].content[0].text).toBe('Hello!');
      // The upstream gets the configured upstream key, never the proxy key.
      expect(upstream.last.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(upstream.last.raw).not.toContain(KEY_1);
    }
  });

  it('streams with a valid key, 401 without', async () => {
    const ok = await post(proxy.url, { ...BODY, stream: true }, bearer(KEY_2));
    expect(ok.status).toBe(200);
    expect(streamEvents(ok.text).terminal.type).toBe('response.completed');
    const no = await post(proxy.url, { ...BODY, stream: true });
    expect(no.status).toBe(401);
    expect(expectEnvelope(no).code).toBe('invalid_api_key');
  });

  it('GET /v1/models needs a key too', async () => {
    const no = await get(proxy.url, '/v1/models');
    expect(no.status).toBe(401);
    expect(expectEnvelope(no).code).toBe('invalid_api_key');
    expect((await get(proxy.url, '/v1/models', bearer(WRONG))).status).toBe(401);
    const ok = await get(proxy.url, '/v1/models', bearer(KEY_1));
    expect(ok.status).toBe(200);
    expect(ok.json.object).toBe('list');
  });

  it('the POST /response alias needs a key too', async () => {
    expect((await post(proxy.url, BODY, {}, '/response')).status).toBe(401);
    expect((await post(proxy.url, BODY, bearer(KEY_1), '/response')).status).toBe(200);
  });

  it('/healthz, /readyz and /metrics stay open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const r = await get(proxy.url, path);
      expect(r.status, path).toBe(200);
      // A wrong key does not close them either.
      expect((await get(proxy.url, path, bearer(WRONG))).status, path).toBe(200);
    }
  });

  it('no key, valid or not, appears in any log line (debug level)', async () => {
    await post(proxy.url, BODY, bearer(KEY_1));
    await post(proxy.url, BODY, bearer(WRONG));
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.logText()).toContain('upstream request'); // debug payload logging is on
    expectNoKeyIn(proxy.logText());
  });
});

describe('[auth] api_keys_env on the stored-response routes', () => {
  async function call(method: string, path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${proxy.url}${path}`, { method, headers });
    const text = await res.text();
    let json: Json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: left null
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  async function storedId(): Promise<string> {
    const r = await post(proxy.url, { ...BODY, store: true }, bearer(KEY_1));
    expect(r.status).toBe(200);
    expect(r.json.id).toMatch(/^resp_/);
    return r.json.id as string;
  }

  const ROUTES = (id: string): Array<[string, string]> => [
    ['GET', `/v1/responses/${id}`],
    ['GET', `/v1/responses/${id}/input_items`],
    ['POST', `/v1/responses/${id}/cancel`],
    ['DELETE', `/v1/responses/${id}`],
  ];

  it('every route answers 401 invalid_api_key without a key, or with a wrong one', async () => {
    const id = await storedId();
    for (const [method, path] of [...ROUTES(id), ...ROUTES('resp_does_not_exist')]) {
      for (const headers of [{}, bearer(WRONG), { authorization: `Basic ${KEY_1}` }]) {
        const r = await call(method, path, headers);
        expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(expectEnvelope(r).code).toBe('invalid_api_key');
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        expectNoKeyIn(r.text);
      }
    }
    // The 401s did not touch the stored response.
    expect((await call('GET', `/v1/responses/${id}`, bearer(KEY_2))).status).toBe(200);
  });

  it('with a key: GET 200, input_items 200, cancel 400, DELETE 200, then 404', async () => {
    const id = await storedId();
    const got = await call('GET', `/v1/responses/${id}`, bearer(KEY_2));
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ id, object: 'response', status: 'completed' });

    const items = await call('GET', `/v1/responses/${id}/input_items`, bearer(KEY_1));
    expect(items.status).toBe(200);
    expect(items.json.object).toBe('list');
    expect(items.json.data).toHaveLength(1);

    const cancel = await call('POST', `/v1/responses/${id}/cancel`, bearer(KEY_1));
    expect(cancel.status).toBe(400);
    expect(expectEnvelope(cancel).code).toBe('not_cancellable');

    const del = await call('DELETE', `/v1/responses/${id}`, bearer(KEY_2));
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ id, object: 'response', deleted: true });

    for (const [method, path] of ROUTES(id)) {
      const r = await call(method, path, bearer(KEY_1));
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(expectEnvelope(r).code).not.toBe('invalid_api_key');
    }
  });
});

describe('forward_client_key = true', () => {
  it("sends the client's bearer upstream instead of the configured key", async () => {
    const r = await post(byok.url, BODY, { ...bearer(CLIENT_OWN_KEY), 'x-request-id': 'byok-1' });
    expect(r.status).toBe(200);
    expect(upstream.last.headers.authorization).toBe(`Bearer ${CLIENT_OWN_KEY}`);
    expect(await requestLine(byok, 'byok-1')).toMatchObject({ status: 200, attempts: 1 });
  });

  it('streams forward it too', async () => {
    const r = await post(byok.url, { ...BODY, stream: true }, bearer(CLIENT_OWN_KEY));
    expect(r.status).toBe(200);
    expect(upstream.last.headers.authorization).toBe(`Bearer ${CLIENT_OWN_KEY}`);
  });

  it('without a client key the configured key is used', async () => {
    const r = await post(byok.url, BODY);
    expect(r.status).toBe(200);
    expect(upstream.last.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('an upstream error echoing the forwarded key is redacted in the reply and the logs', async () => {
    upstream.handler = (req, res) =>
      sendJson(res, 401, {
        error: {
          message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}`,
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      });
    const r = await post(byok.url, BODY, bearer(CLIENT_OWN_KEY));
    expect(r.status).toBe(401);
    expect(expectEnvelope(r)).toMatchObject({
      message: 'Incorrect API key provided: [REDACTED]',
      code: 'invalid_api_key',
    });
    expectNoKeyIn(r.text);
  });

  it('the client key never appears in a log line', async () => {
    await post(byok.url, BODY, bearer(CLIENT_OWN_KEY));
    await new Promise((r) => setTimeout(r, 50));
    expect(byok.logText()).toContain('upstream request');
    expectNoKeyIn(byok.logText());
  });
});
