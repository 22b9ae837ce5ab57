/**
 * Small helpers for the multi-target end-to-end tests: POSTing to the proxy, a port nobody listens
 * on, and Chat Completions stream chunks.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RecordedRequest, sendJson, sendSse } from './mock-upstream.js';

export interface ProxyReply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect arbitrary JSON
  body: any;
}

/** POSTs a Responses request and reads the whole reply (JSON parsed when it is JSON). */
export async function postResponses(
  baseUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<ProxyReply> {
  const r = await fetch(`${baseUrl}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown = null;
  if ((r.headers.get('content-type') ?? '').includes('application/json')) parsed = JSON.parse(text);
  return { status: r.status, headers: r.headers, text, body: parsed };
}

/** A port that refuses connections: one a server had, then closed. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A streamed chat reply: `text` in two deltas, a stop chunk and a usage chunk. */
export function textChunks(text: string, extraDelta: Record<string, unknown> = {}): unknown[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: 'chatcmpl-stream',
    object: 'chat.completion.chunk',
    created: 1_800_000_000,
    model: 'test-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const half = Math.ceil(text.length / 2);
  return [
    chunk({ role: 'assistant', content: '', ...extraDelta }),
    chunk({ content: text.slice(0, half) }),
    chunk({ content: text.slice(half) }),
    chunk({}, 'stop'),
    {
      id: 'chatcmpl-stream',
      object: 'chat.completion.chunk',
      created: 1_800_000_000,
      model: 'test-model',
      choices: [],
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
    },
  ];
}

/** Answers a stream request with SSE and any other with a JSON chat completion, both saying `text`. */
export function replyText(req: RecordedRequest, res: ServerResponse, text: string): void {
  if (req.body?.stream === true) {
    sendSse(res, textChunks(text));
    return;
  }
  sendJson(res, 200, {
    id: 'chatcmpl-json',
    object: 'chat.completion',
    created: 1_800_000_000,
    model: 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
  });
}

/** The concatenated output_text of a Response object. */
// biome-ignore lint/suspicious/noExplicitAny: a Response object
export function outputText(response: any): string {
  return (response?.output ?? [])
    .filter((i: { type: string }) => i.type === 'message')
    .flatMap((i: { content: Array<{ type: string; text?: string }> }) => i.content)
    .filter((c: { type: string }) => c.type === 'output_text')
    .map((c: { text: string }) => c.text)
    .join('');
}
