/**
 * The JSON text of a Response object, the same bytes `JSON.stringify` gives, built as text.
 *
 * Why: Node 20's JSON.stringify checks every byte it writes for escapes, keys and fixed values
 * included, and looks up `toJSON` on every object. Counted with callgrind in the running proxy, it
 * was the largest single cost the proxy adds over the pass-through: about 25,000 instructions per
 * request, for a Response of which two thirds are keys and fixed values. Here the keys are
 * literals, and only strings that come from outside (text, ids, the model's name…) are checked.
 *
 * It knows the shapes `buildResponse` (response-envelope.ts) and the output assembler make; any
 * other item or value goes to JSON.stringify. tests/utils/response-json.test.ts compares it with
 * JSON.stringify on Responses made by the real parser from generated replies.
 */
import type { ResponseOutputItem } from '../types.js';
import type { ResponseObject } from './response-envelope.js';

/** A character JSON.stringify would escape (or a surrogate, which it escapes when lone). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal: `JSON.stringify(s)` for any string. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * A value as JSON.stringify writes it. `undefined` (which JSON.stringify would leave out, with its
 * key) is written as `null`: buildResponse gives every field a value, so it only guards the text.
 */
export function jsonValue(v: unknown): string {
  switch (typeof v) {
    case 'undefined':
      return 'null';
    case 'string':
      return jsonString(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return v === null ? 'null' : (JSON.stringify(v) as string);
  }
}

/** The keys buildResponse writes, `user` aside. */
const ENVELOPE_KEYS = 31;

export function responseJson(r: ResponseObject): string {
  // Another shape (a field added or missing): JSON.stringify says what it holds.
  if (size(r) !== (r.user === undefined ? ENVELOPE_KEYS : ENVELOPE_KEYS + 1)) {
    return JSON.stringify(r);
  }
  let out = `{"id":${jsonString(r.id)},"object":"response","created_at":${jsonValue(r.created_at)},"status":${jsonString(r.status)},"background":${jsonValue(r.background)},"completed_at":${jsonValue(r.completed_at)},"error":${jsonValue(r.error)},"incomplete_details":${jsonValue(r.incomplete_details)},"instructions":${jsonValue(r.instructions)},"max_output_tokens":${jsonValue(r.max_output_tokens)},"max_tool_calls":${jsonValue(r.max_tool_calls)},"model":${jsonValue(r.model)},"output":${outputJson(r.output)},"parallel_tool_calls":${jsonValue(r.parallel_tool_calls)},"previous_response_id":${jsonValue(r.previous_response_id)},"prompt_cache_key":${jsonValue(r.prompt_cache_key)},"reasoning":${reasoningJson(r.reasoning)},"safety_identifier":${jsonValue(r.safety_identifier)},"service_tier":${jsonValue(r.service_tier)},"store":${jsonValue(r.store)},"temperature":${jsonValue(r.temperature)},"text":${textJson(r.text)},"tool_choice":${jsonValue(r.tool_choice)},"tools":${r.tools.length === 0 ? '[]' : jsonValue(r.tools)},"top_logprobs":${jsonValue(r.top_logprobs)},"top_p":${jsonValue(r.top_p)},"truncation":${jsonValue(r.truncation)},"usage":${usageJson(r.usage)}`;
  if (r.user !== undefined) out += `,"user":${jsonValue(r.user)}`;
  return `${out},"metadata":${metadataJson(r.metadata)},"presence_penalty":${jsonValue(r.presence_penalty)},"frequency_penalty":${jsonValue(r.frequency_penalty)}}`;
}

function outputJson(items: readonly ResponseOutputItem[]): string {
  if (items.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += itemJson(items[i] as ResponseOutputItem);
  }
  return `${out}]`;
}

/** An output item; the shapes the output assembler makes are written here, others by JSON.stringify. */
export function itemJson(item: ResponseOutputItem): string {
  if (item.type === 'message' && size(item) === 5) {
    const m = item;
    return `{"id":${jsonValue(m.id)},"type":"message","status":${jsonValue(m.status)},"role":${jsonValue(m.role)},"content":${contentJson(m.content)}}`;
  }
  return JSON.stringify(item);
}

function contentJson(parts: ReadonlyArray<{ type: string }>): string {
  if (parts.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out += ',';
    out += partJson(parts[i] as { type: string });
  }
  return `${out}]`;
}

export function partJson(part: { type: string }): string {
  const p = part as { type: string; text?: unknown; annotations?: unknown[]; logprobs?: unknown[] };
  if (
    p.type === 'output_text' &&
    typeof p.text === 'string' &&
    p.annotations?.length === 0 &&
    p.logprobs?.length === 0 &&
    size(p) === 4
  ) {
    return `{"type":"output_text","text":${jsonString(p.text)},"annotations":[],"logprobs":[]}`;
  }
  return JSON.stringify(part);
}

function reasoningJson(r: ResponseObject['reasoning']): string {
  if (r.effort === null && r.summary === null && size(r) === 2) {
    return '{"effort":null,"summary":null}';
  }
  return JSON.stringify(r);
}

function textJson(t: ResponseObject['text']): string {
  const format = t.format as { type?: unknown } | undefined;
  if (format?.type === 'text' && size(format) === 1 && size(t) === 1) {
    return '{"format":{"type":"text"}}';
  }
  return JSON.stringify(t);
}

function metadataJson(m: ResponseObject['metadata']): string {
  return size(m) === 0 ? '{}' : JSON.stringify(m);
}

/**
 * How many enumerable keys an object has (without the array Object.keys makes). A shape with a key
 * this file does not know about goes to JSON.stringify, so nothing is ever left out.
 */
function size(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

function usageJson(u: ResponseObject['usage']): string {
  if (u === null) return 'null';
  const input = u.input_tokens_details as { cached_tokens: number; cache_write_tokens?: number };
  if (
    size(u) !== 5 ||
    size(input) !== 2 ||
    input.cache_write_tokens === undefined ||
    size(u.output_tokens_details) !== 1
  ) {
    return JSON.stringify(u);
  }
  return `{"input_tokens":${jsonValue(u.input_tokens)},"input_tokens_details":{"cached_tokens":${jsonValue(input.cached_tokens)},"cache_write_tokens":${jsonValue(input.cache_write_tokens)}},"output_tokens":${jsonValue(u.output_tokens)},"output_tokens_details":{"reasoning_tokens":${jsonValue(u.output_tokens_details.reasoning_tokens)}},"total_tokens":${jsonValue(u.total_tokens)}}`;
}
