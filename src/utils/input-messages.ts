/**
 * Responses `instructions` + `input` items -> Chat Completions `messages`.
 *
 * Rules (docs/contract.md, "Input items"): instructions, system and developer messages become ONE
 * leading system message (or, per target `system_role`, stay in place as `developer` or `system`
 * messages); consecutive function calls share one assistant message (with any
 * assistant text of the same turn); each tool result follows its call; reasoning text rides on the
 * next assistant message; anything the upstream cannot receive is a 400 naming the item.
 */

import type { ReasoningFieldSetting, SystemRole } from '../config.js';
import { InvalidRequestError, UnsupportedParameterError } from '../errors.js';
import type {
  ChatAssistantMessage,
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
} from '../types.js';
import { CUSTOM_INPUT_FIELD, namespacedName } from './tool-codec.js';

type ChatMessage = ChatCompletionMessageParam | ChatAssistantMessage;
type Json = Record<string, unknown>;

export interface InputOptions {
  /** Where reasoning text rides on assistant messages (`none`: it is dropped). */
  reasoningField: ReasoningFieldSetting;
  /** `merge`: one leading system message; `developer`/`system`: kept in place with that role. */
  systemRole: SystemRole;
  /** Reads a reasoning item's `encrypted_content` issued by this proxy; null when it is not ours. */
  decryptReasoning?: ((blob: string) => string | null) | undefined;
}

/** Tracks one function call until its output arrives. */
interface CallRecord {
  itemIndex: number;
  answered: boolean;
  message: ChatAssistantMessage;
}

export function buildMessages(
  instructions: string | null | undefined,
  input: string | readonly unknown[],
  options: InputOptions,
): ChatMessage[] {
  const systemTexts: string[] = [];
  const messages: ChatMessage[] = [];
  if (typeof instructions === 'string' && instructions !== '') {
    if (options.systemRole === 'merge') systemTexts.push(instructions);
    else messages.push({ role: options.systemRole, content: instructions });
  }

  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
  } else {
    new ItemConverter(messages, systemTexts, options).convert(input);
  }
  if (systemTexts.length > 0) messages.unshift({ role: 'system', content: systemTexts.join('\n\n') });
  return messages;
}

class ItemConverter {
  private readonly calls = new Map<string, CallRecord>();
  private pendingReasoning = '';
  /**
   * User (and unmerged system) messages sent while calls await their results. Chat Completions
   * wants every result right after its call, so they follow the turn's last result.
   */
  private deferred: ChatMessage[] = [];

  constructor(
    private readonly messages: ChatMessage[],
    private readonly systemTexts: string[],
    private readonly options: InputOptions,
  ) {}

