/**
 * Chat Completions chunks in, numbered Responses stream events out. Pure and synchronous: no I/O,
 * no timers. The SSE relay feeds it parsed upstream chunks and writes what it returns.
 *
 * Lifecycle: `start()` (created, in_progress) -> `chunk()`* -> exactly one of `end()` (completed or
 * incomplete) or `fail()` (error + failed). Items come from the same OutputAssembler as the
 * non-streaming parser, so both paths build identical output.
 */
import type { ChatCompletionChunk, ChatDelta } from '../types.js';
import {
  type AssemblerOptions,
  AssemblyError,
  OutputAssembler,
  type OutputEvent,
} from '../utils/output-assembler.js';
import {
  buildResponse,
  mapUsage,
  type ResponseContext,
  type ResponseObject,
  statusFromFinishReason,
} from '../utils/response-envelope.js';
import { addContentParts, mapLogprobs, readReasoning } from '../utils/response-parser.js';

/** A stream event as written to the client: an OutputEvent or a lifecycle event, numbered. */
export type StreamEvent = (OutputEvent | LifecycleEvent) & { sequence_number: number };

export type LifecycleEvent =
  | { type: 'response.created' | 'response.in_progress'; response: ResponseObject }
  | { type: 'response.completed' | 'response.incomplete' | 'response.failed'; response: ResponseObject }
  | {
      type: 'error';
      code: string;
      message: string;
      param: null;
      // Real OpenAI traffic nests the fields; the spec puts them flat. Clients differ: send both.
      error: { type: string; code: string; message: string; param: null };
    };

export interface StreamFailure {
  /** The error type, e.g. server_error. */
  type: string;
  /** A specific code, e.g. upstream_timeout. */
  code: string;
  message: string;
}

type Phase = 'new' | 'streaming' | 'finished';

/** What a call that made no event returns: one shared, frozen empty list. */
const NO_EVENTS: readonly StreamEvent[] = Object.freeze([]);

export class StreamTranslator {
  private phase: Phase = 'new';
  private seq = 0;
  /** The events made since the last call returned; NO_EVENTS (shared, frozen) while there are none. */
  private out: StreamEvent[] = NO_EVENTS as StreamEvent[];
  private readonly assembler: OutputAssembler;
  private finishReason: string | null = null;
  private usage: ChatCompletionChunk['usage'] = null;
  private serviceTier: string | null = null;
  /** The Response carried by the terminal event, once there is one. */
  final: ResponseObject | null = null;

  constructor(
    private readonly ctx: ResponseContext,
    private readonly options: AssemblerOptions & { logprobs: boolean } = { logprobs: false },
  ) {
    this.assembler = new OutputAssembler((event) => this.push(event), options);
  }

  get finished(): boolean {
    return this.phase === 'finished';
  }

  start(): readonly StreamEvent[] {
    this.expect('new');
    this.phase = 'streaming';
    // Usage is zero, not null, while in progress: OpenAI's schema does not allow null there and
    // Open Responses requires the field, so zeros are the one value valid in both.
    const snapshot = buildResponse(this.ctx, { status: 'in_progress', output: [], usage: mapUsage(null) });
    this.push({ type: 'response.created', response: snapshot });
    this.push({ type: 'response.in_progress', response: snapshot });
    return this.drain();
  }

  /** One parsed upstream `data:` payload (anything but `[DONE]`). */
  chunk(payload: unknown): readonly StreamEvent[] {
    this.expect('streaming');
    const chunk = payload as ChatCompletionChunk & { error?: unknown };
    if (typeof chunk !== 'object' || chunk === null) {
      return this.fail({
        type: 'server_error',
        code: 'upstream_error',
        message: 'the upstream sent a chunk that is not a JSON object',
      });
    }
    if (chunk.error !== undefined && chunk.error !== null) return this.fail(upstreamStreamError(chunk.error));
    if (typeof chunk.usage === 'object' && chunk.usage !== null) this.usage = chunk.usage;
    if (typeof chunk.service_tier === 'string') this.serviceTier = chunk.service_tier;
    const choice = firstChoice(chunk.choices);
    if (!choice) return this.drain();
    try {
      const delta = typeof choice.delta === 'object' && choice.delta !== null ? choice.delta : {};
      this.delta(delta as ChatDelta, choice.logprobs?.content);
    } catch (err) {
      // Never let a chunk the proxy cannot read end the stream silently or half-written.
      const message =
        err instanceof AssemblyError
          ? err.message
          : `the upstream sent a chunk the proxy cannot translate: ${(err as Error).message}`;
      return this.fail({ type: 'server_error', code: 'upstream_error', message });
    }
    if (typeof choice.finish_reason === 'string' && choice.finish_reason) {
      this.finishReason = choice.finish_reason;
    }
    return this.drain();
  }

  /**
   * An upstream that answered a streaming request with one whole JSON reply (it ignored `stream`):
   * the reply is replayed as a single chunk and the stream ends, so the client still gets a valid
   * stream with the same items the non-streaming path would build.
   */
  whole(reply: unknown): readonly StreamEvent[] {
    this.expect('streaming');
    const r = reply as { error?: unknown; choices?: unknown };
    if (typeof r !== 'object' || r === null || (r.error !== undefined && r.error !== null))
      return this.chunk(r);
    if (!Array.isArray(r.choices)) {
      return this.fail({
        type: 'server_error',
        code: 'upstream_error',
        message: 'the upstream answered a streaming request with JSON that is not a chat completion',
      });
    }
    const choices = (r.choices as unknown[]).map((c) => {
      const choice = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
      const message = (
        typeof choice.message === 'object' && choice.message !== null ? choice.message : {}
      ) as Record<string, unknown>;
      const toolCalls = Array.isArray(message.tool_calls)
        ? message.tool_calls.map((t: unknown, index) => ({ ...(t as object), index }))
        : undefined;
      return { ...choice, delta: { ...message, tool_calls: toolCalls } };
    });
    const events = this.chunk({ ...r, choices });
    if (this.finished) return events;
    return [...events, ...this.end(true)];
  }

