/**
 * The I/O half of streaming: reads the upstream's SSE body, feeds each chunk to the translator and
 * writes the events it returns to the client, one write per upstream read. It owns backpressure
 * (a slow client pauses the upstream read), keep-alive comments, and the end of both sockets.
 */
import type { ServerResponse } from 'node:http';
import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser';
import { ProxyError } from '../errors.js';
import type { Cancellation } from '../services/cancellation.js';
import type { UpstreamClient, UpstreamReply } from '../services/upstream-client.js';
import type { ResponseObject } from '../utils/response-envelope.js';
import { formatEvent } from './event-format.js';
import type { StreamEvent, StreamFailure, StreamTranslator } from './stream-translator.js';

export type RelayOutcome = 'completed' | 'incomplete' | 'failed' | 'client_closed';

export interface RelayOptions {
  /** Interval for `: keep-alive` comments while nothing else is written; 0 turns them off. */
  keepAliveMs: number;
  /** Extra response headers (the request id). */
  headers: Record<string, string>;
  /**
   * Called once, just before the client response is ended (or abandoned), with how the stream
   * ended. Anything listening for the response's `finish` (the request log) sees the outcome.
   */
  onEnd?: (outcome: RelayOutcome) => void;
  /**
   * Awaited with the final Response before its terminal event is written (the store write, so a
   * client that continues at once finds it). A returned failure replaces a completed/incomplete
   * terminal event with `error` + `response.failed`.
   */
  beforeFinal?: (final: ResponseObject) => Promise<StreamFailure | null>;
  /** Called once, when the first output delta is written (time to first token). */
  onFirstOutput?: () => void;
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

export async function relayStream(
  res: ServerResponse,
  upstream: UpstreamReply,
  translator: StreamTranslator,
  client: UpstreamClient,
  abort: Cancellation,
  options: RelayOptions,
): Promise<RelayOutcome> {
  res.writeHead(200, { ...SSE_HEADERS, ...options.headers });
  let pending = '';
  /** The terminal event, held back while the final Response is being stored (see storeThenFinish). */
  let held = '';
  const holdTerminal = options.beforeFinal !== undefined;
  const append = (events: readonly StreamEvent[]): void => {
    for (const event of events) {
      if (holdTerminal && TERMINAL_TYPES.has(event.type)) held += formatEvent(event);
      else pending += formatEvent(event);
    }
  };
  append(translator.start());
  let sawDone = false;
  let lastWrite = Date.now();

  const parser = createParser({
    maxBufferSize: MAX_EVENT_CHARS,
    onError(error: ParseError) {
      // Unknown fields and bad `retry` values are ignored, as SSE says; an endless event is not.
      if (error.type !== 'max-buffer-size-exceeded' || translator.finished) return;
      append(
        translator.fail({
          type: 'server_error',
          code: 'upstream_error',
          message: `the upstream sent an SSE event larger than ${MAX_EVENT_CHARS} characters`,
        }),
      );
    },
    onEvent(message: EventSourceMessage) {
      if (translator.finished) return;
      if (message.data === '[DONE]') {
        sawDone = true;
        append(translator.end(true));
        return;
      }
      if (message.event === 'error') {
        // Some servers name the event rather than wrap the payload in {"error": …}.
        let detail: unknown = message.data;
        try {
          const parsed = JSON.parse(message.data) as { error?: unknown } | null;
          detail = typeof parsed === 'object' && parsed !== null && parsed.error ? parsed.error : parsed;
        } catch {
          // plain-text data: the message as it is
        }
        append(translator.chunk({ error: detail || 'the upstream reported an error' }));
        return;
      }
      let payload: unknown;
      try {
        payload = JSON.parse(message.data);
      } catch {
        append(
          translator.fail({
            type: 'server_error',
            code: 'upstream_error',
            message: `the upstream sent a malformed chunk: ${client.redact(message.data.slice(0, 200))}`,
          }),
        );
        return;
      }
      append(translator.chunk(payload));
    },
  });

  let finalHandled = false;
  /**
   * Writes what is pending. Synchronous unless the client applies backpressure or the final
   * Response must be stored first: a promise per upstream read showed up in the profiles.
   */
  const flush = (): Promise<void> | undefined => {
    if (translator.finished && !finalHandled && options.beforeFinal && translator.final) {
      finalHandled = true;
      return storeThenFinish(translator.final, options.beforeFinal);
    }
    return write();
  };
  const storeThenFinish = async (
    final: ResponseObject,
    beforeFinal: NonNullable<RelayOptions['beforeFinal']>,
  ): Promise<void> => {
    // The terminal event waits (in `held`) until the final Response is stored; a store failure
    // replaces it with error + response.failed.
    await write();
    const failure = await beforeFinal(final);
    pending += failure && final.status !== 'failed' ? serialize(translator.replaceTerminal(failure)) : held;
    held = '';
    await write();
  };
  let sawOutput = false;
  const write = (): Promise<void> | undefined => {
    if (pending === '' || res.destroyed) return undefined;
    if (
      !sawOutput &&
      options.onFirstOutput &&
      /^event: response\.(output_text|refusal|reasoning_text|function_call_arguments)\.delta$/m.test(pending)
    ) {
      sawOutput = true;
      options.onFirstOutput();
    }
    const ok = res.write(pending);
    pending = '';
    lastWrite = Date.now();
    return ok ? undefined : drained(res);
  };

  const keepAlive =
    options.keepAliveMs > 0
      ? setInterval(() => {
          if (!translator.finished && Date.now() - lastWrite >= options.keepAliveMs && !res.destroyed) {
            res.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
        }, options.keepAliveMs)
      : null;

  const outcome = (): RelayOutcome => {
    if (abort.aborted) return 'client_closed';
    const status = translator.final?.status;
    return status === 'completed' || status === 'incomplete' ? status : 'failed';
  };
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    options.onEnd?.(outcome());
    if (!res.writableEnded) res.end();
  };

  const decoder = new TextDecoder('utf-8');
  /** After a write: a finished stream ends the response; a failed one stops reading the upstream. */
  const afterWrite = (): undefined => {
    if (translator.finished) {
      end();
      if (translator.final?.status === 'failed') upstream.body.destroy();
    }
    return undefined;
  };
  /** One upstream read -> parser -> translator -> one client write; a promise pauses the upstream. */
  const onRead = (chunks: Buffer[]): Promise<void> | undefined => {
    // After the terminal event the rest of the body is drained, unread, so the connection can be reused.
    if (translator.finished) return undefined;
    // One decode per read: a TextDecoder call costs more than copying the read's few chunks together.
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    parser.feed(decoder.decode(bytes, { stream: true }));
    const writing = flush();
    return writing === undefined ? afterWrite() : writing.then(afterWrite);
  };
  const pump = async (): Promise<void> => {
    await upstream.body.consume(onRead);
    if (!translator.finished) {
      // Dispatch a last event the upstream did not terminate with a blank line (the parser's
      // reset({consume}) would parse that line but drop the event).
      parser.feed(`${decoder.decode()}\n\n`);
      if (!translator.finished) append(translator.end(sawDone));
    }
  };

  try {
    await flush();
    if (isJson(upstream)) {
      // The upstream ignored `stream: true` and sent one JSON reply: replay it as one chunk.
      const text = await upstream.body.text();
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        reply = undefined;
      }
      append(
        reply === undefined
          ? translator.fail({
              type: 'server_error',
              code: 'upstream_error',
              message: `the upstream sent a malformed JSON reply: ${client.redact(text.slice(0, 200))}`,
            })
          : translator.whole(reply),
      );
    } else {
      await pump();
    }
    await flush();
  } catch (err) {
    if (abort.aborted || res.destroyed) return 'client_closed';
    // The reply maps its own read errors (reset, idle or total timeout) to the client's error.
    if (!translator.finished) append(translator.fail(failureOf(upstream.failure(err))));
    await flush();
  } finally {
    if (keepAlive) clearInterval(keepAlive);
    end();
  }
  return outcome();
}

/** Largest single upstream SSE event accepted (characters); a bigger one fails the stream. */
const MAX_EVENT_CHARS = 32 * 1024 * 1024;

/** The events that end a stream: one per stream, always the last. */
const TERMINAL_TYPES = new Set(['response.completed', 'response.incomplete', 'response.failed']);

function isJson(upstream: UpstreamReply): boolean {
  const type = upstream.headers['content-type'];
  return typeof type === 'string' && /^application\/(.+\+)?json\b/i.test(type.trim());
}

function serialize(events: readonly StreamEvent[]): string {
  let text = '';
  for (const event of events) text += formatEvent(event);
  return text;
}

function failureOf(err: Error): StreamFailure {
  if (err instanceof ProxyError)
    return { type: err.type, code: err.code ?? 'server_error', message: err.message };
  return { type: 'server_error', code: 'server_error', message: 'the stream failed' };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
