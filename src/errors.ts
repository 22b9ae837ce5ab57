/**
 * Every failure the proxy reports is one of these classes. Each carries its HTTP status and the
 * OpenAI error envelope fields; `toErrorBody` is the one place that turns any thrown value into
 * `{"error":{"message","type","param","code"}}`, so a new error kind cannot bypass the envelope.
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface ProxyErrorOptions {
  param?: string | null;
  code?: string | null;
  cause?: unknown;
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
}

export class ProxyError extends Error {
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    readonly type: ErrorType | (string & {}),
    message: string,
    options: ProxyErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }
}

/** The request is malformed, has a wrong type, or asks for something the proxy cannot honour. */
export class InvalidRequestError extends ProxyError {
  constructor(message: string, param: string | null, code: string | null = 'invalid_value') {
    super(400, 'invalid_request_error', message, { param, code });
  }
}

/** The body is not JSON (or is empty). */
export class InvalidJsonError extends InvalidRequestError {
  constructor(detail: string) {
    super(`We could not parse the JSON body of your request: ${detail}`, null, 'invalid_json');
  }
}

export class UnsupportedMediaTypeError extends ProxyError {
  constructor() {
    super(415, 'invalid_request_error', 'Content-Type must be application/json.', {
      code: 'unsupported_media_type',
    });
  }
}

/** A request that arrived after shutdown began, on a connection that was still open. */
export class ServerClosingError extends ProxyError {
  constructor() {
    super(503, 'server_error', 'The proxy is shutting down; retry the request.', {
      code: 'server_shutting_down',
    });
  }
}

/** A field the proxy understands but cannot honour without silently changing the result. */
export class UnsupportedParameterError extends ProxyError {
  constructor(param: string, reason: string, code: 'unsupported_parameter' | 'unsupported_value') {
    super(400, 'invalid_request_error', reason, { param, code });
  }
}

export class PayloadTooLargeError extends ProxyError {
  constructor(limitBytes: number) {
    super(413, 'invalid_request_error', `Request body is larger than the limit of ${limitBytes} bytes.`, {
      code: 'request_too_large',
    });
  }
}

