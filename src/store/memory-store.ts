/**
 * In-process store for tests and ephemeral use: bounded by entry count and bytes, least recently
 * used first out, entries expire after the TTL. Nothing survives a restart.
 */
import {
  encodeEntry,
  itemsOf,
  type ResponseStore,
  type StoredItem,
  type StoredResponse,
} from './response-store.js';

export interface MemoryStoreOptions {
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
  maxResponseBytes: number;
}

interface Slot {
  json: string;
  bytes: number;
  expiresAt: number;
  itemIds: string[];
}

export class MemoryStore implements ResponseStore {
  readonly kind = 'memory';
  /** Map order is recency order: the first key is the least recently used. */
  private readonly slots = new Map<string, Slot>();
  /**
   * Item id -> the responses that hold it, oldest write first. A continued conversation stores the
   * previous turn's items again under the new response, so one item id can have several holders;
   * it stays findable while any of them lives.
   */
  private readonly items = new Map<string, Map<string, StoredItem>>();
  private bytes = 0;

  constructor(
    private readonly options: MemoryStoreOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async get(id: string): Promise<StoredResponse | null> {
    const slot = this.live(id);
    if (!slot) return null;
    this.slots.delete(id);
    this.slots.set(id, slot);
    return JSON.parse(slot.json) as StoredResponse;
  }

  async put(entry: StoredResponse): Promise<void> {
    const json = encodeEntry(entry, this.options.maxResponseBytes);
    const id = entry.response.id;
    this.remove(id);
    const all = itemsOf(entry);
    const slot: Slot = {
      json,
      bytes: Buffer.byteLength(json),
      expiresAt: this.now() + this.options.ttlMs,
      itemIds: all.map((i) => i.id),
    };
    this.slots.set(id, slot);
    this.bytes += slot.bytes;
    for (const item of all) {
      const holders = this.items.get(item.id) ?? new Map<string, StoredItem>();
      holders.set(id, structuredClone(item));
      this.items.set(item.id, holders);
    }
    this.evict(id);
  }

  async delete(id: string): Promise<boolean> {
    const existed = this.live(id) !== null;
    this.remove(id);
    return existed;
  }

  async getItem(itemId: string): Promise<StoredItem | null> {
    const holders = this.items.get(itemId);
    if (!holders) return null;
    // The most recent write wins, as in the other backends; `live` may drop expired holders.
    for (const [responseId, item] of [...holders].reverse()) {
      if (this.live(responseId)) return structuredClone(item);
    }
    return null;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.slots.clear();
    this.items.clear();
    this.bytes = 0;
  }

  /** The slot if present and not expired (an expired one is dropped). */
  private live(id: string): Slot | null {
    const slot = this.slots.get(id);
    if (!slot) return null;
    if (slot.expiresAt <= this.now()) {
      this.remove(id);
      return null;
    }
    return slot;
  }

  private remove(id: string): void {
    const slot = this.slots.get(id);
    if (!slot) return;
    this.slots.delete(id);
    this.bytes -= slot.bytes;
    for (const itemId of slot.itemIds) {
      const holders = this.items.get(itemId);
      holders?.delete(id);
      if (holders?.size === 0) this.items.delete(itemId);
    }
  }

  /** Drops least recently used entries until both bounds hold (never the one just written). */
  private evict(keep: string): void {
    for (const id of this.slots.keys()) {
      if (this.slots.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) return;
      if (id !== keep) this.remove(id);
    }
  }
}
