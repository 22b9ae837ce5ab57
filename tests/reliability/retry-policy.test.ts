/**
 * The retry policy on its own: which failures are retried (`isRetryable`), how long to wait
 * (`retryDelay`: exponential backoff with full jitter, Retry-After within `max_delay`), how a
 * Retry-After header is read (`parseRetryAfter`), and how transport errors are classified.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, type TargetConfig } from '../../src/config.js';
import {
  InvalidRequestError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../../src/errors.js';
import { isRetryable, parseRetryAfter, retryDelay } from '../../src/services/llm-proxy.js';
import { UpstreamClient } from '../../src/services/upstream-client.js';

function target(retries = 'retries = { max = 3, base_delay = "100ms", max_delay = "2s" }'): TargetConfig {
  const config = parseConfig(
    `[targets.t]\nbase_url = "http://127.0.0.1:9/v1"\n${retries}\n`,
    'test.toml',
    {},
  );
  return config.targets[0] as TargetConfig;
}

const http = (status: number, retryAfter?: string) =>
  new UpstreamHttpError(status, 't', 'boom', {
    headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
  });

describe('retryDelay', () => {
  const t = target();
  const unreachable = new UpstreamUnreachableError('t', 'connection refused');

  it('full jitter: a random delay in [0, min(max_delay, base_delay * 2^attempt))', () => {
    const low = () => 0;
    const high = () => 0.999999;
    const half = () => 0.5;
    expect(retryDelay(0, t, unreachable, low)).toBe(0);
    expect(retryDelay(0, t, unreachable, high)).toBe(99);
    expect(retryDelay(1, t, unreachable, high)).toBe(199);
    expect(retryDelay(3, t, unreachable, high)).toBe(799);
    expect(retryDelay(2, t, unreachable, half)).toBe(200);
    // Capped by max_delay from attempt 5 on (100 * 2^5 = 3200 > 2000).
    expect(retryDelay(5, t, unreachable, high)).toBe(1999);
    expect(retryDelay(9, t, unreachable, high)).toBe(1999);
    expect(retryDelay(9, t, unreachable, half)).toBe(1000);
  });

  it('stays within the bounds for any random value (Math.random by default)', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const cap = Math.min(2000, 100 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = retryDelay(attempt, t, http(503)) as number;
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(cap);
      }
    }
  });

  it('a Retry-After within max_delay is used as it is, whatever the jitter', () => {
    expect(retryDelay(0, t, http(429, '1'), () => 0)).toBe(1000);
    expect(retryDelay(2, t, http(503, '2'), () => 0.9)).toBe(2000);
    expect(retryDelay(0, t, http(429, '0'), () => 0.9)).toBe(0);
    const now = Date.now();
    const inOneSecond = new Date(now + 1500).toUTCString();
    const d = retryDelay(0, t, http(429, inOneSecond), () => 0) as number;
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThanOrEqual(1500);
  });

  it('a Retry-After longer than max_delay ends the retries (null)', () => {
    expect(retryDelay(0, t, http(429, '3'), () => 0)).toBeNull();
    expect(retryDelay(0, t, http(429, '30'), () => 0)).toBeNull();
    expect(retryDelay(0, t, http(429, new Date(Date.now() + 60_000).toUTCString()))).toBeNull();
  });

  it('a junk Retry-After falls back to the backoff', () => {
    expect(retryDelay(1, t, http(429, 'soon'), () => 0.5)).toBe(100);
    expect(retryDelay(1, t, http(503, ''), () => 0.5)).toBe(100);
  });

  it('base_delay = max_delay = 0 retries at once', () => {
    const zero = target('retries = { max = 1, base_delay = "off", max_delay = "off" }');
    expect(retryDelay(0, zero, http(503), () => 0.9)).toBe(0);
    expect(retryDelay(0, zero, http(429, '1'))).toBeNull();
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter(' 2 ', now)).toBe(2000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('120', now)).toBe(120_000);
  });

  it('reads an HTTP date (IMF-fixdate, RFC 850, asctime); a past date is 0', () => {
    expect(parseRetryAfter('Tue, 01 Jan 2030 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Tuesday, 01-Jan-30 12:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Tue Jan  1 12:00:04 2030', now)).toBe(4000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 12:00:00 GMT', now)).toBe(0);
  });

  it('junk is null', () => {
    for (const junk of [
      undefined,
      '',
      '   ',
      'soon',
      'abc',
      '1e3',
      '0x10',
      '12abc',
      'Infinity',
      'NaN',
      '-1',
      'abc 2024',
    ]) {
      expect(parseRetryAfter(junk, now), String(junk)).toBeNull();
    }
  });
});

describe('isRetryable', () => {
  it('connect failures and 408/429/500/502/503/504 are retried', () => {
    expect(isRetryable(new UpstreamUnreachableError('t', 'connection refused'))).toBe(true);
    expect(isRetryable(new UpstreamTimeoutError('t', 'connect'))).toBe(true);
    for (const status of [408, 429, 500, 502, 503, 504])
      expect(isRetryable(http(status)), String(status)).toBe(true);
  });

  it('request errors, other statuses, later timeouts, protocol errors and aborts are not', () => {
    for (const status of [400, 401, 403, 404, 409, 413, 422, 501, 505]) {
      expect(isRetryable(http(status)), String(status)).toBe(false);
    }
    for (const phase of ['waiting for the first byte', 'idle between chunks', 'total']) {
      expect(isRetryable(new UpstreamTimeoutError('t', phase)), phase).toBe(false);
    }
    expect(isRetryable(new UpstreamProtocolError('t', 'not JSON'))).toBe(false);
    expect(isRetryable(new InvalidRequestError('bad', 'input'))).toBe(false);
    expect(isRetryable(new DOMException('aborted', 'AbortError'))).toBe(false);
    expect(isRetryable(new Error('bug'))).toBe(false);
    expect(isRetryable(null)).toBe(false);
  });
});

describe('UpstreamClient.transportError', () => {
  const client = new UpstreamClient(target());
  afterAll(() => client.close());

  const cases: Array<[string, unknown, new (...a: never[]) => Error, Record<string, unknown>]> = [
    [
      'connect timeout',
      { code: 'UND_ERR_CONNECT_TIMEOUT' },
      UpstreamTimeoutError,
      { phase: 'connect', status: 504 },
    ],
    [
      'refused',
      { code: 'ECONNREFUSED' },
      UpstreamUnreachableError,
      { message: expect.stringContaining('refused') },
    ],
    ['refused (as a cause)', { cause: { code: 'ECONNREFUSED' } }, UpstreamUnreachableError, { status: 502 }],
    [
      'DNS',
      { code: 'ENOTFOUND' },
      UpstreamUnreachableError,
      { message: expect.stringContaining('host name') },
    ],
    ['reset', { code: 'ECONNRESET' }, UpstreamUnreachableError, { code: 'upstream_unreachable' }],
    ['socket', { code: 'UND_ERR_SOCKET' }, UpstreamUnreachableError, { code: 'upstream_unreachable' }],
    [
      'TLS',
      { code: 'CERT_HAS_EXPIRED' },
      UpstreamUnreachableError,
      { message: expect.stringContaining('TLS') },
    ],
    ['unknown', new Error('weird'), UpstreamUnreachableError, { message: expect.stringContaining('weird') }],
  ];
  it.each(cases)('%s', (_name, err, cls, fields) => {
    const mapped = client.transportError(err);
    expect(mapped).toBeInstanceOf(cls);
    expect(mapped).toMatchObject({ target: 't', ...fields });
  });

  it('an abort stays an abort', () => {
    const abort = new DOMException('aborted', 'AbortError');
    expect(client.transportError(abort)).toBe(abort);
    const undiciAbort = Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' });
    expect(client.transportError(undiciAbort)).toBe(undiciAbort);
  });
});
