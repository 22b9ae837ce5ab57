/**
 * What happens to an error thrown while serving a request, for every route: it becomes a
 * ProxyError (errors.ts maps it), is recorded on the request's log line, and is logged with the
 * detail an operator needs (a proxy bug gets its stack, upstream trouble its cause), never in the
 * reply. The routes then write `toErrorBody(error)` with `error.status`.
 */
import { isAbortError, type ProxyError, toProxyError } from '../errors.js';
import type { ProxyLog } from './request-log.js';

export interface ErrorLog {
  debug(msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The error to send, or null when the client is gone and the error is only the aborted call. */
export function reportError(
  err: unknown,
  request: { id: string; log: ErrorLog; proxyLog: ProxyLog },
  clientGone: boolean,
): ProxyError | null {
  if (isAbortError(err) && clientGone) {
    // The client went away and the route aborted the upstream call: not a failure, nothing to send.
    request.log.debug('client closed the connection before the reply');
    return null;
  }
  const error = toProxyError(err, request.id);
  request.proxyLog.error = error;
  if (error.status === 500) request.log.error({ err }, 'request failed');
  else if (error.status >= 500) request.log.warn({ cause: describeCause(err) }, error.message);
  return error;
}

function describeCause(err: unknown): string | null {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? (cause.code ?? cause.message ?? String(cause)) : null;
}
