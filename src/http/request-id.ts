/**
 * Request ids: the client's `X-Request-Id` when it is a sane token, else a fresh `req_…` id. Every
 * reply carries it back, and every log line of the request names it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { newId } from '../utils/ids.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId('req');
}
