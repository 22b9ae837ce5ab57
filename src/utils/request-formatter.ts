/**
 * Responses request -> Chat Completions request. Pure: the same request and target settings always
 * give the same payload. The rule for fields (docs/contract.md): a field whose meaning the proxy
 * cannot honour, and whose loss would silently change the result, is a 400 naming it; a field
 * that only tunes or tags is accepted; a field not in the spec is ignored.
 */
import type { Dialect, StructuredOutput } from '../config.js';
import { InvalidRequestError, UnsupportedParameterError } from '../errors.js';
import type { ChatCompletionFunctionTool, ChatRequest, ResponsesRequest } from '../types.js';
import { buildMessages } from './input-messages.js';
import { ToolCodec } from './tool-codec.js';

export interface FormatOptions {
  /** The model name to send upstream. */
  upstreamModel: string;
  /** The target's dialect (see Dialect in config). */
  dialect: Dialect;
  /** The request's tools as chat functions; built from `req.tools` (hosted tools rejected) when absent. */
  tools?: ToolCodec;
  /** Reads reasoning `encrypted_content` this proxy issued. */
  decryptReasoning?: (blob: string) => string | null;
}

/** Every top-level field of the spec's CreateResponse; anything else is ignored (and logged). */
export const KNOWN_REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'access_programs',
  'background',
  'context_management',
  'conversation',
  'image',
  'include',
  'input',
  'instructions',
  'max_output_tokens',
  'max_tool_calls',
  'metadata',
  'model',
  'moderation',
  'parallel_tool_calls',
  'previous_response_id',
  'prompt',
  'prompt_cache_key',
  'prompt_cache_options',
  'prompt_cache_retention',
  'reasoning',
  'safety_identifier',
  'service_tier',
  'store',
  'stream',
  'stream_options',
  'temperature',
  'text',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'truncation',
  'user',
  'client_metadata',
]);

export function unknownFields(body: object): string[] {
  return Object.keys(body).filter((k) => !KNOWN_REQUEST_FIELDS.has(k));
}

/** Fields the proxy cannot honour; each would silently change the result if dropped. */
export function assertSupported(req: ResponsesRequest): void {
  if (req.background === true) {
    throw new UnsupportedParameterError(
      'background',
      'background mode is not supported: a Chat Completions upstream answers in the request.',
      'unsupported_parameter',
    );
  }
  if (req.conversation !== undefined && req.conversation !== null) {
    throw new UnsupportedParameterError(
      'conversation',
      'conversation objects are not supported; send the history as input items.',
      'unsupported_parameter',
    );
  }
  if (req.prompt !== undefined && req.prompt !== null) {
    throw new UnsupportedParameterError(
      'prompt',
      'stored prompt templates cannot be resolved by this proxy; send instructions and input instead.',
      'unsupported_parameter',
    );
  }
  // With previous_response_id the stored context is the input; a new turn may add nothing.
  if ((req.input === undefined || req.input === null) && typeof req.previous_response_id !== 'string') {
    throw new InvalidRequestError(
      "Missing required parameter: 'input'.",
      'input',
      'missing_required_parameter',
    );
  }
}

export function formatChatRequest(
  req: ResponsesRequest,
  options: FormatOptions,
  stream = false,
): ChatRequest {
  assertSupported(req);
  const input = (req.input ?? []) as string | unknown[];
  const chat: ChatRequest = {
    model: options.upstreamModel,
    messages: buildMessages(req.instructions, input, {
      reasoningField: options.dialect.reasoningField,
      systemRole: options.dialect.systemRole,
      decryptReasoning: options.decryptReasoning,
    }),
  };
  if (stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }

  const codec = options.tools ?? ToolCodec.of(req.tools);
  const choice = formatToolChoice(req.tool_choice, codec.chatTools, codec);
  if (choice.tools.length > 0) {
    chat.tools = choice.tools;
    if (choice.toolChoice !== undefined) chat.tool_choice = choice.toolChoice;
    // Only with tools: OpenAI rejects parallel_tool_calls without them.
    if (typeof req.parallel_tool_calls === 'boolean') chat.parallel_tool_calls = req.parallel_tool_calls;
  }

  const responseFormat = formatResponseFormat(req.text?.format, options.dialect.structuredOutput);
  if (responseFormat) chat.response_format = responseFormat.format;
  if (responseFormat?.instruction) {
    addSystemText(
      chat,
      responseFormat.instruction,
      options.dialect.systemRole === 'developer' ? 'developer' : 'system',
    );
  }

  if (typeof req.max_output_tokens === 'number') chat[options.dialect.maxTokensField] = req.max_output_tokens;
  if (typeof req.temperature === 'number') chat.temperature = req.temperature;
  if (typeof req.top_p === 'number') chat.top_p = req.top_p;
  if (typeof req.top_logprobs === 'number' && req.top_logprobs > 0) {
    chat.logprobs = true;
    chat.top_logprobs = req.top_logprobs;
  } else if (wantsLogprobs(req)) {
    chat.logprobs = true;
  }
  const effort = req.reasoning?.effort;
  if (typeof effort === 'string') chat.reasoning_effort = effort as ChatRequest['reasoning_effort'];
  return chat;
}

/** True when the client asked for token logprobs on output text. */
export function wantsLogprobs(req: ResponsesRequest): boolean {
  return (
    (typeof req.top_logprobs === 'number' && req.top_logprobs > 0) ||
    (Array.isArray(req.include) && req.include.includes('message.output_text.logprobs'))
  );
}