export class ModelNotFoundError extends ProxyError {
  constructor(model: string) {
    super(404, 'invalid_request_error', `The model '${model}' is not routed to any configured target.`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
}

export class RouteNotFoundError extends ProxyError {
  constructor(method: string, url: string) {
    super(404, 'invalid_request_error', `No route for ${method} ${url}.`, { code: 'not_found' });
  }
}

/**
 * The upstream answered with an HTTP error; a 4xx keeps its status, message (and type, when it has
 * one). A 5xx, and any other non-2xx answer (a 3xx redirect or 304 the proxy does not follow, whose
 * status would mean something else to the client and may not even carry a body), is a 502.
 */
export class UpstreamHttpError extends ProxyError {
  constructor(
    readonly upstreamStatus: number,
    readonly target: string,
    message: string,
    options: {
      type?: string | null;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
    },
  ) {
    const gateway = upstreamStatus >= 500 || upstreamStatus < 400;
    super(
      gateway ? 502 : upstreamStatus,
      gateway ? 'server_error' : (options.type ?? defaultTypeFor(upstreamStatus)),
      gateway ? `Upstream target '${target}' failed with HTTP ${upstreamStatus}: ${message}` : message,
      {
        param: gateway ? null : (options.param ?? null),
        code: gateway ? 'upstream_error' : (options.code ?? defaultCodeFor(upstreamStatus)),
        headers: options.headers ?? {},
      },
    );
  }
}

export class UpstreamUnreachableError extends ProxyError {
  constructor(
    readonly target: string,
    detail: string,
    cause?: unknown,
  ) {
    super(502, 'server_error', `Upstream target '${target}' is unreachable: ${detail}`, {
      code: 'upstream_unreachable',
      cause,
    });
  }
}

export class UpstreamTimeoutError extends ProxyError {
  constructor(
    readonly target: string,
    /** connect, waiting for the first byte, idle between chunks, or total. */
    readonly phase: string,
    cause?: unknown,
  ) {
    super(504, 'server_error', `Upstream target '${target}' timed out (${phase}).`, {
      code: 'upstream_timeout',
      cause,
    });
  }
}

/** The upstream answered 2xx but with something that is not a Chat Completions reply. */
export class UpstreamProtocolError extends ProxyError {
  constructor(
    readonly target: string,
    detail: string,
  ) {
    super(502, 'server_error', `Upstream target '${target}' sent an invalid reply: ${detail}`, {
      code: 'upstream_error',
    });
  }
}

function defaultTypeFor(status: number): ErrorType {
  if (status === 401 || status === 403) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return 'invalid_request_error';
}

function defaultCodeFor(status: number): string | null {
  if (status === 429) return 'rate_limit_exceeded';
  return null;
}

/** Fastify's own errors (bad JSON, body limit, media type) carry a `code` like FST_ERR_CTP_*. */
interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
}

/**
 * Maps anything thrown while serving a request to a ProxyError. Unknown errors become a 500
 * whose message names the request id but never the internal message or stack.
 */
export function toProxyError(err: unknown, requestId: string): ProxyError {
  if (err instanceof ProxyError) return err;
  const fw = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  switch (fw.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidJsonError(String(fw.message ?? 'invalid JSON'));
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProxyError(
        413,
        'invalid_request_error',
        'Request body is larger than the configured limit.',
        {
          code: 'request_too_large',
        },
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError();
    default:
      break;
  }
  if (typeof fw.statusCode === 'number' && fw.statusCode >= 400 && fw.statusCode < 500) {
    return new ProxyError(fw.statusCode, 'invalid_request_error', String(fw.message ?? 'Bad request'));
  }
  return new ProxyError(500, 'server_error', `The proxy failed while handling request ${requestId}.`, {
    code: 'server_error',
    cause: err,
  });
}

/** An aborted call: our cancellation's DOMException, or undici's own abort error. */
export function isAbortError(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED';
}

export function toErrorBody(err: ProxyError): ErrorBody {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

/** The response store cannot be reached or written: a response that cannot be continued is not sent. */
export class StoreUnavailableError extends ProxyError {
  constructor(detail: string) {
    super(503, 'server_error', `The response store is unavailable: ${detail}`, { code: 'store_unavailable' });
  }
}

/** One stored response (with its context) is larger than `[store] max_response_bytes`. */
export class StoreEntryTooLargeError extends ProxyError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      413,
      'invalid_request_error',
      `The response and its context take ${bytes} bytes, more than the store's limit of ${limit}; ` +
        'send store: false, or shorten the conversation.',
      { param: 'store', code: 'response_too_large_to_store' },
    );
  }
}

export class PreviousResponseNotFoundError extends ProxyError {
  constructor(id: string) {
    super(400, 'invalid_request_error', `Previous response with id '${id}' not found.`, {
      param: 'previous_response_id',
      code: 'previous_response_not_found',
    });
  }
}

export class ResponseNotFoundError extends ProxyError {
  constructor(id: string) {
    super(404, 'invalid_request_error', `No response found with id '${id}'.`, { code: 'not_found' });
  }
}

/** Missing or wrong proxy key (when `[auth] api_keys_env` is set). */
export class InvalidApiKeyError extends ProxyError {
  constructor(message: string) {
    super(401, 'invalid_request_error', message, {
      code: 'invalid_api_key',
      headers: { 'www-authenticate': 'Bearer' },
    });
  }
}

/** Request bodies: a Content-Encoding the proxy cannot undo, or bytes that are not that coding. */
export class UnsupportedEncodingError extends ProxyError {
  constructor(encoding: string) {
    super(
      415,
      'invalid_request_error',
      `Content-Encoding '${encoding}' is not supported; use gzip, deflate, br, zstd or none.`,
      { code: 'unsupported_content_encoding' },
    );
  }
}

export class InvalidEncodingError extends ProxyError {
  constructor(encoding: string, detail: string) {
    super(400, 'invalid_request_error', `The request body is not valid ${encoding} data: ${detail}`, {
      code: 'invalid_content_encoding',
    });
  }
}
