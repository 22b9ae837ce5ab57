import { describe, expect, it } from 'vitest';
import { ReasoningSealer } from '../../src/utils/reasoning-sealer.js';

const TEXT = 'The user wants the weather.\nCall get_weather with {"city":"Paris"} — then answer. 日本語 ✓';

/** Flips one bit of the decoded blob at `offset` (past the prefix) and re-encodes it. */
function tamper(blob: string, offset: number): string {
  const prefix = 'llmproxy.v1.';
  const raw = Buffer.from(blob.slice(prefix.length), 'base64url');
  raw[offset] = (raw[offset] as number) ^ 0x01;
  return prefix + raw.toString('base64url');
}

describe('ReasoningSealer', () => {
  it('opens what it sealed (unicode, empty, large)', () => {
    const sealer = new ReasoningSealer('a shared secret');
    for (const text of [TEXT, '', 'x'.repeat(200_000)]) expect(sealer.open(sealer.seal(text))).toBe(text);
  });

  it('seals to an opaque, prefixed, base64url blob that does not contain the text', () => {
    const blob = new ReasoningSealer('k').seal(TEXT);
    expect(blob).toMatch(/^llmproxy\.v1\.[A-Za-z0-9_-]+$/);
    expect(blob).not.toContain('weather');
    expect(Buffer.from(blob.slice(12), 'base64url').toString('utf8')).not.toContain('weather');
  });

  it('uses a fresh IV per seal: the same text never gives the same blob', () => {
    const sealer = new ReasoningSealer('k');
    expect(sealer.seal(TEXT)).not.toBe(sealer.seal(TEXT));
  });

  it('opens blobs across instances with the same secret (a restart, another replica)', () => {
    expect(new ReasoningSealer('same').open(new ReasoningSealer('same').seal(TEXT))).toBe(TEXT);
  });

  it('returns null for a blob sealed with another key', () => {
    expect(new ReasoningSealer('other').open(new ReasoningSealer('mine').seal(TEXT))).toBeNull();
    // Random per-process keys: two processes never read each other's blobs.
    expect(new ReasoningSealer(null).open(new ReasoningSealer(null).seal(TEXT))).toBeNull();
  });

  it('opens with a random key within the same instance', () => {
    const sealer = new ReasoningSealer(null);
    expect(sealer.open(sealer.seal(TEXT))).toBe(TEXT);
  });

  it.each([
    ['the IV', 0],
    ['the tag', 14],
    ['the ciphertext', 30],
  ])('returns null when %s was tampered with', (_label, offset) => {
    const sealer = new ReasoningSealer('k');
    expect(sealer.open(tamper(sealer.seal(TEXT), offset))).toBeNull();
  });

  it.each([
    ["OpenAI's own encrypted_content", 'gAAAAABpQ2xkZW1vLWJsb2ItZnJvbS1vcGVuYWk9PQ=='],
    ['an empty string', ''],
    ['the prefix alone', 'llmproxy.v1.'],
    ['a blob shorter than IV + tag', `llmproxy.v1.${Buffer.alloc(20).toString('base64url')}`],
    ['another version prefix', 'llmproxy.v2.AAAA'],
    ['not base64url', 'llmproxy.v1.!!!not*base64!!!'],
  ])('returns null for %s', (_label, blob) => {
    expect(new ReasoningSealer('k').open(blob)).toBeNull();
  });

  it('returns null for a truncated blob', () => {
    const sealer = new ReasoningSealer('k');
    const blob = sealer.seal(TEXT);
    expect(sealer.open(blob.slice(0, -4))).toBeNull();
  });
});
