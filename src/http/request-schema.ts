/**
 * The JSON schema of `POST /v1/responses` (checked by request-validator.ts): the types of the
 * top-level fields, so a wrong type is a 400 naming the field before any translation runs. It
 * checks types, not values the spec may grow (new enum members pass through), and allows unknown
 * fields.
 */
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const object = { type: 'object' };

export const responsesRequestSchema = {
  type: 'object',
  required: ['model'],
  properties: {
    model: { type: 'string', minLength: 1 },
    input: { anyOf: [{ type: 'string' }, { type: 'array', items: object }] },
    instructions: nullable({ type: 'string' }),
    stream: nullable({ type: 'boolean' }),
    stream_options: nullable(object),
    tools: {
      type: 'array',
      items: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } },
    },
    tool_choice: { anyOf: [{ type: 'string' }, { type: 'object', required: ['type'] }] },
    parallel_tool_calls: nullable({ type: 'boolean' }),
    max_output_tokens: nullable({ type: 'integer', minimum: 1 }),
    max_tool_calls: nullable({ type: 'integer', minimum: 0 }),
    temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
    top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    text: { type: 'object', properties: { format: nullable({ type: 'object', required: ['type'] }) } },
    reasoning: nullable({ type: 'object', properties: { effort: nullable({ type: 'string' }) } }),
    metadata: nullable({ type: 'object', additionalProperties: { type: 'string' } }),
    store: nullable({ type: 'boolean' }),
    background: nullable({ type: 'boolean' }),
    previous_response_id: nullable({ type: 'string' }),
    include: nullable({ type: 'array', items: { type: 'string' } }),
    user: { type: 'string' },
    safety_identifier: nullable({ type: 'string' }),
    prompt_cache_key: nullable({ type: 'string' }),
    service_tier: nullable({ type: 'string' }),
    truncation: nullable({ type: 'string' }),
  },
} as const;

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Ajv's first error -> (param, message) in OpenAI's style: `input[2].call_id`. */
export function describeValidationError(errors: readonly AjvError[]): { param: string; message: string } {
  // anyOf reports each branch; the most specific error is the deepest path.
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  const err = sorted.find((e) => e.keyword !== 'anyOf') ?? sorted[0];
  if (!err) return { param: '', message: 'Invalid request body.' };
  let param = err.instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');
  if (err.keyword === 'required') {
    const missing = String(err.params.missingProperty);
    param = param === '' ? missing : `${param}.${missing}`;
    return { param, message: `Missing required parameter: '${param}'.` };
  }
  if (
    err.keyword === 'type' &&
    errors.some((e) => e.instancePath === err.instancePath && e.keyword === 'anyOf')
  ) {
    const types = errors
      .filter((e) => e.instancePath === err.instancePath && e.keyword === 'type')
      .map((e) => String(e.params.type));
    return { param, message: `Invalid type for '${param}': expected ${[...new Set(types)].join(' or ')}.` };
  }
  return { param, message: `Invalid value for '${param || 'body'}': ${err.message ?? 'invalid'}.` };
}
