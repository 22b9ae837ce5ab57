/**
 * Where stateful Responses live. Every backend keeps, per response id, the final Response and the
 * full list of input items that produced it (the previous chain resolved, every item with an id),
 * and an index from item id to item for `item_reference`. Entries expire after the TTL.
 */
import { StoreEntryTooLargeError } from '../errors.js';
import type { ResponseObject } from '../utils/response-envelope.js';

export { StoreEntryTooLargeError, StoreUnavailableError } from '../errors.js';

/** An input or output item as stored: always with an `id`. */
export type StoredItem = Record<string, unknown> & { id: string; type: string };

export interface StoredResponse {
  response: ResponseObject;
  /** The full context that produced the response, oldest first: what `input_items` lists. */
  inputItems: StoredItem[];
}

export interface ResponseStore {
  /** The backend's name, for logs and /readyz. */
  readonly kind: string;
  get(id: string): Promise<StoredResponse | null>;
  /** Resolves only once the entry is durable for every replica that shares the store. */
  put(entry: StoredResponse): Promise<void>;
  delete(id: string): Promise<boolean>;
  /** An item (input or output) of any stored response, by item id. */
  getItem(itemId: string): Promise<StoredItem | null>;
  /** Throws when the backend cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Serializes an entry and enforces the size cap once, for every backend. */
export function encodeEntry(entry: StoredResponse, maxBytes: number): string {
  const json = JSON.stringify(entry);
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw new StoreEntryTooLargeError(bytes, maxBytes);
  return json;
}

/** Every item of an entry by id: its inputs and its outputs. */
export function itemsOf(entry: StoredResponse): StoredItem[] {
  return [...entry.inputItems, ...(entry.response.output as unknown as StoredItem[])];
}
