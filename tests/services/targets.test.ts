// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} is the configuration syntax under test
/**
 * Several targets end to end, through the real proxy and real HTTP mock upstreams: routing and
 * model_map, fallbacks (connection refused, 503, 429, streams, never on a 400), round-robin over
 * several base URLs with a cooldown for a failed one, and headers and keys: sent exactly as
 * configured, never in logs or error bodies.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MockUpstream, type RecordedRequest, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { assertValidResponse } from '../helpers/spec-validator.js';
import { closedPort, outputText, postResponses, replyText, textChunks } from '../helpers/targets.js';
import { checkStream, parseSseText } from '../stream/fixtures.js';

/** The info line the proxy writes for each request, in order. */
// biome-ignore lint/suspicious/noExplicitAny: log lines are arbitrary JSON
function requestLines(proxy: TestProxy): any[] {
  return proxy.logs.filter((l) => l.msg === 'request' && l.route === '/v1/responses');
}

describe('routing end to end', () => {
  let alpha: MockUpstream;
  let beta: MockUpstream;
  let proxy: TestProxy;
  let strict: TestProxy;

  beforeAll(async () => {
    alpha = await MockUpstream.start((req, res) => replyText(req, res, 'from alpha'));
    beta = await MockUpstream.start((req, res) => replyText(req, res, 'from beta'));
    const targets = `
[targets.alpha]
base_url = "${alpha.baseUrl}"
models = ["alpha-*", "shared"]
model_map = { "smart" = "alpha-large-2025" }

[targets.beta]
base_url = "${beta.baseUrl}"
models = ["shared"]
model_map = { "fast" = "beta-small:q4", "alpha-cheap" = "beta-cheap" }
`;
    proxy = await startProxy(`[defaults]\ntarget = "beta"\nretries = { max = 0 }\n${targets}`);
    strict = await startProxy(`[defaults]\nretries = { max = 0 }\n${targets}`);
  });

  afterAll(async () => {
    await proxy?.close();
    await strict?.close();
    await alpha?.close();
    await beta?.close();
  });

  beforeEach(() => {
    alpha.requests.length = 0;
    beta.requests.length = 0;
  });

  it.each([
    ['alpha-7b', 'alpha', 'alpha-7b', 'a models pattern'],
    ['smart', 'alpha', 'alpha-large-2025', 'a model_map key'],
    ['fast', 'beta', 'beta-small:q4', "a later target's model_map key"],
    ['alpha-cheap', 'alpha', 'alpha-cheap', 'the first target in file order wins over a later model_map key'],
    ['shared', 'alpha', 'shared', 'the first of two targets listing the same name'],
    ['beta/alpha-7b', 'beta', 'alpha-7b', 'an explicit target prefix beats the pattern'],
    ['alpha/Qwen/Qwen3-8B', 'alpha', 'Qwen/Qwen3-8B', 'an explicit prefix keeps the rest, slashes included'],
    ['llama3.2', 'beta', 'llama3.2', 'no match goes to [defaults] target'],
    ['Qwen/Qwen3-8B', 'beta', 'Qwen/Qwen3-8B', 'a prefix that names no target is part of the name'],
  ])('%j goes to %s as %j (%s)', async (model, name, upstreamModel) => {
    const r = await postResponses(proxy.url, { model, input: 'Hi' });
    expect(r.status, r.text).toBe(200);
    assertValidResponse(r.body);
    const [hit, miss] = name === 'alpha' ? [alpha, beta] : [beta, alpha];
    expect(hit.requests).toHaveLength(1);
    expect(miss.requests).toHaveLength(0);
    expect(hit.last.path).toBe('/v1/chat/completions');
    expect(hit.last.body.model).toBe(upstreamModel);
    // The Response names the model the client asked for.
    expect(r.body.model).toBe(model);
    expect(outputText(r.body)).toBe(`from ${name}`);
    expect(requestLines(proxy).at(-1)).toMatchObject({ model, target: name, status: 200 });
  });

  it('routes a stream the same way', async () => {
    const r = await postResponses(proxy.url, { model: 'smart', input: 'Hi', stream: true });
    expect(r.status).toBe(200);
    const final = checkStream(parseSseText(r.text).events);
    expect(final.model).toBe('smart');
    expect(outputText(final)).toBe('from alpha');
    expect(alpha.last.body).toMatchObject({ model: 'alpha-large-2025', stream: true });
    expect(beta.requests).toHaveLength(0);
  });

  it.each(['llama3.2', 'gamma/x', 'ALPHA-7b'])(
    'without [defaults] target, %j is a 404 model_not_found and no upstream is called',
    async (model) => {
      const r = await postResponses(strict.url, { model, input: 'Hi' });
      expect(r.status).toBe(404);
      expect(r.body).toStrictEqual({
        error: {
          message: `The model '${model}' is not routed to any configured target.`,
          type: 'invalid_request_error',
          param: 'model',
          code: 'model_not_found',
        },
      });
      expect(alpha.requests.length + beta.requests.length).toBe(0);
    },
  );

  it('serves every model from a single target without models, with its model_map applied', async () => {
    const single = await startProxy(
      `[targets.only]\nbase_url = "${alpha.baseUrl}"\nmodel_map = { small = "tiny:1b" }\n`,
    );
    try {
      for (const [model, sent] of [
        ['anything', 'anything'],
        ['small', 'tiny:1b'],
        ['only/small', 'small'],
      ]) {
        const r = await postResponses(single.url, { model, input: 'Hi' });
        expect(r.status).toBe(200);
        expect(r.body.model).toBe(model);
        expect(alpha.last.body.model).toBe(sent);
      }
    } finally {
      await single.close();
    }
  });
});

