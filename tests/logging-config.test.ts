/**
 * The shared logger: secret values scrubbed from free text, credential paths redacted in every
 * JSON line, and the configured level respected.
 */
import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets } from '../src/logging-config.js';
import type { Json } from './stream/fixtures.js';

describe('redactSecrets', () => {
  it('replaces every occurrence of a secret', () => {
    expect(redactSecrets('key sk-abcd then sk-abcd and sk-abcd.', ['sk-abcd'])).toBe(
      'key [REDACTED] then [REDACTED] and [REDACTED].',
    );
  });

  it('ignores secrets shorter than 4 characters (they would shred ordinary text)', () => {
    expect(redactSecrets('a cab ran abc', ['abc', 'ab', 'a', ''])).toBe('a cab ran abc');
    // Exactly 4 characters is redacted.
    expect(redactSecrets('a cab ran abcd', ['abcd'])).toBe('a cab ran [REDACTED]');
  });

  it('redacts several secrets in one text', () => {
    const out = redactSecrets('first=key-one-1111 second=key-two-2222 first=key-one-1111', [
      'key-one-1111',
      'key-two-2222',
      'absent-key-3333',
    ]);
    expect(out).toBe('first=[REDACTED] second=[REDACTED] first=[REDACTED]');
  });

  it('leaves text without secrets (or with no secrets given) unchanged', () => {
    expect(redactSecrets('nothing to see', ['sk-zzzz'])).toBe('nothing to see');
    expect(redactSecrets('nothing to see', [])).toBe('nothing to see');
  });
});

/** A logger writing into an array of lines. */
function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'debug') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level, destination: sink as unknown as DestinationStream });
  return { logger, lines };
}

const SECRET = 'sk-very-secret-0123456789';

describe('createLogger', () => {
  it.each([
    ['authorization', { authorization: `Bearer ${SECRET}` }, (l: Json) => l.authorization],
    [
      'headers.authorization',
      { headers: { authorization: `Bearer ${SECRET}`, accept: 'json' } },
      (l: Json) => l.headers.authorization,
    ],
    [
      'headers["api-key"]',
      { headers: { 'api-key': SECRET, accept: 'json' } },
      (l: Json) => l.headers['api-key'],
    ],
    [
      'req.headers.authorization',
      { req: { method: 'POST', headers: { authorization: `Bearer ${SECRET}` } } },
      (l: Json) => l.req.headers.authorization,
    ],
    ['apiKey', { apiKey: SECRET }, (l: Json) => l.apiKey],
    ['*.apiKey', { target: { name: 't', apiKey: SECRET } }, (l: Json) => l.target.apiKey],
  ] as const)('redacts %s', (_path, fields, pick) => {
    const { logger, lines } = capture();
    logger.info(fields, 'with a credential');
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line).not.toContain(SECRET);
    expect(line).toContain('[REDACTED]');
    const parsed = JSON.parse(line);
    expect(pick(parsed)).toBe('[REDACTED]');
    expect(parsed.msg).toBe('with a credential');
    expect(parsed.service).toBe('llm-proxy');
  });

  it('keeps the other fields next to a redacted one', () => {
    const { logger, lines } = capture();
    logger.info({ headers: { authorization: SECRET, accept: 'application/json' } }, 'x');
    expect(JSON.parse(lines[0] as string).headers).toEqual({
      authorization: '[REDACTED]',
      accept: 'application/json',
    });
  });

  it('does not redact fields outside the configured paths (control)', () => {
    const { logger, lines } = capture();
    logger.info({ note: 'plain-value-1234' }, 'x');
    expect(lines[0]).toContain('plain-value-1234');
    expect(lines[0]).not.toContain('[REDACTED]');
  });

  it('writes the level as a label and an ISO timestamp', () => {
    const { logger, lines } = capture();
    logger.warn('careful');
    const parsed = JSON.parse(lines[0] as string);
    expect(parsed.level).toBe('warn');
    expect(parsed.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('respects the level', () => {
    const { logger, lines } = capture('warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['w', 'e']);
    expect(logger.level).toBe('warn');

    const verbose = capture('debug');
    verbose.logger.debug('d');
    verbose.logger.info('i');
    expect(verbose.lines.map((l) => JSON.parse(l).level)).toEqual(['debug', 'info']);
  });
});
