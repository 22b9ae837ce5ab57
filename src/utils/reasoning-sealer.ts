/**
 * `encrypted_content` for reasoning items, for clients that keep no server state (`store: false`
 * with `include: ["reasoning.encrypted_content"]`, as Codex does): the reasoning text is sealed
 * with AES-256-GCM and read back when the client sends the item on the next turn, so it can be
 * replayed to upstreams that need it (DeepSeek tool-call turns). Blobs from anyone else (OpenAI's
 * own) do not open and are ignored.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'llmproxy.v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class ReasoningSealer {
  private readonly key: Buffer;

  /** `secret`: any string (hashed to a 256-bit key); null = a random key for this process only. */
  constructor(secret: string | null) {
    this.key = secret === null ? randomBytes(32) : createHash('sha256').update(secret).digest();
  }

  seal(text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The text, or null when the blob is not one this key sealed (or was tampered with). */
  open(blob: string): string | null {
    if (!blob.startsWith(PREFIX)) return null;
    const raw = Buffer.from(blob.slice(PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      return null;
    }
  }
}