describe('fallbacks end to end', () => {
  let a: MockUpstream;
  let b: MockUpstream;
  let proxy: TestProxy;
  /** Which upstream got each request, in order. */
  let order: string[];
  let deadPort: number;

  const serveB = (req: RecordedRequest, res: ServerResponse) => {
    order.push('b');
    replyText(req, res, 'served by b');
  };
  const failA =
    (status: number, message = 'overloaded') =>
    (_req: RecordedRequest, res: ServerResponse) => {
      order.push('a');
      sendJson(res, status, { error: { message, type: 'server_error', param: null, code: null } });
    };

  beforeAll(async () => {
    a = await MockUpstream.start();
    b = await MockUpstream.start();
    deadPort = await closedPort();
    proxy = await startProxy(`
[defaults]
retries = { max = 1, base_delay = "1ms", max_delay = "1ms" }

[targets.dead]
base_url = "http://127.0.0.1:${deadPort}/v1"
models = ["dead-*"]
fallbacks = ["b"]

[targets.a]
base_url = "${a.baseUrl}"
models = ["a-*"]
fallbacks = ["b"]

[targets.chain]
base_url = "${a.baseUrl}"
models = ["chain-*"]
retries = { max = 0 }
fallbacks = ["dead", "b"]

[targets.alone]
base_url = "${a.baseUrl}"
models = ["alone-*"]

[targets.b]
base_url = "${b.baseUrl}"
models = ["b-*"]
model_map = { "a-smart" = "b-large" }
`);
  });

  afterAll(async () => {
    await proxy?.close();
    await a?.close();
    await b?.close();
  });

  beforeEach(() => {
    order = [];
    a.requests.length = 0;
    b.requests.length = 0;
    a.handler = failA(503);
    b.handler = serveB;
  });

  /** The one clean Response the client must see when b served it. */
  function expectServedByB(r: Awaited<ReturnType<typeof postResponses>>, model: string) {
    expect(r.status, r.text).toBe(200);
    assertValidResponse(r.body);
    expect(r.body.status).toBe('completed');
    expect(r.body.error).toBeNull();
    expect(r.body.model).toBe(model);
    expect(outputText(r.body)).toBe('served by b');
  }

  it('a target refusing connections falls back to the next one after its retries', async () => {
    const r = await postResponses(proxy.url, { model: 'dead-1', input: 'Hi' });
    expectServedByB(r, 'dead-1');
    expect(b.requests).toHaveLength(1);
    expect(b.last.body.model).toBe('dead-1');
    const line = requestLines(proxy).at(-1);
    // Two attempts on dead (the first and one retry), then one on b.
    expect(line).toMatchObject({ status: 200, target: 'b', attempts: 3, upstreamStatus: 200 });
    expect(
      proxy.logs.some((l) => l.msg === 'falling back to another target' && l.from === 'dead' && l.to === 'b'),
    ).toBe(true);
  });

  it('a 503 falls back: a is tried twice, then b, and the client sees only b', async () => {
    const r = await postResponses(proxy.url, { model: 'a-1', input: 'Hi' });
    expectServedByB(r, 'a-1');
    expect(order).toStrictEqual(['a', 'a', 'b']);
    expect(r.text).not.toContain('overloaded');
    expect(requestLines(proxy).at(-1)).toMatchObject({ status: 200, target: 'b', attempts: 3 });
  });

  it('a 429 falls back too', async () => {
    a.handler = failA(429, 'rate limited');
    expectServedByB(await postResponses(proxy.url, { model: 'a-1', input: 'Hi' }), 'a-1');
    expect(order).toStrictEqual(['a', 'a', 'b']);
  });

  it('the fallback gets its own model_map name for the public model', async () => {
    const r = await postResponses(proxy.url, { model: 'a-smart', input: 'Hi' });
    expectServedByB(r, 'a-smart');
    expect(a.last.body.model).toBe('a-smart');
    expect(b.last.body.model).toBe('b-large');
  });

  it('goes down the whole fallback list in order', async () => {
    const r = await postResponses(proxy.url, { model: 'chain-1', input: 'Hi' });
    expectServedByB(r, 'chain-1');
    // chain (no retries) -> dead (2 attempts, refused) -> b
    expect(order).toStrictEqual(['a', 'b']);
    expect(requestLines(proxy).at(-1)).toMatchObject({ target: 'b', attempts: 4 });
  });

  it('a 400 is not retried and not sent to a fallback: the client gets the 400', async () => {
    a.handler = (_req, res) => {
      order.push('a');
      sendJson(res, 400, {
        error: {
          message: "Invalid value for 'temperature'.",
          type: 'invalid_request_error',
          param: 'temperature',
          code: 'invalid_value',
        },
      });
    };
    const r = await postResponses(proxy.url, { model: 'a-1', input: 'Hi' });
    expect(r.status).toBe(400);
    expect(r.body).toStrictEqual({
      error: {
        message: "Invalid value for 'temperature'.",
        type: 'invalid_request_error',
        param: 'temperature',
        code: 'invalid_value',
      },
    });
    expect(order).toStrictEqual(['a']);
    expect(b.requests).toHaveLength(0);
  });

  it('when every target fails, the client gets the last error', async () => {
    b.handler = (_req, res) => {
      order.push('b');
      sendJson(res, 503, { error: { message: 'b is down too' } });
    };
    const r = await postResponses(proxy.url, { model: 'a-1', input: 'Hi' });
    expect(r.status).toBe(502);
    expect(r.body.error).toMatchObject({ type: 'server_error', code: 'upstream_error' });
    expect(r.body.error.message).toBe("Upstream target 'b' failed with HTTP 503: b is down too");
    expect(order).toStrictEqual(['a', 'a', 'b', 'b']);
  });

  it('a target without fallbacks answers its own error after its retries', async () => {
    const r = await postResponses(proxy.url, { model: 'alone-1', input: 'Hi' });
    expect(r.status).toBe(502);
    expect(r.body.error.message).toBe("Upstream target 'alone' failed with HTTP 503: overloaded");
    expect(order).toStrictEqual(['a', 'a']);
    expect(b.requests).toHaveLength(0);
  });

  it.each([
    ['answers 503', 'a-1', ['a', 'a', 'b']],
    ['refuses connections', 'dead-1', ['b']],
  ])(
    'with stream: true, a target that %s before any byte falls back and b serves the stream',
    async (_l, model, expected) => {
      const r = await postResponses(proxy.url, { model, input: 'Hi', stream: true });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const { events } = parseSseText(r.text);
      const final = checkStream(events);
      expect(final.status).toBe('completed');
      expect(final.model).toBe(model);
      expect(outputText(final)).toBe('served by b');
      expect(events.filter((e) => e.type === 'error')).toHaveLength(0);
      expect(order).toStrictEqual(expected);
      expect(b.last.body.stream).toBe(true);
    },
  );

  it('with stream: true, no fallback once the first byte has reached the client', async () => {
    a.handler = (_req, res) => {
      order.push('a');
      const [first, second] = textChunks('partial answer');
      sendSse(res, [first, second], { done: false, end: false });
      setTimeout(() => res.destroy(), 30);
    };
    const r = await postResponses(proxy.url, { model: 'a-1', input: 'Hi', stream: true });
    expect(r.status).toBe(200);
    const { events } = parseSseText(r.text);
    const final = checkStream(events);
    expect(final.status).toBe('failed');
    expect(events.some((e) => e.type === 'response.output_text.delta')).toBe(true);
    expect(order).toStrictEqual(['a']);
    expect(b.requests).toHaveLength(0);
  });
});

