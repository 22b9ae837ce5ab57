/**
 * Non-streaming: one Chat Completions reply -> one Response object. The items are built by the
 * same OutputAssembler the stream translator uses, fed the whole message at once in the order a
 * stream would carry it (reasoning, text, refusal, tool calls).
 */
import type { ChatCompletion, ChatReplyMessage } from '../types.js';
import { type Logprob, OutputAssembler } from './output-assembler.js';
import {
  buildResponse,
  mapUsage,
  type ResponseContext,
  type ResponseObject,
  statusFromFinishReason,
} from './response-envelope.js';
import type { ToolCodec } from './tool-codec.js';

export interface ParseOptions {
  /** Keep token logprobs on output_text parts (the client asked for them). */
  logprobs: boolean;
  /** The request's tools, to map function names back to namespaces and custom tools. */
  tools?: ToolCodec | null;
  sealReasoning?: ((text: string) => string) | null;
}

/** Thrown when a 2xx upstream body is not a usable chat completion. */
export class ChatReplyShapeError extends Error {
  override name = 'ChatReplyShapeError';
}

export function parseChatCompletion(
  reply: ChatCompletion,
  ctx: ResponseContext,
  options: ParseOptions = { logprobs: false },
): ResponseObject {
  if (typeof reply !== 'object' || reply === null || !Array.isArray(reply.choices)) {
    throw new ChatReplyShapeError('the reply has no "choices" list');
  }
  const choice = reply.choices.find((c) => c?.index === 0) ?? reply.choices[0];
  if (!choice || typeof choice.message !== 'object' || choice.message === null) {
    throw new ChatReplyShapeError('the reply has no choice with a message');
  }
  const message = choice.message as ChatReplyMessage;
  const out = new OutputAssembler(null, options);

  out.reasoning(readReasoning(message));
  const content: unknown = message.content;
  if (typeof content === 'string') {
    out.text(content, options.logprobs ? mapLogprobs(choice.logprobs?.content) : undefined);
  } else if (Array.isArray(content)) {
    addContentParts(content, out);
  }
  if (typeof message.refusal === 'string') out.refusal(message.refusal);
  const toolCalls: unknown = message.tool_calls;
  if (toolCalls !== undefined && toolCalls !== null && !Array.isArray(toolCalls)) {
    throw new ChatReplyShapeError('the message\'s "tool_calls" is not a list');
  }
  message.tool_calls?.forEach((call, index) => {
    if (typeof call !== 'object' || call === null) {
      throw new ChatReplyShapeError(`tool call ${index} is not an object`);
    }
    if (call.type !== 'function' && call.type !== undefined) {
      throw new ChatReplyShapeError(`tool call ${index} has unsupported type "${String(call.type)}"`);
    }
    const fn = (call as { function?: { name?: string; arguments?: string } }).function;
    out.toolCall({ index, id: call.id, name: fn?.name, arguments: fn?.arguments });
  });

  const { status, incompleteDetails } = statusFromFinishReason(choice.finish_reason);
  const output = out.finish(status);
  return buildResponse(ctx, {
    status,
    output,
    usage: mapUsage(reply.usage),
    incompleteDetails,
    serviceTier: reply.service_tier,
  });
}

/**
 * Content sent as a list of parts, not a string: Mistral's reasoning models (Magistral) send
 * `{"type":"thinking","thinking":[{"type":"text","text":…}]}` then `{"type":"text","text":…}`, in
 * replies and in stream deltas. Each part goes to the assembler in order. Parts with no Responses
 * output counterpart (Mistral's `reference` chunks, images) are skipped.
 */
export function addContentParts(
  parts: readonly unknown[],
  out: Pick<OutputAssembler, 'reasoning' | 'text' | 'refusal'>,
): void {
  for (const part of parts) {
    if (typeof part !== 'object' || part === null) continue;
    const p = part as { type?: unknown; text?: unknown; thinking?: unknown; refusal?: unknown };
    if (p.type === 'text' && typeof p.text === 'string' && p.text !== '') out.text(p.text);
    else if (p.type === 'thinking') {
      const thinking = thinkingText(p.thinking);
      if (thinking !== '') out.reasoning(thinking);
    } else if (p.type === 'refusal' && typeof p.refusal === 'string' && p.refusal !== '') {
      out.refusal(p.refusal);
    }
  }
}

/** A thinking part's text: a string, or (Mistral) a list of text parts. */
function thinkingText(thinking: unknown): string {
  if (typeof thinking === 'string') return thinking;
  if (!Array.isArray(thinking)) return '';
  let text = '';
  for (const t of thinking) {
    if (typeof t === 'object' && t !== null && typeof (t as { text?: unknown }).text === 'string') {
      text += (t as { text: string }).text;
    }
  }
  return text;
}

/** Upstreams put reasoning in `reasoning_content` (DeepSeek, llama.cpp) or `reasoning` (vLLM, Ollama). */
export function readReasoning(m: { reasoning_content?: unknown; reasoning?: unknown }): string {
  if (typeof m.reasoning_content === 'string' && m.reasoning_content !== '') return m.reasoning_content;
  if (typeof m.reasoning === 'string') return m.reasoning;
  return '';
}

type ChatLogprob = NonNullable<NonNullable<ChatCompletion.Choice['logprobs']>['content']>[number];

export function mapLogprobs(content: readonly ChatLogprob[] | null | undefined): Logprob[] | undefined {
  if (!content) return undefined;
  return content.map((lp) => ({
    token: lp.token,
    logprob: lp.logprob,
    bytes: lp.bytes ?? [],
    top_logprobs: (lp.top_logprobs ?? []).map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: t.bytes ?? [],
    })),
  }));
}
