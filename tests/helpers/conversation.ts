/**
 * Shared by the stateful-Responses tests: a mock upstream that plays scripted chat replies (as JSON,
 * or as SSE chunks when the proxy asks for a stream), the `[store]` TOML of each backend, and the
 * chat messages a conversation is expected to send.
 */
import type { ServerResponse } from 'node:http';
import {
  type ChatReplyOptions,
  chatCompletion,
  type RecordedRequest,
  sendJson,
  sendSse,
} from './mock-upstream.js';

export type Backend = 'memory' | 'sqlite' | 'redis';

/** The `[store]` table for a backend; `extra` adds lines such as `ttl = "1s"`. */
export function storeToml(
  backend: Backend,
  where: { sqlitePath?: string; redisUrl?: string; keyPrefix?: string },
  extra = '',
): string {
  const lines = ['[store]', `backend = "${backend}"`];
  if (backend === 'sqlite') lines.push(`path = ${JSON.stringify(where.sqlitePath)}`);
  if (backend === 'redis') {
    lines.push(`url = "${where.redisUrl}"`);
    lines.push(`key_prefix = ${JSON.stringify(where.keyPrefix)}`);
  }
  if (extra !== '') lines.push(extra);
  return `${lines.join('\n')}\n\n`;
}

/** One streamed chat chunk. */
function chunk(delta: Record<string, unknown>, finish: string | null = null) {
  return {
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1_800_000_000,
    model: 'test-model',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

/** The same content as `chatCompletion(o)`, as a realistic chunk sequence (text split in two). */
export function replyChunks(o: ChatReplyOptions): unknown[] {
  const chunks: unknown[] = [chunk({ role: 'assistant', content: '' })];
  if (o.reasoning_content !== undefined) chunks.push(chunk({ reasoning_content: o.reasoning_content }));
  if (typeof o.content === 'string' && o.content !== '') {
    const half = Math.ceil(o.content.length / 2);
    chunks.push(chunk({ content: o.content.slice(0, half) }), chunk({ content: o.content.slice(half) }));
  }
  for (const [index, t] of (o.tool_calls ?? []).entries()) {
    chunks.push(
      chunk({
        tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }],
      }),
      chunk({ tool_calls: [{ index, function: { arguments: t.arguments } }] }),
    );
  }
  chunks.push(chunk({}, o.finish_reason ?? (o.tool_calls ? 'tool_calls' : 'stop')));
  chunks.push({
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1_800_000_000,
    model: 'test-model',
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
  });
  return chunks;
}

/**
 * Plays the queued replies in order, as JSON or SSE as the request asks. An unexpected request
 * (nothing queued) gets a 500, which fails the test that sent it.
 */
export class ChatScript {
  private queue: ChatReplyOptions[] = [];

  reply(...replies: ChatReplyOptions[]): this {
    this.queue.push(...replies);
    return this;
  }

  get pending(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue = [];
  }

  readonly handler = (req: RecordedRequest, res: ServerResponse): void => {
    const next = this.queue.shift();
    if (!next) {
      sendJson(res, 500, { error: { message: 'the test scripted no reply for this request' } });
      return;
    }
    if (req.body?.stream === true) sendSse(res, replyChunks(next));
    else sendJson(res, 200, chatCompletion(next));
  };
}

export const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

/** What the default dialect sends for WEATHER_TOOL. */
export const CHAT_WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: WEATHER_TOOL.parameters,
    strict: true,
  },
};

export const chatToolCall = (id: string, name: string, args: string) => ({
  id,
  type: 'function',
  function: { name, arguments: args },
});
