/**
 * A mock Chat Completions upstream for the benchmark: one fixed, realistic reply (about 300
 * characters of text, with usage), precomputed so the mock itself costs as little CPU as possible.
 *
 *   node bench/mock-upstream.mjs [--port N] [--chunks N] [--latency-ms MS] [--chunk-delay-ms MS]
 *
 * Env: MOCK_PORT, MOCK_CHUNKS (default 50), MOCK_LATENCY_MS (before the reply, default 0),
 * MOCK_CHUNK_DELAY_MS (between stream chunks, default 0: each chunk is its own write, no pause).
 * A request whose body holds `"stream":true` gets SSE: N content chunks, a finish chunk, a usage
 * chunk, `data: [DONE]`. Anything else gets one JSON chat.completion. GET /healthz answers 200.
 * Prints one JSON line `{"port":N}` once it listens (127.0.0.1 only).
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const REPLY_TEXT =
  'Benchmarks measure what they measure, nothing more. A proxy that translates requests should add ' +
  'as little as possible: parse, map, serialise, relay. This reply is about three hundred characters ' +
  'long, which is typical of a short chat answer, and it arrives in fifty small chunks when streamed.';

const USAGE = {
  prompt_tokens: 412,
  completion_tokens: 64,
  total_tokens: 476,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};

/** The JSON reply body. */
export function chatCompletionBody() {
  return JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_800_000_000,
    model: 'bench-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: REPLY_TEXT, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: USAGE,
  });
}

/** The SSE events (each a complete `data: …\n\n` string) of the streamed reply. */
export function chatCompletionEvents(chunks = 50) {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_800_000_000 };
  const chunk = (delta, finish = null, usage = undefined) =>
    `data: ${JSON.stringify({
      ...base,
      model: 'bench-model',
      choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(usage ? { usage } : {}),
    })}\n\n`;
  const n = Math.max(1, chunks);
  const cut = (i) => Math.round((i * REPLY_TEXT.length) / n);
  const events = [];
  for (let i = 0; i < n; i++) {
    const text = REPLY_TEXT.slice(cut(i), cut(i + 1));
    events.push(chunk(i === 0 ? { role: 'assistant', content: text } : { content: text }));
  }
  events.push(chunk({}, 'stop'), chunk(null, null, USAGE), 'data: [DONE]\n\n');
  return events;
}

/** Starts the mock; resolves with its port and a close function. `onRequest(path, body)` is for tests. */
export async function startMock({
  port = 0,
  chunks = 50,
  latencyMs = 0,
  chunkDelayMs = 0,
  onRequest = undefined,
} = {}) {
  const json = Buffer.from(chatCompletionBody());
  const events = chatCompletionEvents(chunks).map((e) => Buffer.from(e));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    const body = [];
    req.on('data', (c) => body.push(c));
    req.on('end', async () => {
      onRequest?.(req.url, Buffer.concat(body).toString('utf8'));
      if (latencyMs > 0) await sleep(latencyMs);
      if (!Buffer.concat(body).includes('"stream":true')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length });
        res.end(json);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const event of events) {
        if (res.destroyed) return;
        res.write(event);
        if (chunkDelayMs > 0) await sleep(chunkDelayMs);
      }
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      chunks: { type: 'string' },
      'latency-ms': { type: 'string' },
      'chunk-delay-ms': { type: 'string' },
    },
  });
  const num = (flag, env, fallback) => Number(values[flag] ?? process.env[env] ?? fallback);
  const mock = await startMock({
    port: num('port', 'MOCK_PORT', 0),
    chunks: num('chunks', 'MOCK_CHUNKS', 50),
    latencyMs: num('latency-ms', 'MOCK_LATENCY_MS', 0),
    chunkDelayMs: num('chunk-delay-ms', 'MOCK_CHUNK_DELAY_MS', 0),
  });
  process.stdout.write(`${JSON.stringify({ port: mock.port })}\n`);
  const stop = () => mock.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
