/**
 * Responses tools <-> Chat Completions functions, per request.
 *
 * - `function` tools pass as they are.
 * - `namespace` tools (Codex) are flattened: each member (function or custom) is offered as
 *   `NS__NAME` (chat names allow only `[a-zA-Z0-9_-]{1,64}`), and calls come back as
 *   `function_call` / `custom_tool_call` items with `name` and `namespace` as the client sent them.
 * - `custom` tools (freeform text input, optional grammar) become a function taking one string
 *   argument, `input`; calls come back as `custom_tool_call` items with that `input`.
 * - hosted tools (web_search, file_search, …) cannot run on a chat upstream: `reject` answers 400,
 *   `drop` removes them (and the caller logs a warning).
 */
import { createHash } from 'node:crypto';
import { InvalidRequestError, UnsupportedParameterError } from '../errors.js';
import type { ChatCompletionFunctionTool } from '../types.js';

export type HostedToolsPolicy = 'reject' | 'drop';

/** What a chat function name stands for on the Responses side. */
export interface ToolIdentity {
  kind: 'function' | 'custom';
  name: string;
  namespace?: string;
}

const CHAT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const CUSTOM_INPUT_FIELD = 'input';

export class ToolCodec {
  readonly chatTools: ChatCompletionFunctionTool[] = [];
  /** Types of the hosted tools that were dropped (policy `drop`). */
  readonly dropped: string[] = [];
  private readonly byChatName = new Map<string, ToolIdentity>();

  /** The codec for a request's tools; one shared, empty codec for the many requests without any. */
  static of(tools: readonly unknown[] | undefined, hosted: HostedToolsPolicy = 'reject'): ToolCodec {
    return tools === undefined || tools.length === 0 ? NO_TOOLS : new ToolCodec(tools, hosted);
  }

  constructor(tools: readonly unknown[] = [], hosted: HostedToolsPolicy = 'reject') {
    tools.forEach((raw, i) => {
      const tool = raw as Record<string, unknown>;
      switch (tool.type) {
        case 'function':
          this.addFunction(tool, `tools[${i}]`);
          break;
        case 'custom':
          this.addCustom(tool, `tools[${i}]`);
          break;
        case 'namespace':
          this.addNamespace(tool, `tools[${i}]`);
          break;
        default:
          if (hosted === 'drop') {
            this.dropped.push(String(tool.type));
            break;
          }
          throw new UnsupportedParameterError(
            `tools[${i}].type`,
            `tools[${i}]: tool type '${String(tool.type)}' is not supported: a Chat Completions upstream can only call functions (set hosted_tools = "drop" to drop such tools instead).`,
            'unsupported_value',
          );
      }
    });
  }

  /** The Responses identity of a chat function name (a name the upstream invented maps to itself). */
  decode(chatName: string): ToolIdentity {
    return this.byChatName.get(chatName) ?? { kind: 'function', name: chatName };
  }

  has(chatName: string): boolean {
    return this.byChatName.has(chatName);
  }

  private addFunction(tool: Record<string, unknown>, at: string, namespace?: string): void {
    const chatName = chatNameOf(tool, at, namespace);
    const fn: ChatCompletionFunctionTool['function'] = { name: chatName };
    if (typeof tool.description === 'string') fn.description = tool.description;
    if (typeof tool.parameters === 'object' && tool.parameters !== null) {
      fn.parameters = tool.parameters as Record<string, unknown>;
    }
    if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
    this.add(
      chatName,
      { kind: 'function', name: tool.name as string, ...(namespace === undefined ? {} : { namespace }) },
      fn,
      at,
    );
  }

  private addCustom(tool: Record<string, unknown>, at: string, namespace?: string): void {
    const chatName = chatNameOf(tool, at, namespace);
    const format = tool.format as { type?: string; syntax?: string; definition?: string } | undefined;
    const grammar =
      format?.type === 'grammar' && typeof format.definition === 'string'
        ? ` It must follow this ${format.syntax ?? ''} grammar:\n${format.definition}`
        : '';
    const fn: ChatCompletionFunctionTool['function'] = {
      name: chatName,
      parameters: {
        type: 'object',
        properties: {
          [CUSTOM_INPUT_FIELD]: { type: 'string', description: `The raw text input for the tool.${grammar}` },
        },
        required: [CUSTOM_INPUT_FIELD],
        additionalProperties: false,
      },
    };
    if (typeof tool.description === 'string') fn.description = tool.description;
    this.add(
      chatName,
      { kind: 'custom', name: tool.name as string, ...(namespace === undefined ? {} : { namespace }) },
      fn,
      at,
    );
  }

  private addNamespace(tool: Record<string, unknown>, at: string): void {
    if (typeof tool.name !== 'string' || tool.name === '') {
      throw new InvalidRequestError(`${at}.name must be a non-empty string.`, `${at}.name`);
    }
    const members = Array.isArray(tool.tools) ? tool.tools : [];
    members.forEach((m, j) => {
      const member = m as Record<string, unknown>;
      if (member?.type === 'function') this.addFunction(member, `${at}.tools[${j}]`, tool.name as string);
      else if (member?.type === 'custom') this.addCustom(member, `${at}.tools[${j}]`, tool.name as string);
      else {
        throw new UnsupportedParameterError(
          `${at}.tools[${j}].type`,
          `${at}.tools[${j}]: only function and custom tools can be offered from a namespace.`,
          'unsupported_value',
        );
      }
    });
  }

  private add(
    chatName: string,
    identity: ToolIdentity,
    fn: ChatCompletionFunctionTool['function'],
    at: string,
  ): void {
    if (this.byChatName.has(chatName)) {
      throw new InvalidRequestError(`${at}: a tool named '${chatName}' is already defined.`, `${at}.name`);
    }
    this.byChatName.set(chatName, identity);
    this.chatTools.push({ type: 'function', function: fn });
  }
}

/** The chat name of a tool; a name outside a namespace must already be a valid chat name. */
function chatNameOf(tool: Record<string, unknown>, at: string, namespace: string | undefined): string {
  if (typeof tool.name !== 'string' || (namespace === undefined && !CHAT_NAME.test(tool.name))) {
    throw new InvalidRequestError(
      `${at}.name must be 1-64 letters, digits, '_' or '-'.`,
      `${at}.name`,
      'invalid_value',
    );
  }
  return namespace === undefined ? tool.name : namespacedName(namespace, tool.name);
}

/**
 * The chat name of a namespaced function: `NS__NAME`, with characters chat names do not allow
 * replaced, and a hash suffix when that would exceed 64 characters (deterministic, so history
 * items map to the same name on every turn).
 */
export function namespacedName(namespace: string, name: string): string {
  const plain = `${namespace}__${name}`.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (plain.length <= 64) return plain;
  const hash = createHash('sha256').update(`${namespace}\u0000${name}`).digest('hex').slice(0, 8);
  return `${plain.slice(0, 55)}_${hash}`;
}

/** The `input` of a custom tool call from the arguments the upstream produced. */
export function customInput(args: string): string {
  try {
    const parsed = JSON.parse(args) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const value = (parsed as Record<string, unknown>)[CUSTOM_INPUT_FIELD];
      if (typeof value === 'string') return value;
    }
    if (typeof parsed === 'string') return parsed;
  } catch {
    // not JSON: the model answered with the raw text
  }
  return args;
}

/** Frozen: every request without tools shares it. */
const NO_TOOLS = new ToolCodec();
Object.freeze(NO_TOOLS.chatTools);
Object.freeze(NO_TOOLS.dropped);
Object.freeze(NO_TOOLS);
