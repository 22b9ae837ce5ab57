/**
 * Validates what the proxy emits against the two published specs: OpenAI's OpenAPI document
 * (`components.schemas.Response` and the stream-event schemas) and the stricter Open Responses
 * document (`components.schemas.ResponseResource`). Copies of both live in tests/fixtures/spec so
 * a fresh clone can run the suite; tests/spec-copies.test.ts checks they match ../shared/.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const SPEC_DIR = fileURLToPath(new URL('../fixtures/spec/', import.meta.url));
export const OPENAI_SPEC_FILE = `${SPEC_DIR}openai-openapi.json`;
export const OPEN_RESPONSES_SPEC_FILE = `${SPEC_DIR}open-responses.json`;

type Doc = { components: { schemas: Record<string, unknown> } };

let ajv: Ajv2020 | null = null;
const cache = new Map<string, ValidateFunction>();

function instance(): Ajv2020 {
  if (ajv) return ajv;
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true, discriminator: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  for (const [id, file] of [
    ['openai', OPENAI_SPEC_FILE],
    ['open-responses', OPEN_RESPONSES_SPEC_FILE],
  ] as const) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Doc;
    ajv.addSchema({ $id: id, components: doc.components });
  }
  return ajv;
}

function validator(spec: 'openai' | 'open-responses', schema: string): ValidateFunction {
  const key = `${spec}#/components/schemas/${schema}`;
  let fn = cache.get(key);
  if (!fn) {
    const got = instance().getSchema(key);
    if (!got) throw new Error(`no schema ${key}`);
    fn = got;
    cache.set(key, fn);
  }
  return fn;
}

export function schemaErrors(spec: 'openai' | 'open-responses', schema: string, value: unknown): string[] {
  const fn = validator(spec, schema);
  if (fn(value)) return [];
  return (fn.errors ?? []).map(
    (e) => `${spec}:${schema}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`,
  );
}

/**
 * What OpenAI's spec defines and Open Responses does not: custom tool call items, and tools other
 * than functions (custom, namespace, hosted). Those are checked against OpenAI's schema only;
 * Open Responses checks the rest of the same Response.
 */
export const OPENAI_ONLY_ITEM_TYPES: ReadonlySet<string> = new Set(['custom_tool_call']);

const openAIOnly = (item: unknown) =>
  OPENAI_ONLY_ITEM_TYPES.has(String((item as { type?: unknown } | null)?.type));

/** The Response as far as Open Responses defines it. */
function forOpenResponses(response: unknown): unknown {
  if (typeof response !== 'object' || response === null) return response;
  const r = response as { output?: unknown; tools?: unknown };
  return {
    ...r,
    ...(Array.isArray(r.output) ? { output: r.output.filter((i) => !openAIOnly(i)) } : {}),
    ...(Array.isArray(r.tools)
      ? { tools: r.tools.filter((t) => (t as { type?: unknown } | null)?.type === 'function') }
      : {}),
  };
}

/** Throws with every schema error when a Response fails either spec. */
export function assertValidResponse(response: unknown): void {
  const errors = [
    ...schemaErrors('openai', 'Response', response),
    ...schemaErrors('open-responses', 'ResponseResource', forOpenResponses(response)),
  ];
  if (errors.length > 0)
    throw new Error(`Response does not match the specs:\n${errors.slice(0, 20).join('\n')}`);
}

/** Stream events: OpenAI's ResponseStreamEvent, and Open Responses' own schema where it defines the event. */
const OPEN_RESPONSES_EVENTS: Record<string, string> = {
  'response.created': 'ResponseCreatedStreamingEvent',
  'response.in_progress': 'ResponseInProgressStreamingEvent',
  'response.completed': 'ResponseCompletedStreamingEvent',
  'response.failed': 'ResponseFailedStreamingEvent',
  'response.incomplete': 'ResponseIncompleteStreamingEvent',
  'response.output_item.added': 'ResponseOutputItemAddedStreamingEvent',
  'response.output_item.done': 'ResponseOutputItemDoneStreamingEvent',
  'response.content_part.added': 'ResponseContentPartAddedStreamingEvent',
  'response.content_part.done': 'ResponseContentPartDoneStreamingEvent',
  'response.output_text.delta': 'ResponseOutputTextDeltaStreamingEvent',
  'response.output_text.done': 'ResponseOutputTextDoneStreamingEvent',
  'response.refusal.delta': 'ResponseRefusalDeltaStreamingEvent',
  'response.refusal.done': 'ResponseRefusalDoneStreamingEvent',
  'response.function_call_arguments.delta': 'ResponseFunctionCallArgumentsDeltaStreamingEvent',
  'response.function_call_arguments.done': 'ResponseFunctionCallArgumentsDoneStreamingEvent',
  error: 'ErrorStreamingEvent',
};

export function assertValidEvent(event: { type: string }): void {
  const errors = schemaErrors('openai', 'ResponseStreamEvent', event);
  const orSchema = OPEN_RESPONSES_EVENTS[event.type];
  const item = (event as { item?: unknown }).item;
  if (orSchema && !openAIOnly(item)) {
    const response = (event as { response?: unknown }).response;
    const e = response === undefined ? event : { ...event, response: forOpenResponses(response) };
    errors.push(...schemaErrors('open-responses', orSchema, e));
  }
  if (errors.length > 0) {
    throw new Error(`event ${event.type} does not match the specs:\n${errors.slice(0, 20).join('\n')}`);
  }
}
