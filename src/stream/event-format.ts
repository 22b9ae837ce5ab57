/**
 * One stream event as SSE text (`event: <type>\ndata: <json>\n\n`), its JSON the same bytes as
 * JSON.stringify of the event (but for the lifecycle events, whose `sequence_number` comes before
 * the Response), written as text for the events every stream has.
 *
 * Why: Node 20's JSON.stringify checks every byte it writes for escapes, keys included; a stream
 * carries the reply's text four more times after its deltas (text done, part done, item done, the
 * final Response) and three Response envelopes. The formats here write keys as literals and check
 * only strings from outside (response-json.ts); tests/stream/event-format.test.ts compares every
 * event of generated streams with JSON.stringify.
 */
import type { ResponseOutputItem } from '../types.js';
import type { ResponseObject } from '../utils/response-envelope.js';
import { itemJson, jsonString, jsonValue, partJson, responseJson } from '../utils/response-json.js';
import type { StreamEvent } from './stream-translator.js';

/**
 * The last Response serialized: response.created and response.in_progress, written one after the
 * other, carry the same snapshot, serialized once. One entry, not a WeakMap: a long-lived map with
 * an entry per stream keeps rebuilding its table, garbage that lives long enough to be promoted.
 */
let lastSnapshot: object | null = null;
let lastSnapshotJson = '';

/**
 * The text of a text delta up to its `delta`, the same for every delta of one content part: most
 * events of a stream are text deltas, and writing each from a dozen pieces made a dozen strings.
 */
let deltaItem = '';
let deltaOutput = -1;
let deltaContent = -1;
let deltaHead = '';

export function formatEvent(event: StreamEvent): string {
  if (event.type === 'response.output_text.delta' && event.logprobs.length === 0) {
    if (
      event.item_id !== deltaItem ||
      event.output_index !== deltaOutput ||
      event.content_index !== deltaContent
    ) {
      deltaItem = event.item_id;
      deltaOutput = event.output_index;
      deltaContent = event.content_index;
      deltaHead = `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":${jsonString(event.item_id)},"output_index":${event.output_index},"content_index":${event.content_index},"delta":`;
    }
    return `${deltaHead}${jsonString(event.delta)},"logprobs":[],"sequence_number":${event.sequence_number}}\n\n`;
  }
  return `event: ${event.type}\ndata: ${eventJson(event)}\n\n`;
}

/** The event's JSON; an event with a key this file does not know goes to JSON.stringify whole. */
export function eventJson(event: StreamEvent): string {
  const e = event as unknown as Record<string, unknown>;
  if ('response' in event) {
    // The lifecycle events: the number before the (long) Response, as this proxy always wrote them.
    return `{"type":${jsonString(event.type)},"sequence_number":${event.sequence_number},"response":${snapshot(event.response as ResponseObject)}}`;
  }
  let out = '{';
  for (const key in e) {
    const value = e[key];
    const json = KNOWN_KEYS.has(key) ? valueJson(key, value) : null;
    if (json === null) return JSON.stringify(event);
    if (json === undefined) continue;
    out += out.length === 1 ? `"${key}":${json}` : `,"${key}":${json}`;
  }
  return `${out}}`;
}

function snapshot(response: ResponseObject): string {
  if (response !== lastSnapshot) {
    lastSnapshotJson = responseJson(response);
    lastSnapshot = response;
  }
  return lastSnapshotJson;
}

/** Keys of the events the translator makes; plain identifiers, so written without escaping. */
const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'type',
  'sequence_number',
  'item_id',
  'output_index',
  'content_index',
  'summary_index',
  'text',
  'delta',
  'logprobs',
  'part',
  'item',
  'refusal',
  'arguments',
  'name',
  'code',
  'message',
  'param',
]);

/**
 * A value's JSON; `undefined` where JSON.stringify leaves the key out; `null` (the JS value) for
 * one this file leaves to JSON.stringify.
 */
function valueJson(key: string, value: unknown): string | null | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return jsonValue(value);
    case 'undefined':
      return undefined;
    case 'object':
      if (value === null) return 'null';
      if (key === 'item') return itemJson(value as ResponseOutputItem);
      if (key === 'part') return partJson(value as { type: string });
      if (Array.isArray(value) && value.length === 0) return '[]';
      return null;
    default:
      return null;
  }
}