  convert(items: readonly unknown[]): void {
    items.forEach((raw, i) => {
      const at = `input[${i}]`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new InvalidRequestError(`${at} must be an object.`, at, 'invalid_type');
      }
      const item = raw as Json;
      const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
      switch (type) {
        case 'message':
          this.message(item, at);
          break;
        case 'function_call':
        case 'custom_tool_call':
          this.functionCall(item, at, i);
          break;
        case 'function_call_output':
        case 'custom_tool_call_output':
          this.functionCallOutput(item, at);
          break;
        case 'reasoning':
          this.reasoning(item, at);
          break;
        case 'item_reference':
          throw new UnsupportedParameterError(
            at,
            `${at}: item_reference could not be resolved here (no response store); send the item itself.`,
            'unsupported_value',
          );
        default:
          throw new UnsupportedParameterError(
            `${at}.type`,
            `${at}.type: input items of type '${String(type)}' cannot be sent to a Chat Completions upstream.`,
            'unsupported_value',
          );
      }
    });
    for (const [callId, record] of this.calls) {
      if (!record.answered) {
        throw new InvalidRequestError(
          `input[${record.itemIndex}]: function call '${callId}' has no function_call_output; every call needs its result.`,
          `input[${record.itemIndex}]`,
          'missing_tool_output',
        );
      }
    }
  }

  private message(item: Json, at: string): void {
    const role = item.role;
    const content = item.content;
    if (typeof content !== 'string' && !Array.isArray(content)) {
      throw new InvalidRequestError(
        `${at}.content must be a string or a list of content parts.`,
        `${at}.content`,
      );
    }
    switch (role) {
      case 'system':
      case 'developer':
        if (this.options.systemRole === 'merge') this.systemTexts.push(textOnly(content, `${at}.content`));
        else this.pushOrDefer({ role: this.options.systemRole, content: textOnly(content, `${at}.content`) });
        return;
      case 'user':
        this.pushOrDefer({ role: 'user', content: userContent(content, `${at}.content`) });
        return;
      case 'assistant':
        this.assistantMessage(content, at);
        return;
      default:
        throw new InvalidRequestError(
          `${at}.role must be one of 'user', 'assistant', 'system', 'developer'.`,
          `${at}.role`,
        );
    }
  }

  private assistantMessage(content: string | unknown[], at: string): void {
    const { text, refusal } = assistantContent(content, `${at}.content`);
    // Text between a call and its result belongs to the calling turn: the result must follow the call.
    const open = this.openCallingMessage();
    if (open) {
      if (text !== '') {
        open.content =
          typeof open.content === 'string' && open.content !== '' ? `${open.content}\n\n${text}` : text;
      }
      if (refusal !== null) open.refusal = open.refusal ? `${open.refusal}\n\n${refusal}` : refusal;
      this.attachReasoning(open);
      return;
    }
    const msg: ChatAssistantMessage = { role: 'assistant', content: text };
    if (refusal !== null) msg.refusal = refusal;
    this.attachReasoning(msg);
    this.messages.push(msg);
  }

  /** `function_call` (namespaced or not) and `custom_tool_call` items, as the upstream saw them offered. */
  private functionCall(item: Json, at: string, index: number): void {
    const callId = requireString(item.call_id, `${at}.call_id`);
    const plainName = requireString(item.name, `${at}.name`);
    const name =
      typeof item.namespace === 'string' && item.namespace !== ''
        ? namespacedName(item.namespace, plainName)
        : plainName;
    const args =
      item.type === 'custom_tool_call'
        ? JSON.stringify({ [CUSTOM_INPUT_FIELD]: requireString(item.input, `${at}.input`) })
        : item.arguments === undefined
          ? ''
          : requireString(item.arguments, `${at}.arguments`);
    if (this.calls.has(callId)) {
      throw new InvalidRequestError(
        `${at}.call_id '${callId}' is used by more than one function call.`,
        `${at}.call_id`,
      );
    }
    const call = {
      id: callId,
      type: 'function' as const,
      function: { name, arguments: args === '' ? '{}' : args },
    };
    const last = this.messages[this.messages.length - 1] as ChatAssistantMessage | undefined;
    // A call while earlier calls still await results joins them, so every result follows its call.
    let msg = this.openCallingMessage() ?? (last?.role === 'assistant' ? last : undefined);
    if (msg) {
      // Consecutive calls, or a call after the turn's text, share one assistant message.
      msg.tool_calls = [...(msg.tool_calls ?? []), call];
      if (msg.content === '') msg.content = null;
      this.attachReasoning(msg);
    } else {
      msg = { role: 'assistant', content: null, tool_calls: [call] };
      this.attachReasoning(msg);
      this.messages.push(msg);
    }
    this.calls.set(callId, { itemIndex: index, answered: false, message: msg });
  }

  private functionCallOutput(item: Json, at: string): void {
    const callId = requireString(item.call_id, `${at}.call_id`);
    const record = this.calls.get(callId);
    if (!record) {
      throw new InvalidRequestError(
        `${at}: no function call found for function_call_output with call_id '${callId}'.`,
        `${at}.call_id`,
        'missing_tool_call',
      );
    }
    if (record.answered) {
      throw new InvalidRequestError(`${at}: call_id '${callId}' already has an output.`, `${at}.call_id`);
    }
    record.answered = true;
    this.messages.push({
      role: 'tool',
      tool_call_id: callId,
      content: toolOutput(item.output, `${at}.output`),
    });
    if (this.deferred.length > 0 && !this.openCallingMessage()) {
      this.messages.push(...this.deferred);
      this.deferred = [];
    }
  }

  private pushOrDefer(msg: ChatMessage): void {
    if (this.openCallingMessage()) this.deferred.push(msg);
    else this.messages.push(msg);
  }

  private reasoning(item: Json, at: string): void {
    let text = reasoningText(item, at);
    // A blob this proxy issued (store: false clients such as Codex send reasoning back this way).
    if (text === '' && typeof item.encrypted_content === 'string' && this.options.decryptReasoning) {
      text = this.options.decryptReasoning(item.encrypted_content) ?? '';
    }
    if (text !== '')
      this.pendingReasoning = this.pendingReasoning === '' ? text : `${this.pendingReasoning}\n\n${text}`;
  }

  private attachReasoning(msg: ChatAssistantMessage): void {
    if (this.pendingReasoning === '') return;
    const setting = this.options.reasoningField;
    const fields =
      setting === 'both'
        ? (['reasoning_content', 'reasoning'] as const)
        : setting === 'none'
          ? []
          : [setting];
    for (const field of fields) {
      const prior = msg[field];
      msg[field] = prior ? `${prior}\n\n${this.pendingReasoning}` : this.pendingReasoning;
    }
    this.pendingReasoning = '';
  }

  private hasUnansweredCall(msg: ChatAssistantMessage): boolean {
    return (msg.tool_calls ?? []).some((c) => this.calls.get(c.id)?.answered === false);
  }

  /** The assistant message before the trailing tool results, if some of its calls await results. */
  private openCallingMessage(): ChatAssistantMessage | undefined {
    let i = this.messages.length - 1;
    while (i >= 0 && this.messages[i]?.role === 'tool') i--;
    const msg = this.messages[i] as ChatAssistantMessage | undefined;
    return msg?.role === 'assistant' && this.hasUnansweredCall(msg) ? msg : undefined;
  }
}

function requireString(value: unknown, param: string): string {
  if (typeof value !== 'string')
    throw new InvalidRequestError(`${param} must be a string.`, param, 'invalid_type');
  return value;
}

