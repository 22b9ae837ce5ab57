/**
 * The one place where Chat Completions content becomes Responses output items.
 *
 * It is a typed state machine: at most one item is open at a time, `output_index` grows by one per
 * item, and every item is announced (`*.added`) before its deltas and closed (`*.done`) before the
 * next one opens. The streaming translator drives it chunk by chunk and forwards the events it
 * emits; the non-streaming parser drives it with a whole message and no event sink. Both read the
 * same finished `items`, so a streamed and a non-streamed reply with the same content end in the
 * same Response. (It stays one file, past the usual size, because every transition of the machine
 * must be read together; its vocabulary lives in output-parts.ts.)
 */
import type {
  ResponseCustomToolCall,
  ResponseFunctionToolCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseOutputRefusal,
  ResponseOutputText,
  ResponseReasoningItem,
} from '../types.js';
import { newId } from './ids.js';
import {
  type EventSink,
  emptyText,
  type Fragment,
  finalPart,
  type ItemStatus,
  type Logprob,
  normalizeFragment,
  type RefusalPart,
  type TextPart,
  type ToolCallFragment,
  toDeltaLogprob,
} from './output-parts.js';

export type { EventSink, ItemStatus, Logprob, OutputEvent, ToolCallFragment } from './output-parts.js';

import { customInput, type ToolCodec } from './tool-codec.js';

/** Frozen: shared by every delta without logprobs, so nothing may add to it. */
const NO_LOGPROBS: readonly Logprob[] = Object.freeze([]);

export interface AssemblerOptions {
  /** Keep token logprobs on output_text parts (the client asked for them). */
  logprobs?: boolean;
  /** Maps chat function names back to namespaced functions and custom tools. */
  tools?: ToolCodec | null;
  /** Adds `encrypted_content` to reasoning items (the client asked for `reasoning.encrypted_content`). */
  sealReasoning?: ((text: string) => string) | null;
}

/** Thrown when the upstream's content cannot be made into valid output items. */
export class AssemblyError extends Error {
  override name = 'AssemblyError';
}

interface ReasoningState {
  kind: 'reasoning';
  id: string;
  outputIndex: number;
  text: string;
}

interface MessageState {
  kind: 'message';
  id: string;
  outputIndex: number;
  done: Array<ResponseOutputText | ResponseOutputRefusal>;
  /** The content part receiving deltas; null until the first one. */
  part: TextPart | RefusalPart | null;
}

interface ToolCallState {
  id: string;
  callId: string | null;
  name: string;
  args: string;
  /** Set once the call's output_item.added was emitted. */
  outputIndex: number | null;
}

interface ToolsState {
  kind: 'tools';
  /** Calls in arrival order; the first is streamed live, the others are buffered until it closes. */
  calls: ToolCallState[];
  byIndex: Map<number, ToolCallState>;
  byId: Map<string, ToolCallState>;
  live: ToolCallState | null;
}

type OpenState = { kind: 'none' } | ReasoningState | MessageState | ToolsState;

const NONE: OpenState = { kind: 'none' };

export class OutputAssembler {
  /** Finished items, in output_index order. */
  readonly items: ResponseOutputItem[] = [];
  private open: OpenState = NONE;
  private nextIndex = 0;

  private readonly keepLogprobs: boolean;
  private readonly tools: ToolCodec | null;
  private readonly sealReasoning: ((text: string) => string) | null;

  constructor(
    private readonly emit: EventSink | null,
    options: AssemblerOptions = {},
  ) {
    this.keepLogprobs = options.logprobs ?? false;
    this.tools = options.tools ?? null;
    this.sealReasoning = options.sealReasoning ?? null;
  }

  /** True once anything (an item or an open item) exists. */
  get hasOutput(): boolean {
    return this.items.length > 0 || this.open.kind !== 'none';
  }