  /**
   * The upstream stream ended. With `[DONE]` or a finish_reason it is a normal end; an EOF with
   * neither means the upstream died mid-answer.
   */
  end(sawDone: boolean): readonly StreamEvent[] {
    this.expect('streaming');
    if (!sawDone && this.finishReason === null) {
      return this.fail({
        type: 'server_error',
        code: 'upstream_error',
        message: 'the upstream stream ended unexpectedly',
      });
    }
    const { status, incompleteDetails } = statusFromFinishReason(this.finishReason);
    let output: ReturnType<OutputAssembler['finish']>;
    try {
      output = this.assembler.finish(status);
    } catch (err) {
      if (err instanceof AssemblyError)
        return this.fail({ type: 'server_error', code: 'upstream_error', message: err.message });
      throw err;
    }
    this.final = buildResponse(this.ctx, {
      status,
      output,
      usage: mapUsage(this.usage),
      incompleteDetails,
      serviceTier: this.serviceTier,
    });
    this.push({
      type: status === 'completed' ? 'response.completed' : 'response.incomplete',
      response: this.final,
    });
    this.phase = 'finished';
    return this.drain();
  }

  /**
   * The completed/incomplete terminal event could not be delivered as it is (the response could
   * not be stored, so it could not be continued): it is replaced, under the same sequence number,
   * by `error` + `response.failed`.
   */
  replaceTerminal(failure: StreamFailure): readonly StreamEvent[] {
    const status = this.final?.status;
    if (this.phase !== 'finished' || (status !== 'completed' && status !== 'incomplete')) {
      throw new Error('StreamTranslator: no completed or incomplete terminal event to replace');
    }
    this.seq -= 1;
    this.phase = 'streaming';
    return this.fail(failure);
  }

  /** Ends the stream loudly: open items are closed as incomplete, then `error` and `response.failed`. */
  fail(failure: StreamFailure): readonly StreamEvent[] {
    if (this.phase === 'finished') return this.drain();
    this.phase = 'finished';
    try {
      this.assembler.abort();
    } catch {
      // An item that cannot be closed validly is left out of the failed response.
    }
    this.push({
      type: 'error',
      code: failure.code,
      message: failure.message,
      param: null,
      error: { type: failure.type, code: failure.code, message: failure.message, param: null },
    });
    this.final = buildResponse(this.ctx, {
      status: 'failed',
      output: this.assembler.items,
      usage: mapUsage(this.usage),
      error: { code: 'server_error', message: failure.message },
      serviceTier: this.serviceTier,
    });
    this.push({ type: 'response.failed', response: this.final });
    return this.drain();
  }

  private delta(delta: ChatDelta, logprobs: Parameters<typeof mapLogprobs>[0]): void {
    const reasoning = readReasoning(delta);
    if (reasoning !== '') this.assembler.reasoning(reasoning);
    const content: unknown = delta.content;
    if (typeof content === 'string') {
      if (content !== '')
        this.assembler.text(content, this.options.logprobs ? mapLogprobs(logprobs) : undefined);
    } else if (Array.isArray(content)) {
      addContentParts(content, this.assembler);
    }
    if (typeof delta.refusal === 'string' && delta.refusal !== '') this.assembler.refusal(delta.refusal);
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls) {
        if (typeof tc !== 'object' || tc === null) continue;
        this.assembler.toolCall({
          index: typeof tc.index === 'number' ? tc.index : undefined,
          id: tc.id,
          name: tc.function?.name,
          arguments: tc.function?.arguments,
        });
      }
    }
  }

  private push(event: OutputEvent | LifecycleEvent): void {
    (event as StreamEvent).sequence_number = this.seq++;
    // Most calls make one event: a one-element array, not an empty one grown to 16 by its push.
    if (this.out.length === 0) this.out = [event as StreamEvent];
    else this.out.push(event as StreamEvent);
  }

  private drain(): readonly StreamEvent[] {
    const events = this.out;
    this.out = NO_EVENTS as StreamEvent[];
    return events;
  }

  private expect(phase: Phase): void {
    if (this.phase !== phase)
      throw new Error(`StreamTranslator: called in phase '${this.phase}', expected '${phase}'`);
  }
}

type Choice = ChatCompletionChunk['choices'][number];

/** Choice 0 (or the first object there is): a loop, not filter + find, as it runs once per chunk. */
function firstChoice(choices: unknown): Choice | undefined {
  if (!Array.isArray(choices)) return undefined;
  let first: Choice | undefined;
  for (const c of choices as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    if ((c as Choice).index === 0) return c as Choice;
    first ??= c as Choice;
  }
  return first;
}

/** `data: {"error": …}` after a 200: OpenAI-compatible servers report mid-stream failures this way. */
function upstreamStreamError(error: unknown): StreamFailure {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as Record<
    string,
    unknown
  >;
  const message =
    typeof e.message === 'string' && e.message !== '' ? e.message : 'the upstream reported an error';
  return { type: 'server_error', code: 'upstream_error', message: `upstream error: ${message}` };
}
