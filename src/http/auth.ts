/**
 * Optional proxy keys: when `[auth] api_keys_env` names keys, every `/v1/*` route (and `/response`)
 * needs `Authorization: Bearer <key>`. Keys are compared through SHA-256 digests with
 * timingSafeEqual, so neither the content nor the length of a key leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidApiKeyError } from '../errors.js';

export { InvalidApiKeyError };

/** The bearer token of a request, or null. */
export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const header = headers.authorization;
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

export class ApiKeyCheck {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Throws InvalidApiKeyError unless the request carries one of the keys. */
  verify(headers: IncomingHttpHeaders): void {
    const token = bearerToken(headers);
    if (token === null) {
      throw new InvalidApiKeyError('Missing API key: send it as "Authorization: Bearer <key>".');
    }
    const given = digest(token);
    let ok = false;
    // Compare against every key (no early exit), so timing does not tell which one matched.
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new InvalidApiKeyError('Incorrect API key provided.');
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