function partsOf(content: unknown[], param: string): Json[] {
  return content.map((p, j) => {
    if (typeof p !== 'object' || p === null) {
      throw new InvalidRequestError(
        `${param}[${j}] must be a content part object.`,
        `${param}[${j}]`,
        'invalid_type',
      );
    }
    return p as Json;
  });
}

/** System and developer messages: text only (chat templates accept nothing else there). */
function textOnly(content: string | unknown[], param: string): string {
  if (typeof content === 'string') return content;
  return partsOf(content, param)
    .map((p, j) => {
      if (p.type !== 'input_text' && p.type !== 'text') {
        throw new UnsupportedParameterError(
          `${param}[${j}].type`,
          `${param}[${j}]: system and developer messages can only hold text, not '${String(p.type)}'.`,
          'unsupported_value',
        );
      }
      return requireString(p.text, `${param}[${j}].text`);
    })
    .join('\n\n');
}

function userContent(content: string | unknown[], param: string): string | ChatCompletionContentPart[] {
  if (typeof content === 'string') return content;
  const parts = partsOf(content, param).map((p, j) => userPart(p, `${param}[${j}]`));
  // A lone text part as a plain string: some chat templates only handle string content.
  if (parts.length === 1 && parts[0]?.type === 'text') return parts[0].text;
  return parts;
}

function userPart(p: Json, param: string): ChatCompletionContentPart {
  switch (p.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: requireString(p.text, `${param}.text`) };
    case 'input_image': {
      if (typeof p.image_url !== 'string') {
        if (p.file_id !== undefined && p.file_id !== null) {
          throw new UnsupportedParameterError(
            `${param}.file_id`,
            `${param}: images by file_id need the OpenAI Files API, which a Chat Completions upstream does not have; send image_url (a URL or a data: URL).`,
            'unsupported_value',
          );
        }
        throw new InvalidRequestError(
          `${param}.image_url must be a URL or a data: URL.`,
          `${param}.image_url`,
        );
      }
      const detail = p.detail === 'low' || p.detail === 'high' || p.detail === 'auto' ? p.detail : undefined;
      return { type: 'image_url', image_url: detail ? { url: p.image_url, detail } : { url: p.image_url } };
    }
    case 'input_file': {
      if (typeof p.file_data === 'string') {
        const file: { file_data: string; filename?: string } = { file_data: p.file_data };
        if (typeof p.filename === 'string') file.filename = p.filename;
        return { type: 'file', file };
      }
      const which = p.file_id !== undefined && p.file_id !== null ? 'file_id' : 'file_url';
      throw new UnsupportedParameterError(
        `${param}.${which}`,
        `${param}: files by ${which} cannot be passed to a Chat Completions upstream; send file_data inline.`,
        'unsupported_value',
      );
    }
    default:
      throw new UnsupportedParameterError(
        `${param}.type`,
        `${param}: content parts of type '${String(p.type)}' are not supported in user messages.`,
        'unsupported_value',
      );
  }
}

function assistantContent(
  content: string | unknown[],
  param: string,
): { text: string; refusal: string | null } {
  if (typeof content === 'string') return { text: content, refusal: null };
  const texts: string[] = [];
  let refusal: string | null = null;
  partsOf(content, param).forEach((p, j) => {
    if (p.type === 'output_text' || p.type === 'input_text' || p.type === 'text') {
      texts.push(requireString(p.text, `${param}[${j}].text`));
    } else if (p.type === 'refusal') {
      refusal = requireString(p.refusal, `${param}[${j}].refusal`);
    } else {
      throw new UnsupportedParameterError(
        `${param}[${j}].type`,
        `${param}[${j}]: assistant messages can only hold output_text and refusal parts, not '${String(p.type)}'.`,
        'unsupported_value',
      );
    }
  });
  return { text: texts.join(''), refusal };
}

/** Tool results are text on the chat side: string outputs pass, text parts are joined. */
function toolOutput(output: unknown, param: string): string {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output))
    throw new InvalidRequestError(`${param} must be a string or a list of parts.`, param);
  return partsOf(output, param)
    .map((p, j) => {
      if (p.type === 'input_text' || p.type === 'output_text')
        return requireString(p.text, `${param}[${j}].text`);
      throw new UnsupportedParameterError(
        `${param}[${j}].type`,
        `${param}[${j}]: a Chat Completions tool message can only carry text, not '${String(p.type)}'.`,
        'unsupported_value',
      );
    })
    .join('');
}

function reasoningText(item: Json, at: string): string {
  const pick = (list: unknown, partType: string): string => {
    if (!Array.isArray(list)) return '';
    return list
      .filter((p): p is Json => typeof p === 'object' && p !== null && (p as Json).type === partType)
      .map((p, j) =>
        requireString(p.text, `${at}.${partType === 'reasoning_text' ? 'content' : 'summary'}[${j}].text`),
      )
      .join('\n\n');
  };
  return pick(item.content, 'reasoning_text') || pick(item.summary, 'summary_text');
}
