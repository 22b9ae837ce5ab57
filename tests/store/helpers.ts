/**
 * Shared pieces of the store tests: realistic entries (a Response built the way the proxy builds
 * it, with a message, a function call and a reasoning item) and a Redis test namespace that is
 * unique per run and wiped afterwards.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type { StoredItem, StoredResponse } from '../../src/store/response-store.js';
import type { ResponseOutputItem } from '../../src/types.js';
import { newId } from '../../src/utils/ids.js';
import { buildResponse, createResponseContext } from '../../src/utils/response-envelope.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface EntryOptions {
  /** The input items; by default one user message and one function_call_output. */
  inputItems?: StoredItem[];
  /** Extra characters in the assistant's text, to make an entry big. */
  padding?: number;
  /** Reuse a response id (to overwrite an entry). */
  id?: string;
  text?: string;
}

export function userMessage(text: string): StoredItem {
  return {
    id: newId('msg'),
    type: 'message',
    role: 'user',
    status: 'completed',
    content: [{ type: 'input_text', text }],
  };
}

/** A stored entry as `ResponseHistory.save` writes it. */
export function makeEntry(options: EntryOptions = {}): StoredResponse {
  const ctx = createResponseContext({ model: 'test-model', input: 'hi', store: true }, 1_700_000_000_000);
  if (options.id !== undefined) ctx.id = options.id;
  const text = `${options.text ?? 'Hello there.'}${'x'.repeat(options.padding ?? 0)}`;
  const output: ResponseOutputItem[] = [
    { id: newId('rs'), type: 'reasoning', summary: [{ type: 'summary_text', text: 'thinking' }] },
    {
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text, annotations: [] }],
    },
    {
      id: newId('fc'),
      type: 'function_call',
      call_id: newId('call'),
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
    },
  ];
  const response = buildResponse(ctx, {
    status: 'completed',
    output,
    usage: {
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 34,
      output_tokens_details: { reasoning_tokens: 5 },
      total_tokens: 46,
    },
    now: 1_700_000_001_000,
  });
  const inputItems = options.inputItems ?? [
    userMessage('What is the weather in Paris? ✓ ünïcödé'),
    {
      id: newId('fco'),
      type: 'function_call_output',
      call_id: newId('call'),
      output: '{"temp":21}',
      status: 'completed',
    },
  ];
  return { response, inputItems };
}

export function outputItems(entry: StoredResponse): StoredItem[] {
  return entry.response.output as unknown as StoredItem[];
}

/** The items a continuation of `previous` stores as its context: all of previous's, then new input. */
export function continuation(previous: StoredResponse, ...newInput: StoredItem[]): StoredResponse {
  return makeEntry({ inputItems: [...previous.inputItems, ...outputItems(previous), ...newInput] });
}

/** Bytes an entry takes once serialized, as the stores count it. */
export function entryBytes(entry: StoredResponse): number {
  return Buffer.byteLength(JSON.stringify(entry));
}

/** A key prefix no other run (or test file) uses. */
export function redisTestPrefix(): string {
  return `llm-proxy-test:${process.pid}:${randomUUID()}:`;
}

/** Keys under `prefix`, with their PTTL (-1 = no expiry). */
export async function redisKeys(prefix: string): Promise<Map<string, number>> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    const keys = new Map<string, number>();
    for await (const batch of client.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) {
      for (const key of batch) keys.set(key, await client.pTTL(key));
    }
    return keys;
  } finally {
    await client.close();
  }
}

/** Deletes every key under `prefix` (SCAN + DEL); returns how many were left. */
export async function wipeRedisPrefix(prefix: string): Promise<number> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    let deleted = 0;
    for await (const batch of client.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) {
      if (batch.length > 0) deleted += await client.del(batch);
    }
    return deleted;
  } finally {
    await client.close();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
