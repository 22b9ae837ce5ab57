/**
 * The Response object around the output items: the echoed request fields, with the spec's
 * defaults, computed once per request, and the per-moment fields (status, output, usage…).
 * Every field both OpenAI's schema and the stricter Open Responses schema require is present,
 * `null` where it has no value.
 */
import type { CompletionUsage, ResponseOutputItem, ResponsesRequest, ResponseUsage, Tool } from '../types.js';
import { newId } from './ids.js';

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface ResponseError {
  code: string;
  message: string;
}

export interface IncompleteDetails {
  reason: 'max_output_tokens' | 'content_filter';
}

/** The Response object as the proxy sends it (fields in OpenAI's order). */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  background: boolean;
  completed_at: number | null;
  error: ResponseError | null;
  incomplete_details: IncompleteDetails | null;
  instructions: string | null;
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  model: string;
  output: ResponseOutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  prompt_cache_key: string | null;
  reasoning: { effort: string | null; summary: string | null };
  safety_identifier: string | null;
  service_tier: string;
  store: boolean;
  temperature: number;
  text: Record<string, unknown> & { format: unknown };
  tool_choice: unknown;
  tools: unknown[];
  top_logprobs: number;
  top_p: number;
  truncation: string;
  usage: ResponseUsage | null;
  user?: string;
  metadata: Record<string, string>;
  presence_penalty: number;
  frequency_penalty: number;
}

/** The part of a Response fixed when the request arrives. */
export type ResponseContext = Omit<
  ResponseObject,
  'status' | 'completed_at' | 'error' | 'incomplete_details' | 'output' | 'usage'
>;

/** `stored`: whether this proxy keeps responses at all (then `store` echoes the request's choice). */
export function createResponseContext(
  req: ResponsesRequest,
  now = Date.now(),
  stored = false,
): ResponseContext {
  const ctx: ResponseContext = {
    id: newId('resp'),
    object: 'response',
    created_at: Math.floor(now / 1000),
    background: false,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    max_tool_calls: req.max_tool_calls ?? null,
    model: req.model ?? '',
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: req.previous_response_id ?? null,
    prompt_cache_key: req.prompt_cache_key ?? null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.summary ?? null },
    safety_identifier: req.safety_identifier ?? null,
    service_tier: req.service_tier ?? 'default',
    store: stored && req.store !== false,
    temperature: req.temperature ?? 1,
    text: { ...(req.text ?? {}), format: req.text?.format ?? { type: 'text' } },
    tool_choice: req.tool_choice ?? 'auto',
    tools: (req.tools ?? []).map(echoTool),
    top_logprobs: req.top_logprobs ?? 0,
    top_p: req.top_p ?? 1,
    truncation: req.truncation ?? 'disabled',
    metadata: req.metadata ?? {},
    presence_penalty: 0,
    frequency_penalty: 0,
  };
  if (typeof req.user === 'string') ctx.user = req.user;
  return ctx;
}

/** Function tools are echoed with every field the spec requires, others as sent. */
function echoTool(tool: Tool): unknown {
  if (tool.type !== 'function') return tool;
  return {
    ...tool,
    description: tool.description ?? null,
    parameters: tool.parameters ?? null,
    strict: tool.strict ?? null,
  };
}

export interface ResponseState {
  status: ResponseStatus;
  output: ResponseOutputItem[];
  usage: ResponseUsage | null;
  error?: ResponseError | null;
  incompleteDetails?: IncompleteDetails | null;
  serviceTier?: string | null | undefined;
  now?: number;
}

export function buildResponse(ctx: ResponseContext, state: ResponseState): ResponseObject {
  const completedAt = state.status === 'completed' ? Math.floor((state.now ?? Date.now()) / 1000) : null;
  // Spread in a fixed order so every Response has the same field order (and hidden class).
  return {
    id: ctx.id,
    object: 'response',
    created_at: ctx.created_at,
    status: state.status,
    background: ctx.background,
    completed_at: completedAt,
    error: state.error ?? null,
    incomplete_details: state.incompleteDetails ?? null,
    instructions: ctx.instructions,
    max_output_tokens: ctx.max_output_tokens,
    max_tool_calls: ctx.max_tool_calls,
    model: ctx.model,
    output: state.output,
    parallel_tool_calls: ctx.parallel_tool_calls,
    previous_response_id: ctx.previous_response_id,
    prompt_cache_key: ctx.prompt_cache_key,
    reasoning: ctx.reasoning,
    safety_identifier: ctx.safety_identifier,
    service_tier: knownServiceTier(state.serviceTier) ?? ctx.service_tier,
    store: ctx.store,
    temperature: ctx.temperature,
    text: ctx.text,
    tool_choice: ctx.tool_choice,
    tools: ctx.tools,
    top_logprobs: ctx.top_logprobs,
    top_p: ctx.top_p,
    truncation: ctx.truncation,
    usage: state.usage,
    ...(ctx.user === undefined ? {} : { user: ctx.user }),
    metadata: ctx.metadata,
    presence_penalty: ctx.presence_penalty,
    frequency_penalty: ctx.frequency_penalty,
  };
}

/** The tiers OpenAI's Response schema allows; others (e.g. Groq's "on_demand") would make it invalid. */
const SERVICE_TIERS: ReadonlySet<string> = new Set([
  'auto',
  'default',
  'flex',
  'scale',
  'priority',
  'fast',
  'ultrafast',
]);

function knownServiceTier(tier: string | null | undefined): string | null {
  return typeof tier === 'string' && SERVICE_TIERS.has(tier) ? tier : null;
}

/** Chat usage -> Responses usage; zeros where the upstream gives no figure. */
export function mapUsage(usage: CompletionUsage | null | undefined): ResponseUsage {
  const input = usage?.prompt_tokens ?? 0;
  const output = usage?.completion_tokens ?? 0;
  const details = usage?.prompt_tokens_details as
    | { cached_tokens?: number; cache_write_tokens?: number }
    | undefined;
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: details?.cached_tokens ?? 0,
      cache_write_tokens: details?.cache_write_tokens ?? 0,
    } as ResponseUsage['input_tokens_details'],
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage?.total_tokens ?? input + output,
  };
}

/** Chat finish_reason -> Response status and incomplete details. */
export function statusFromFinishReason(reason: string | null | undefined): {
  status: 'completed' | 'incomplete';
  incompleteDetails: IncompleteDetails | null;
} {
  if (reason === 'length')
    return { status: 'incomplete', incompleteDetails: { reason: 'max_output_tokens' } };
  if (reason === 'content_filter')
    return { status: 'incomplete', incompleteDetails: { reason: 'content_filter' } };
  return { status: 'completed', incompleteDetails: null };
}