  reasoning(text: string): void {
    if (text === '') return;
    let r = this.open;
    if (r.kind !== 'reasoning') {
      this.closeOpen('completed');
      r = this.openReasoning();
    }
    r.text += text;
    this.emit?.({
      type: 'response.reasoning_text.delta',
      item_id: r.id,
      output_index: r.outputIndex,
      content_index: 0,
      delta: text,
    });
  }

  text(text: string, logprobs?: readonly Logprob[]): void {
    if (text === '') return;
    const m = this.ensureMessage();
    const part = m.part?.kind === 'output_text' ? m.part : this.openPart(m, 'output_text');
    part.text += text;
    const lp = this.keepLogprobs && logprobs ? logprobs : NO_LOGPROBS;
    if (lp.length > 0) part.logprobs.push(...lp);
    this.emit?.({
      type: 'response.output_text.delta',
      item_id: m.id,
      output_index: m.outputIndex,
      content_index: m.done.length,
      delta: text,
      // One shared empty list for the deltas of a stream without logprobs: two arrays fewer each.
      logprobs: lp.length === 0 ? (NO_LOGPROBS as never[]) : lp.map(toDeltaLogprob),
    });
  }

  refusal(text: string): void {
    if (text === '') return;
    const m = this.ensureMessage();
    const part = m.part?.kind === 'refusal' ? m.part : this.openPart(m, 'refusal');
    part.refusal += text;
    this.emit?.({
      type: 'response.refusal.delta',
      item_id: m.id,
      output_index: m.outputIndex,
      content_index: m.done.length,
      delta: text,
    });
  }

  toolCall(raw: ToolCallFragment): void {
    const fragment = normalizeFragment(raw);
    const args = fragment.arguments;
    // A fragment carrying nothing (no id, name or arguments) cannot start a call: ignore it.
    const empty = fragment.id === undefined && fragment.name === undefined && args === '';
    let tools = this.open;
    if (tools.kind !== 'tools') {
      if (empty) return;
      this.closeOpen('completed');
      tools = { kind: 'tools', calls: [], byIndex: new Map(), byId: new Map(), live: null };
      this.open = tools;
    }
    const call = this.findOrAddCall(tools, fragment, empty);
    if (call === null) return;
    if (fragment.name && call.name === '') call.name = fragment.name; // set once: some upstreams repeat it
    if (fragment.id && call.callId === null && call.outputIndex === null) call.callId = fragment.id;
    if (tools.live === null && call.name !== '' && tools.calls[0] === call) {
      call.args += args;
      this.openCall(tools, call);
      return;
    }
    if (args === '') return;
    call.args += args;
    // A custom tool's input is unwrapped from the JSON arguments, so it is sent whole at the end.
    if (tools.live === call && !this.isCustom(call)) {
      this.emit?.({
        type: 'response.function_call_arguments.delta',
        item_id: call.id,
        output_index: call.outputIndex as number,
        delta: args,
      });
    }
  }

  /**
   * Closes whatever is open. `status` applies to the last item (the one the upstream stopped in).
   * A reply with no content at all still yields one empty message, as OpenAI's does.
   */
  finish(status: ItemStatus): ResponseOutputItem[] {
    if (!this.hasOutput) this.openPart(this.ensureMessage(), 'output_text');
    this.closeOpen(status);
    return this.items;
  }

  /**
   * The stream failed: closes whatever is open as incomplete and creates nothing new. Tool calls
   * still buffered (never announced) are dropped, so the output matches what was streamed.
   */
  abort(): void {
    const open = this.open;
    if (open.kind !== 'tools') {
      this.closeOpen('incomplete');
      return;
    }
    this.open = NONE;
    if (open.live !== null) this.closeCall(open.live, 'incomplete');
  }