interface ToolChoiceResult {
  tools: ChatCompletionFunctionTool[];
  toolChoice?: ChatRequest['tool_choice'];
}

function formatToolChoice(
  choice: unknown,
  tools: ChatCompletionFunctionTool[],
  codec: ToolCodec,
): ToolChoiceResult {
  if (choice === undefined || choice === null) return { tools };
  // Only an object choice names tools; the common string choices need no set.
  const names = typeof choice === 'object' ? new Set(tools.map((t) => t.function.name)) : null;
  if (typeof choice === 'string') {
    if (choice === 'required' && tools.length === 0) {
      throw new InvalidRequestError("tool_choice 'required' needs at least one tool.", 'tool_choice');
    }
    if (choice !== 'none' && choice !== 'auto' && choice !== 'required') {
      throw new InvalidRequestError(
        "tool_choice must be 'none', 'auto', 'required' or an object.",
        'tool_choice',
      );
    }
    return { tools, toolChoice: choice };
  }
  const c = choice as Record<string, unknown>;
  if (c.type === 'custom') {
    // A custom tool is a function upstream: choosing it is choosing that function.
    if (typeof c.name !== 'string' || !codec.has(c.name) || codec.decode(c.name).kind !== 'custom') {
      throw new InvalidRequestError(
        `tool_choice names custom tool '${String(c.name)}', which is not among the tools.`,
        'tool_choice.name',
      );
    }
    return { tools, toolChoice: { type: 'function', function: { name: c.name } } };
  }
  if (c.type === 'function') {
    if (typeof c.name !== 'string' || !names?.has(c.name)) {
      throw new InvalidRequestError(
        `tool_choice names function '${String(c.name)}', which is not among the tools.`,
        'tool_choice.name',
      );
    }
    return { tools, toolChoice: { type: 'function', function: { name: c.name } } };
  }
  if (c.type === 'allowed_tools') {
    const mode = c.mode === 'required' ? 'required' : 'auto';
    const allowed = new Set<string>();
    (Array.isArray(c.tools) ? c.tools : []).forEach((t: Record<string, unknown>, i: number) => {
      if (
        (t?.type !== 'function' && t?.type !== 'custom') ||
        typeof t.name !== 'string' ||
        !names?.has(t.name)
      ) {
        throw new InvalidRequestError(
          `tool_choice.tools[${i}] must name one of the function or custom tools.`,
          `tool_choice.tools[${i}]`,
        );
      }
      allowed.add(t.name);
    });
    const kept = tools.filter((t) => allowed.has(t.function.name));
    return { tools: kept, toolChoice: mode };
  }
  throw new UnsupportedParameterError(
    'tool_choice.type',
    `tool_choice of type '${String(c.type)}' is not supported: only function tools reach a Chat Completions upstream.`,
    'unsupported_value',
  );
}

interface FormatResult {
  format: NonNullable<ChatRequest['response_format']>;
  /** Text added to the system message when the target cannot take the schema itself. */
  instruction?: string;
}

/**
 * `text.format` -> `response_format`, as far as the target can honour it: `json_object` targets get
 * the schema as an instruction, and a target without structured output rejects JSON formats
 * rather than answering in prose the client cannot parse.
 */
function formatResponseFormat(format: unknown, support: StructuredOutput): FormatResult | undefined {
  if (format === undefined || format === null) return undefined;
  const f = format as Record<string, unknown>;
  if ((f.type === 'json_object' || f.type === 'json_schema') && support === 'none') {
    throw new UnsupportedParameterError(
      'text.format',
      `text.format '${String(f.type)}' cannot be honoured: the target does not support structured output.`,
      'unsupported_value',
    );
  }
  switch (f.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { format: { type: 'json_object' } };
    case 'json_schema': {
      if (typeof f.name !== 'string' || typeof f.schema !== 'object' || f.schema === null) {
        throw new InvalidRequestError(
          'text.format json_schema needs a name and a schema object.',
          'text.format',
        );
      }
      if (support === 'json_object') {
        return {
          format: { type: 'json_object' },
          instruction: `Respond only with a JSON object that conforms to this JSON schema (${f.name}):\n${JSON.stringify(f.schema)}`,
        };
      }
      const jsonSchema: {
        name: string;
        schema: Record<string, unknown>;
        strict?: boolean;
        description?: string;
      } = {
        name: f.name,
        schema: f.schema as Record<string, unknown>,
      };
      if (typeof f.strict === 'boolean') jsonSchema.strict = f.strict;
      if (typeof f.description === 'string') jsonSchema.description = f.description;
      return { format: { type: 'json_schema', json_schema: jsonSchema } };
    }
    default:
      throw new InvalidRequestError(
        `text.format.type must be 'text', 'json_object' or 'json_schema', not '${String(f.type)}'.`,
        'text.format.type',
      );
  }
}

/** Appends to the leading system (or developer) message, or adds one with the target's role. */
function addSystemText(chat: ChatRequest, text: string, role: 'system' | 'developer'): void {
  const first = chat.messages[0];
  if (first && (first.role === 'system' || first.role === 'developer') && typeof first.content === 'string') {
    first.content = `${first.content}\n\n${text}`;
  } else {
    chat.messages.unshift({ role, content: text });
  }
}
