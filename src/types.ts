/**
 * Wire types. Both sides of the bridge use the official `openai` package's types (type-only
 * imports: nothing from `openai` is loaded at run time), extended only where real upstreams send
 * fields the official types do not know (reasoning text on chat messages and deltas).
 */
import type {
  ChatCompletion,
  ChatCompletionAssistantMessageParam,
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionCreateParams,
  ChatCompletionFunctionTool,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type {
  EasyInputMessage,
  FunctionTool,
  Response,
  ResponseCreateParams,
  ResponseCustomToolCall,
  ResponseError,
  ResponseFunctionCallArgumentsDoneEvent,
  ResponseFunctionToolCall,
  ResponseInput,
  ResponseInputItem,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseOutputRefusal,
  ResponseOutputText,
  ResponseReasoningItem,
  ResponseStreamEvent,
  ResponseUsage,
  Tool,
} from 'openai/resources/responses/responses';

export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionFunctionTool,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
  CompletionUsage,
  EasyInputMessage,
  FunctionTool,
  Response,
  ResponseCustomToolCall,
  ResponseError,
  ResponseFunctionCallArgumentsDoneEvent,
  ResponseFunctionToolCall,
  ResponseInput,
  ResponseInputItem,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseOutputRefusal,
  ResponseOutputText,
  ResponseReasoningItem,
  ResponseStreamEvent,
  ResponseUsage,
  Tool,
};

/** The body of `POST /v1/responses` (streaming or not). */
export type ResponsesRequest = ResponseCreateParams;

/** Where an upstream puts reasoning text: DeepSeek/llama.cpp vs vLLM/Ollama/OpenRouter. */
export type ReasoningField = 'reasoning_content' | 'reasoning';

/** An assistant message as sent upstream, with the non-standard reasoning passback fields. */
export type ChatAssistantMessage = ChatCompletionAssistantMessageParam & {
  reasoning_content?: string;
  reasoning?: string;
};

/** The Chat Completions request the proxy sends upstream. */
export type ChatRequest = Omit<ChatCompletionCreateParams, 'messages'> & {
  messages: Array<ChatCompletionMessageParam | ChatAssistantMessage>;
  max_tokens?: number;
};

/** The assistant message of a non-streaming reply, as real upstreams send it. */
export type ChatReplyMessage = ChatCompletion.Choice['message'] & {
  reasoning_content?: string | null;
  reasoning?: string | null;
};

/** A streaming delta, as real upstreams send it. */
export type ChatDelta = ChatCompletionChunk.Choice.Delta & {
  reasoning_content?: string | null;
  reasoning?: string | null;
};

export type ChatToolCallDelta = ChatCompletionChunk.Choice.Delta.ToolCall;

/** What a chat finish reason becomes on the Responses side. */
export type FinishReason = ChatCompletion.Choice['finish_reason'] | (string & {}) | null;
