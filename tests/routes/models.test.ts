/**
 * `GET /v1/models` through the real proxy: the names the configuration routes (models without
 * `*`, model_map keys), in OpenAI's list shape, each one really routed to the target it names.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { schemaErrors } from '../helpers/spec-validator.js';
import { outputText, postResponses, replyText } from '../helpers/targets.js';

let local: MockUpstream;
let hosted: MockUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  local = await MockUpstream.start((req, res) => replyText(req, res, 'local'));
  hosted = await MockUpstream.start((req, res) => replyText(req, res, 'hosted'));
  proxy = await startProxy(`
[targets.local]
base_url = "${local.baseUrl}"
models = ["qwen3*", "llama3.2:1b", "gemma-3"]
model_map = { "local-coder" = "qwen3-coder:30b", "fast" = "llama3.2:1b" }

[targets.hosted]
base_url = "${hosted.baseUrl}"
models = ["gpt-*", "gemma-3", "o3"]
model_map = { "fast" = "gpt-4o-mini", "smart" = "gpt-4o" }
`);
});

afterAll(async () => {
  await proxy?.close();
  await local?.close();
  await hosted?.close();
});

async function getModels(url = proxy.url, headers: Record<string, string> = {}) {
  const r = await fetch(`${url}/v1/models`, { headers });
  // biome-ignore lint/suspicious/noExplicitAny: the test inspects the JSON
  const body: any = await r.json();
  return { status: r.status, contentType: r.headers.get('content-type'), body };
}

describe('GET /v1/models', () => {
  it('lists model_map keys and models without wildcards, once each, owned by the target that serves them', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await getModels();
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.body.object).toBe('list');
    const created = r.body.data[0]?.created;
    expect(Number.isInteger(created)).toBe(true);
    expect(created).toBeLessThanOrEqual(before + 1);
    expect(created).toBeGreaterThan(before - 3600);
    expect(r.body).toStrictEqual({
      object: 'list',
      data: [
        { id: 'local-coder', object: 'model', created, owned_by: 'local' },
        { id: 'fast', object: 'model', created, owned_by: 'local' },
        { id: 'llama3.2:1b', object: 'model', created, owned_by: 'local' },
        { id: 'gemma-3', object: 'model', created, owned_by: 'local' },
        { id: 'smart', object: 'model', created, owned_by: 'hosted' },
        { id: 'o3', object: 'model', created, owned_by: 'hosted' },
      ],
    });
    expect(schemaErrors('openai', 'ListModelsResponse', r.body)).toStrictEqual([]);
  });

  it('lists only names that route to the target it names', async () => {
    const { body } = await getModels();
    for (const { id, owned_by } of body.data as Array<{ id: string; owned_by: string }>) {
      const r = await postResponses(proxy.url, { model: id, input: 'Hi' });
      expect(r.status, id).toBe(200);
      expect(r.body.model).toBe(id);
      expect(outputText(r.body), id).toBe(owned_by);
    }
  });

  it('is read by the official client', async () => {
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toStrictEqual(['local-coder', 'fast', 'llama3.2:1b', 'gemma-3', 'smart', 'o3']);
  });

  it('is an empty list when only patterns are configured', async () => {
    const p = await startProxy(`[targets.any]\nbase_url = "${local.baseUrl}"\nmodels = ["*"]\n`);
    try {
      expect((await getModels(p.url)).body).toStrictEqual({ object: 'list', data: [] });
    } finally {
      await p.close();
    }
  });

  it('needs a proxy key when [auth] is on', async () => {
    const p = await startProxy(
      `[auth]\napi_keys_env = "PROXY_KEYS"\n\n[targets.t]\nbase_url = "${local.baseUrl}"\nmodel_map = { a = "b" }\n`,
      { PROXY_KEYS: 'proxy-key-1234' },
    );
    try {
      const denied = await getModels(p.url);
      expect(denied.status).toBe(401);
      expect(denied.body.error.code).toBe('invalid_api_key');
      const allowed = await getModels(p.url, { authorization: 'Bearer proxy-key-1234' });
      expect(allowed.status).toBe(200);
      expect(allowed.body.data.map((m: { id: string }) => m.id)).toStrictEqual(['a']);
    } finally {
      await p.close();
    }
  });
});
