/**
 * Stateful Responses on top of a ResponseStore: builds a request's full context from
 * `previous_response_id` and `item_reference` items, gives every input item an id, and stores
 * the finished response with that context before the client is answered.
 */
import { InvalidRequestError, PreviousResponseNotFoundError } from '../errors.js';
import type { ResponseStore, StoredItem, StoredResponse } from '../store/response-store.js';
import type { ResponsesRequest } from '../types.js';
import { type IdPrefix, newId } from '../utils/ids.js';
import type { ResponseObject } from '../utils/response-envelope.js';

export interface Context {
  /** The full input, oldest first, every item with an id: what the upstream sees and what is stored. */
  items: StoredItem[];
  /** How many leading items came from the previous response (the request's own input follows). */
  inherited: number;
}

/**
 * An `item_reference`: `{type: "item_reference", id}`, or just `{id}` (the spec makes `type`
 * optional and nullable for references; any other item has a type or a role).
 */
export function isItemReference(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const item = raw as Record<string, unknown>;
  if (item.type === 'item_reference') return true;
  return (item.type === undefined || item.type === null) && item.role === undefined && item.id !== undefined;
}

export class ResponseHistory {
  constructor(readonly store: ResponseStore) {}

  /**
   * The context of a request: the previous response's stored input and output items (its chain
   * already resolved when it was stored), then this request's input with references resolved.
   * `instructions` are never inherited.
   */
  async context(req: ResponsesRequest): Promise<Context> {
    const items: StoredItem[] = [];
    if (typeof req.previous_response_id === 'string') {
      const previous = await this.store.get(req.previous_response_id);
      if (!previous) throw new PreviousResponseNotFoundError(req.previous_response_id);
      items.push(...previous.inputItems, ...(previous.response.output as unknown as StoredItem[]));
    }
    const inherited = items.length;
    const input = typeof req.input === 'string' ? [{ role: 'user', content: req.input }] : (req.input ?? []);
    for (const [i, raw] of (input as unknown[]).entries()) {
      const item = raw as Record<string, unknown>;
      if (isItemReference(item)) {
        items.push(await this.resolveReference(item, i));
      } else {
        items.push(normalizeItem(item));
      }
    }
    return { items, inherited };
  }

  /** Stores the response with its context; resolves once the write is durable. */
  async save(response: ResponseObject, context: Context): Promise<void> {
    const entry: StoredResponse = { response, inputItems: context.items };
    await this.store.put(entry);
  }

  private async resolveReference(item: Record<string, unknown>, index: number): Promise<StoredItem> {
    const at = `input[${index}]`;
    if (typeof item.id !== 'string' || item.id === '') {
      throw new InvalidRequestError(`${at}.id: an item_reference needs the id of a stored item.`, `${at}.id`);
    }
    const found = await this.store.getItem(item.id);
    if (!found) {
      throw new InvalidRequestError(
        `${at}: item with id '${item.id}' not found (it may have expired, or been stored with store: false).`,
        `${at}.id`,
        'item_not_found',
      );
    }
    return found;
  }
}

const PREFIX: Record<string, IdPrefix> = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  reasoning: 'rs',
};

/**
 * Gives an input item an id and the shape `input_items` lists (the spec's item resources):
 * messages get content parts and a status; other items keep their fields.
 */
export function normalizeItem(item: Record<string, unknown>): StoredItem {
  const type = typeof item.type === 'string' ? item.type : item.role !== undefined ? 'message' : 'unknown';
  const id = typeof item.id === 'string' && item.id !== '' ? item.id : newId(PREFIX[type] ?? 'msg');
  if (type !== 'message')
    return { ...item, type, id, ...(item.status === undefined ? { status: 'completed' } : {}) };
  const role = item.role;
  const content =
    typeof item.content === 'string'
      ? [
          role === 'assistant'
            ? { type: 'output_text', text: item.content, annotations: [], logprobs: [] }
            : { type: 'input_text', text: item.content },
        ]
      : Array.isArray(item.content) && role === 'assistant'
        ? item.content.map(outputTextPart)
        : item.content;
  return { ...item, type, id, role, content, status: item.status ?? 'completed' };
}

/** An assistant `output_text` part as the spec's OutputMessage lists it: `annotations` and `logprobs` required. */
function outputTextPart(part: unknown): unknown {
  if (typeof part !== 'object' || part === null) return part;
  const p = part as Record<string, unknown>;
  if (p.type !== 'output_text') return part;
  return { ...p, annotations: p.annotations ?? [], logprobs: p.logprobs ?? [] };
}