  private ensureMessage(): MessageState {
    const open = this.open;
    if (open.kind === 'message') return open;
    this.closeOpen('completed');
    const m: MessageState = {
      kind: 'message',
      id: newId('msg'),
      outputIndex: this.nextIndex++,
      done: [],
      part: null,
    };
    this.open = m;
    this.emit?.({
      type: 'response.output_item.added',
      output_index: m.outputIndex,
      item: { id: m.id, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    return m;
  }

  private openPart<K extends 'output_text' | 'refusal'>(
    m: MessageState,
    kind: K,
  ): K extends 'output_text' ? TextPart : RefusalPart;
  private openPart(m: MessageState, kind: 'output_text' | 'refusal'): TextPart | RefusalPart {
    if (m.part !== null) this.closePart(m, m.part);
    const part: TextPart | RefusalPart =
      kind === 'output_text' ? { kind, text: '', logprobs: [] } : { kind, refusal: '' };
    m.part = part;
    this.emit?.({
      type: 'response.content_part.added',
      item_id: m.id,
      output_index: m.outputIndex,
      content_index: m.done.length,
      part: kind === 'output_text' ? emptyText() : { type: 'refusal', refusal: '' },
    });
    return part;
  }

  private closePart(m: MessageState, open: TextPart | RefusalPart): void {
    const part = finalPart(open);
    const base = { item_id: m.id, output_index: m.outputIndex, content_index: m.done.length };
    if (part.type === 'output_text') {
      this.emit?.({
        type: 'response.output_text.done',
        ...base,
        text: part.text,
        logprobs: part.logprobs ?? [],
      });
    } else {
      this.emit?.({ type: 'response.refusal.done', ...base, refusal: part.refusal });
    }
    this.emit?.({ type: 'response.content_part.done', ...base, part: finalPart(open) });
    m.done.push(part);
    m.part = null;
  }

  private openReasoning(): ReasoningState {
    const r: ReasoningState = { kind: 'reasoning', id: newId('rs'), outputIndex: this.nextIndex++, text: '' };
    this.open = r;
    this.emit?.({
      type: 'response.output_item.added',
      output_index: r.outputIndex,
      item: { id: r.id, type: 'reasoning', status: 'in_progress', summary: [], content: [] },
    });
    this.emit?.({
      type: 'response.content_part.added',
      item_id: r.id,
      output_index: r.outputIndex,
      content_index: 0,
      part: { type: 'reasoning_text', text: '' },
    });
    return r;
  }

  private findOrAddCall(tools: ToolsState, f: Fragment, empty: boolean): ToolCallState | null {
    let call =
      f.index !== undefined
        ? tools.byIndex.get(f.index)
        : f.id
          ? tools.byId.get(f.id)
          : tools.calls[tools.calls.length - 1];
    // Two different ids on one index: the upstream reused the index for a new call.
    if (call && f.id && call.callId !== null && call.callId !== f.id) call = undefined;
    if (call) return call;
    if (empty) return null;
    call = { id: newId('fc'), callId: f.id ?? null, name: '', args: '', outputIndex: null };
    tools.calls.push(call);
    if (f.index !== undefined) tools.byIndex.set(f.index, call);
    if (f.id) tools.byId.set(f.id, call);
    return call;
  }

  private isCustom(call: ToolCallState): boolean {
    return this.tools?.decode(call.name).kind === 'custom';
  }

  private openCall(tools: ToolsState, call: ToolCallState): void {
    call.outputIndex = this.nextIndex++;
    call.callId ??= newId('call');
    tools.live = call;
    const identity = this.tools?.decode(call.name) ?? { kind: 'function', name: call.name };
    if (identity.kind === 'custom') {
      call.id = call.id.replace(/^fc_/, 'ctc_');
      this.emit?.({
        type: 'response.output_item.added',
        output_index: call.outputIndex,
        item: {
          id: call.id,
          type: 'custom_tool_call',
          call_id: call.callId,
          name: identity.name,
          input: '',
          ...(identity.namespace === undefined ? {} : { namespace: identity.namespace }),
        },
      });
      return;
    }
    this.emit?.({
      type: 'response.output_item.added',
      output_index: call.outputIndex,
      item: {
        id: call.id,
        type: 'function_call',
        status: 'in_progress',
        arguments: '',
        call_id: call.callId,
        name: identity.name,
        ...(identity.namespace === undefined ? {} : { namespace: identity.namespace }),
      },
    });
    if (call.args !== '') {
      this.emit?.({
        type: 'response.function_call_arguments.delta',
        item_id: call.id,
        output_index: call.outputIndex,
        delta: call.args,
      });
    }
  }

  private closeCall(call: ToolCallState, status: ItemStatus): void {
    const outputIndex = call.outputIndex as number;
    const identity = this.tools?.decode(call.name) ?? { kind: 'function', name: call.name };
    if (identity.kind === 'custom') {
      const input = customInput(call.args);
      const base = { item_id: call.id, output_index: outputIndex };
      if (input !== '') this.emit?.({ type: 'response.custom_tool_call_input.delta', ...base, delta: input });
      this.emit?.({ type: 'response.custom_tool_call_input.done', ...base, input });
      const item: ResponseCustomToolCall = {
        id: call.id,
        type: 'custom_tool_call',
        call_id: call.callId as string,
        name: identity.name,
        input,
        ...(identity.namespace === undefined ? {} : { namespace: identity.namespace }),
      };
      this.emit?.({ type: 'response.output_item.done', output_index: outputIndex, item });
      this.items.push(item);
      return;
    }
    if (call.args === '') {
      // A call with no arguments still carries a JSON object, as OpenAI's do.
      call.args = '{}';
      this.emit?.({
        type: 'response.function_call_arguments.delta',
        item_id: call.id,
        output_index: outputIndex,
        delta: '{}',
      });
    }
    this.emit?.({
      type: 'response.function_call_arguments.done',
      item_id: call.id,
      output_index: outputIndex,
      arguments: call.args,
      name: identity.name,
    });
    const item: ResponseFunctionToolCall = {
      id: call.id,
      type: 'function_call',
      status,
      arguments: call.args,
      call_id: call.callId as string,
      name: identity.name,
      ...(identity.namespace === undefined ? {} : { namespace: identity.namespace }),
    };
    this.emit?.({ type: 'response.output_item.done', output_index: outputIndex, item });
    this.items.push(item);
  }

  private closeOpen(lastStatus: ItemStatus): void {
    const open = this.open;
    // Check before emitting anything: a failure must not leave a half-announced item behind, and
    // the tool calls stay open so abort() can close the live one.
    if (open.kind === 'tools') {
      const nameless = open.calls.find((c) => c.name === '');
      if (nameless) {
        throw new AssemblyError(
          `the upstream sent a tool call (id ${nameless.callId ?? 'none'}) without a name`,
        );
      }
    }
    this.open = NONE;
    switch (open.kind) {
      case 'none':
        return;
      case 'reasoning': {
        const base = { item_id: open.id, output_index: open.outputIndex, content_index: 0 };
        this.emit?.({ type: 'response.reasoning_text.done', ...base, text: open.text });
        this.emit?.({
          type: 'response.content_part.done',
          ...base,
          part: { type: 'reasoning_text', text: open.text },
        });
        const item: ResponseReasoningItem = {
          id: open.id,
          type: 'reasoning',
          status: lastStatus,
          summary: [],
          content: [{ type: 'reasoning_text', text: open.text }],
          ...(this.sealReasoning ? { encrypted_content: this.sealReasoning(open.text) } : {}),
        };
        this.emit?.({ type: 'response.output_item.done', output_index: open.outputIndex, item });
        this.items.push(item);
        return;
      }
      case 'message': {
        if (open.part !== null) this.closePart(open, open.part);
        const item: ResponseOutputMessage = {
          id: open.id,
          type: 'message',
          status: lastStatus,
          role: 'assistant',
          content: open.done,
        };
        this.emit?.({ type: 'response.output_item.done', output_index: open.outputIndex, item });
        this.items.push(item);
        return;
      }
      case 'tools': {
        const last = open.calls[open.calls.length - 1];
        for (const call of open.calls) {
          if (call.outputIndex === null) this.openCall(open, call);
          this.closeCall(call, call === last ? lastStatus : 'completed');
        }
        return;
      }
    }
  }
}
