/**
 * A real Chat Completions server on 127.0.0.1 (port 0) for tests: it records every request and
 * answers with whatever the test scripts (JSON, SSE chunks, errors, stalls, resets).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect arbitrary payloads
  body: any;
}

export type MockHandler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export class MockUpstream {
  readonly requests: RecordedRequest[] = [];
  handler: MockHandler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
  private readonly sockets = new Set<Socket>();
  /** Resolves when a client connection to the mock closes (for abort tests). */
  readonly closedConnections: number[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(handler?: MockHandler): Promise<MockUpstream> {
    let mock: MockUpstream | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = raw === '' ? null : JSON.parse(raw);
        } catch {
          body = raw;
        }
        const rec: RecordedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          body,
        };
        mock?.requests.push(rec);
        Promise.resolve(mock?.handler(rec, res)).catch((err) => {
          res.destroy(err as Error);
        });
      });
    });
    server.on('connection', (socket) => {
      mock?.sockets.add(socket);
      socket.on('close', () => {
        mock?.sockets.delete(socket);
        mock?.closedConnections.push(Date.now());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    mock = new MockUpstream(server, (server.address() as AddressInfo).port);
    if (handler) mock.handler = handler;
    return mock;
  }

  /** The base URL a target config points at. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  get last(): RecordedRequest {
    const r = this.requests[this.requests.length - 1];
    if (!r) throw new Error('the mock upstream received no request');
    return r;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Writes chunks as SSE `data:` lines, then `[DONE]` unless `done: false`. */
export function sendSse(
  res: ServerResponse,
  chunks: readonly unknown[],
  options: { done?: boolean; end?: boolean } = {},
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const c of chunks) res.write(`data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`);
  if (options.done !== false) res.write('data: [DONE]\n\n');
  if (options.end !== false) res.end();
}

export interface ChatReplyOptions {
  content?: string | null;
  reasoning_content?: string;
  reasoning?: string;
  refusal?: string | null;
  tool_calls?: Array<{ id: string; name: string; arguments: string }>;
  finish_reason?: string;
  usage?: Record<string, unknown> | null;
  model?: string;
}

/** A realistic non-streaming chat completion. */
export function chatCompletion(o: ChatReplyOptions) {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: o.content ?? null,
    refusal: o.refusal ?? null,
  };
  if (o.reasoning_content !== undefined) message.reasoning_content = o.reasoning_content;
  if (o.reasoning !== undefined) message.reasoning = o.reasoning;
  if (o.tool_calls) {
    message.tool_calls = o.tool_calls.map((t) => ({
      id: t.id,
      type: 'function',
      function: { name: t.name, arguments: t.arguments },
    }));
  }
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_800_000_000,
    model: o.model ?? 'test-model',
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: o.finish_reason ?? (o.tool_calls ? 'tool_calls' : 'stop'),
      },
    ],
    usage:
      o.usage === null
        ? undefined
        : (o.usage ?? {
            prompt_tokens: 12,
            completion_tokens: 5,
            total_tokens: 17,
            prompt_tokens_details: { cached_tokens: 2 },
            completion_tokens_details: { reasoning_tokens: 1 },
          }),
  };
}