describe('several base URLs on one target', () => {
  let one: MockUpstream;
  let two: MockUpstream;
  let order: string[];

  beforeAll(async () => {
    one = await MockUpstream.start();
    two = await MockUpstream.start();
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  beforeEach(() => {
    order = [];
    one.handler = (req, res) => {
      order.push('one');
      replyText(req, res, 'one');
    };
    two.handler = (req, res) => {
      order.push('two');
      replyText(req, res, 'two');
    };
  });

  let proxy: TestProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  async function ask(times: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) {
      const r = await postResponses((proxy as TestProxy).url, { model: 'm', input: `Hi ${i}` });
      statuses.push(r.status);
    }
    return statuses;
  }

  it('alternates round-robin, for JSON and streams alike', async () => {
    proxy = await startProxy(
      `[targets.lb]\nbase_url = ["${one.baseUrl}", "${two.baseUrl}"]\nretries = { max = 0 }\n`,
    );
    expect(await ask(4)).toStrictEqual([200, 200, 200, 200]);
    const s = await postResponses(proxy.url, { model: 'm', input: 'Hi', stream: true });
    expect(checkStream(parseSseText(s.text).events).status).toBe('completed');
    expect(order).toStrictEqual(['one', 'two', 'one', 'two', 'one']);
  });

  it('keeps every request succeeding via the other URL when one is down', async () => {
    const dead = await closedPort();
    proxy = await startProxy(
      `[targets.lb]\nbase_url = ["http://127.0.0.1:${dead}/v1", "${one.baseUrl}"]\n` +
        'retries = { max = 1, base_delay = "1ms", max_delay = "1ms" }\n',
    );
    expect(await ask(5)).toStrictEqual([200, 200, 200, 200, 200]);
    expect(order).toStrictEqual(['one', 'one', 'one', 'one', 'one']);
    // Only the first request met the dead URL; then it was skipped for the cooldown.
    expect(requestLines(proxy).map((l) => l.attempts)).toStrictEqual([2, 1, 1, 1, 1]);
  });

  it('skips a URL that answered 503 for failover_cooldown, then uses it again', async () => {
    proxy = await startProxy(
      `[targets.lb]\nbase_url = ["${one.baseUrl}", "${two.baseUrl}"]\n` +
        'retries = { max = 1, base_delay = "1ms", max_delay = "1ms" }\nfailover_cooldown = "1s"\n',
    );
    let failures = 1;
    two.handler = (req, res) => {
      order.push('two');
      if (failures-- > 0) sendJson(res, 503, { error: { message: 'restarting' } });
      else replyText(req, res, 'two');
    };
    // one, then two fails (503) and the retry goes to one; two is skipped while cooling down.
    expect(await ask(3)).toStrictEqual([200, 200, 200]);
    expect(order).toStrictEqual(['one', 'two', 'one', 'one']);
    await sleep(1_050);
    order = [];
    expect(await ask(2)).toStrictEqual([200, 200]);
    expect([...order].sort()).toStrictEqual(['one', 'two']);
  });
});

describe('headers and keys', () => {
  const ENV = {
    UPSTREAM_KEY: 'sk-upstream-5b2c9d0e1f77',
    TENANT: 'tenant-secret-77aa19',
    TENANT_PATH: 'tenant-path-3f9e42',
    ORG: 'org-secret-0c8d11',
  };
  const SECRETS = Object.values(ENV);
  const CLIENT_KEY = 'client-key-a1b2c3d4e5';
  let upstream: MockUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    upstream = await MockUpstream.start();
    proxy = await startProxy(
      `
[defaults]
retries = { max = 0 }
headers = { X-Org = "\${ORG}", X-Default = "from-defaults" }

[targets.keyed]
base_url = "http://127.0.0.1:${upstream.port}/\${TENANT_PATH}/v1"
api_key_env = "UPSTREAM_KEY"
models = ["keyed-*"]
headers = { X-Custom = "plain-value", X-Tenant = "tenant=\${TENANT}", X-DEFAULT = "overridden" }

[targets.byok]
base_url = "${upstream.baseUrl}"
forward_client_key = true
models = ["byok-*"]

[targets.nokey]
base_url = "${upstream.baseUrl}"
models = ["nokey-*"]
`,
      ENV,
      'debug',
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.requests.length = 0;
    upstream.handler = (req, res) => replyText(req, res, 'ok');
  });

  function expectNoSecretsIn(text: string, what: string) {
    for (const s of [...SECRETS, CLIENT_KEY]) expect(text, `${what} contains ${s}`).not.toContain(s);
  }

  it('sends the key, custom headers and ${ENV} values exactly as configured', async () => {
    const r = await postResponses(
      proxy.url,
      { model: 'keyed-1', input: 'Hi' },
      { authorization: `Bearer ${CLIENT_KEY}`, 'x-custom': 'from-client' },
    );
    expect(r.status, r.text).toBe(200);
    const h = upstream.last.headers;
    expect(upstream.last.path).toBe('/tenant-path-3f9e42/v1/chat/completions');
    expect(h.authorization).toBe('Bearer sk-upstream-5b2c9d0e1f77');
    expect(h['x-custom']).toBe('plain-value');
    expect(h['x-tenant']).toBe('tenant=tenant-secret-77aa19');
    expect(h['x-org']).toBe('org-secret-0c8d11');
    expect(h['x-default']).toBe('overridden');
    expect(h['content-type']).toBe('application/json');
    expect(h.accept).toBe('application/json');
    // The client's key is not forwarded where the target does not ask for it.
    expect(JSON.stringify(h)).not.toContain(CLIENT_KEY);
  });

  it('a target without api_key_env sends no authorization, only the inherited headers', async () => {
    await postResponses(
      proxy.url,
      { model: 'nokey-1', input: 'Hi' },
      { authorization: `Bearer ${CLIENT_KEY}` },
    );
    const h = upstream.last.headers;
    expect(h.authorization).toBeUndefined();
    expect(h['x-org']).toBe('org-secret-0c8d11');
    expect(h['x-default']).toBe('from-defaults');
    expect(h['x-custom']).toBeUndefined();
  });

  it('forward_client_key sends the client key upstream, for streams too', async () => {
    await postResponses(
      proxy.url,
      { model: 'byok-1', input: 'Hi' },
      { authorization: `Bearer ${CLIENT_KEY}` },
    );
    expect(upstream.last.headers.authorization).toBe(`Bearer ${CLIENT_KEY}`);
    await postResponses(
      proxy.url,
      { model: 'byok-1', input: 'Hi', stream: true },
      { authorization: `Bearer ${CLIENT_KEY}` },
    );
    expect(upstream.last.headers.authorization).toBe(`Bearer ${CLIENT_KEY}`);
    expect(upstream.last.headers.accept).toBe('text/event-stream');
  });

  it.each([
    [401, 'keyed-1'],
    [400, 'keyed-1'],
    [503, 'keyed-1'],
    [401, 'byok-1'],
  ])(
    'an upstream %s error echoing the secrets reaches neither the client nor the logs (%s)',
    async (status, model) => {
      upstream.handler = (req, res) =>
        sendJson(res, status, {
          error: {
            message: `Incorrect API key provided: ${req.headers.authorization}; tenant ${req.headers['x-tenant']} org ${req.headers['x-org']} path ${req.path}`,
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        });
      const r = await postResponses(
        proxy.url,
        { model, input: 'Hi' },
        { authorization: `Bearer ${CLIENT_KEY}` },
      );
      expect(r.status).toBe(status >= 500 ? 502 : status);
      expect(r.body.error.message).toContain('[REDACTED]');
      expect(r.body.error.message).toContain('Incorrect API key provided');
      expectNoSecretsIn(r.text, 'the error body');
      expectNoSecretsIn(proxy.logText(), 'the logs');
    },
  );

  it('a reply echoing the secrets is redacted in the debug log of the upstream reply', async () => {
    upstream.handler = (req, res) =>
      replyText(req, res, `echo ${req.headers.authorization} ${req.headers['x-tenant']}`);
    const r = await postResponses(proxy.url, { model: 'keyed-1', input: `my ${ENV.ORG}` });
    expect(r.status).toBe(200);
    expect(proxy.logs.some((l) => l.msg === 'upstream reply')).toBe(true);
    expectNoSecretsIn(proxy.logText(), 'the logs');
  });

  it('a stream echoing the secrets in a malformed chunk does not leak them', async () => {
    upstream.handler = (req, res) =>
      sendSse(res, [`{"oops": "${req.headers.authorization} ${req.headers['x-org']}"`]);
    const r = await postResponses(proxy.url, { model: 'keyed-1', input: 'Hi', stream: true });
    expect(r.status).toBe(200);
    const final = checkStream(parseSseText(r.text).events);
    expect(final.status).toBe('failed');
    expectNoSecretsIn(r.text, 'the stream');
    expectNoSecretsIn(proxy.logText(), 'the logs');
  });

  it('logs at debug level, and none of it holds a secret (start-up line included)', async () => {
    await postResponses(
      proxy.url,
      { model: 'keyed-1', input: 'Hi' },
      { authorization: `Bearer ${CLIENT_KEY}` },
    );
    expect(proxy.logs.some((l) => l.level === 'debug' && l.msg === 'upstream request')).toBe(true);
    const startLine = proxy.logs.find(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('llm-proxy listening'),
    );
    expect(startLine).toBeDefined();
    expectNoSecretsIn(JSON.stringify(startLine), 'the start-up line');
    expectNoSecretsIn(proxy.logText(), 'the logs');
  });

  it('an unreachable target with a secret in its URL does not quote it', async () => {
    const dead = await closedPort();
    const p = await startProxy(
      `[targets.t]\nbase_url = "http://127.0.0.1:${dead}/\${TENANT_PATH}/v1"\napi_key_env = "UPSTREAM_KEY"\nretries = { max = 0 }\n`,
      ENV,
      'debug',
    );
    try {
      const r = await postResponses(p.url, { model: 'm', input: 'Hi' });
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe('upstream_unreachable');
      expectNoSecretsIn(r.text, 'the error body');
      expectNoSecretsIn(p.logText(), 'the logs');
    } finally {
      await p.close();
    }
  });
});
