/**
 * The bearer-key check on its own: what counts as a bearer token, and ApiKeyCheck's verdicts
 * (missing, wrong, right among several, disabled without keys). tests/reliability/auth.test.ts
 * covers the same over real HTTP.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ProxyError } from '../../src/errors.js';
import { ApiKeyCheck, bearerToken, InvalidApiKeyError } from '../../src/http/auth.js';

const KEY_1 = 'proxy-key-one-1111aaaa';
const KEY_2 = 'proxy-key-two-2222bbbb';

function req(authorization?: string | string[]): IncomingHttpHeaders {
  return (authorization === undefined ? {} : { authorization }) as IncomingHttpHeaders;
}

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['BeArEr abc', 'abc'],
    ['Bearer    abc', 'abc'],
    ['Bearer\tabc', 'abc'],
    ['Bearer abc   ', 'abc'],
    [`Bearer ${KEY_1}`, KEY_1],
  ])('%j -> %j', (header, token) => {
    expect(bearerToken(req(header))).toBe(token);
  });

  it.each([
    ['no header', undefined],
    ['empty', ''],
    ['scheme only', 'Bearer'],
    ['scheme and a space', 'Bearer '],
    ['another scheme', 'Basic abc'],
    ['no scheme', 'abc'],
    ['a leading space', ' Bearer abc'],
    ['two tokens', 'Bearer abc def'],
    ['scheme glued to the token', 'Bearerabc'],
    ['an array header', ['Bearer abc']],
  ])('%s -> null', (_name, header) => {
    expect(bearerToken(req(header))).toBeNull();
  });
});

function verdict(check: ApiKeyCheck, authorization?: string): InvalidApiKeyError | 'ok' {
  try {
    check.verify(req(authorization));
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidApiKeyError);
    return err as InvalidApiKeyError;
  }
}

describe('ApiKeyCheck', () => {
  const check = new ApiKeyCheck([KEY_1, KEY_2]);

  it('is enabled with keys, disabled without', () => {
    expect(check.enabled).toBe(true);
    expect(new ApiKeyCheck([KEY_1]).enabled).toBe(true);
    expect(new ApiKeyCheck([]).enabled).toBe(false);
  });

  it('a missing header: 401 invalid_api_key asking for a bearer key', () => {
    const err = verdict(check);
    expect(err).not.toBe('ok');
    const e = err as InvalidApiKeyError;
    expect(e).toBeInstanceOf(ProxyError);
    expect(e.status).toBe(401);
    expect(e.type).toBe('invalid_request_error');
    expect(e.code).toBe('invalid_api_key');
    expect(e.param).toBeNull();
    expect(e.headers).toEqual({ 'www-authenticate': 'Bearer' });
    expect(e.message).toBe('Missing API key: send it as "Authorization: Bearer <key>".');
  });

  it('a wrong scheme or an empty bearer counts as missing', () => {
    for (const header of [`Basic ${KEY_1}`, KEY_1, 'Bearer', 'Bearer ', '']) {
      const e = verdict(check, header) as InvalidApiKeyError;
      expect(e, header).not.toBe('ok');
      expect(e.message, header).toMatch(/^Missing API key/);
    }
  });

  it('a wrong key: 401 "Incorrect API key provided." without the key', () => {
    for (const header of [
      'Bearer wrong-key-9999cccc',
      `Bearer ${KEY_1}x`,
      `Bearer ${KEY_1.slice(0, -1)}`,
      `Bearer ${KEY_1.toUpperCase()}`,
      'Bearer x',
    ]) {
      const e = verdict(check, header) as InvalidApiKeyError;
      expect(e, header).not.toBe('ok');
      expect(e.status).toBe(401);
      expect(e.code).toBe('invalid_api_key');
      expect(e.message).toBe('Incorrect API key provided.');
      expect(e.message).not.toContain(KEY_1);
    }
  });

  it('the right key among several passes, whatever the scheme case and spacing', () => {
    for (const header of [`Bearer ${KEY_1}`, `Bearer ${KEY_2}`, `bearer ${KEY_2}`, `BEARER   ${KEY_1}  `]) {
      expect(verdict(check, header), header).toBe('ok');
    }
  });

  it('a single-key check accepts only that key', () => {
    const one = new ApiKeyCheck([KEY_2]);
    expect(verdict(one, `Bearer ${KEY_2}`)).toBe('ok');
    expect(verdict(one, `Bearer ${KEY_1}`)).not.toBe('ok');
  });

  it('with no keys, verify rejects everything (callers check `enabled` first)', () => {
    const none = new ApiKeyCheck([]);
    expect(none.enabled).toBe(false);
    expect(verdict(none, `Bearer ${KEY_1}`)).not.toBe('ok');
  });
});
