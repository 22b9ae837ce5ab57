/**
 * The proxy service: choose the target for a request, translate it for that target's dialect,
 * call the upstream (with retries, then fallback targets, only before any byte reached the
 * client), and translate the reply. HTTP concerns (status codes, SSE framing) stay in the routes.
 */
import type { Config, TargetConfig } from '../config.js';
import {
  ProxyError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../errors.js';
import type { Logger } from '../logging-config.js';
import type { Metrics, UpstreamErrorKind } from '../metrics.js';
import type { ChatCompletion, ChatRequest, ResponseInput, ResponsesRequest } from '../types.js';
import { ReasoningSealer } from '../utils/reasoning-sealer.js';
import { assertSupported, formatChatRequest, wantsLogprobs } from '../utils/request-formatter.js';
import {
  createResponseContext,
  type ResponseContext,
  type ResponseObject,
} from '../utils/response-envelope.js';
import { ChatReplyShapeError, parseChatCompletion } from '../utils/response-parser.js';
import { ToolCodec } from '../utils/tool-codec.js';
import { type Cancellation, sleepUnless } from './cancellation.js';
import { type Context, isItemReference, type ResponseHistory } from './response-history.js';
import { type Route, TargetRouter } from './target-router.js';
import { UpstreamClient, type UpstreamReply } from './upstream-client.js';

/** What one proxied call produced, for the route's log line. */
export interface CallInfo {
  target: string;
  upstreamStatus: number | null;
  upstreamMs: number | null;
  attempts: number;
}

export interface PreparedCall {
  req: ResponsesRequest;
  /** The full input with ids (previous chain and references resolved), when the call is stored. */
  context: Context | null;
  ctx: ResponseContext;
  route: Route;
  chat: ChatRequest;
  stream: boolean;
  info: CallInfo;
  logprobs: boolean;
  /** The client's bearer token, for targets that forward it. */
  clientKey: string | null;
  /** The request's tools as chat functions, to map calls back. */
  tools: ToolCodec;
  /** Seals reasoning text into `encrypted_content` when the client asked for it. */
  sealReasoning: ((text: string) => string) | null;
  /** The client the successful attempt used (set by `send`). */
  client: UpstreamClient;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export class LlmProxy {
  private readonly router: TargetRouter;
  private readonly clients: Map<string, UpstreamClient>;
  private readonly sealer: ReasoningSealer;
  /** True until the first warning that sealed reasoning uses a random per-process key. */
  private ephemeralSealKey: boolean;

  constructor(
    config: Config,
    private readonly logger: Logger,
    private readonly metrics: Metrics | null = null,
    private readonly history: ResponseHistory | null = null,
  ) {
    this.sealer = new ReasoningSealer(config.reasoningKey);
    this.ephemeralSealKey = config.reasoningKey === null;
    this.router = new TargetRouter(config.targets, config.defaultTarget);
    this.clients = new Map(config.targets.map((t) => [t.name, new UpstreamClient(t)]));
  }

  get models(): Array<{ id: string; target: string }> {
    return this.router.listModels();
  }

  /**
   * Routes and translates a request; throws a 4xx ProxyError for anything it cannot send. With a
   * store, the input becomes the full context: the previous response's chain, then this input with
   * `item_reference`s resolved (instructions are never inherited).
   */
  async prepare(
    req: ResponsesRequest,
    stream: boolean,
    clientKey: string | null = null,
    /** The request's logger (with its id), for warnings about this request. */
    log: { warn(obj: object, msg: string): void } = this.logger,
  ): Promise<PreparedCall> {
    const route = this.router.route(req.model ?? '');
    assertSupported(req);
    const stateful =
      this.history !== null &&
      (req.store !== false || typeof req.previous_response_id === 'string' || hasReference(req.input));
    const context = stateful ? await (this.history as ResponseHistory).context(req) : null;
    const effective = context === null ? req : withContext(req, context);
    const tools = ToolCodec.of(req.tools, route.target.hostedTools);
    if (tools.dropped.length > 0) {
      log.warn(
        { dropped: tools.dropped, target: route.target.name },
        'dropped hosted tools the upstream cannot run',
      );
    }
    const sealReasoning = wantsSealedReasoning(req) ? (text: string) => this.sealer.seal(text) : null;
    if (sealReasoning && this.ephemeralSealKey) {
      this.ephemeralSealKey = false;
      this.logger.warn(
        'reasoning encrypted_content is sealed with a random per-process key: it does not survive a restart or span replicas; set [auth] reasoning_key_env',
      );
    }
    return {
      req: effective,
      context: req.store === false ? null : context,
      ctx: createResponseContext(req, Date.now(), this.history !== null),
      route,
      chat: ownInputErrors(() => this.translate(effective, route, stream, tools), context?.inherited ?? 0),
      tools,
      sealReasoning,
      stream,
      info: { target: route.target.name, upstreamStatus: null, upstreamMs: null, attempts: 0 },
      logprobs: wantsLogprobs(req),
      clientKey,
      client: this.clientFor(route.target),
    };
  }

  /**
   * Sends the chat request and resolves when an upstream answered 2xx headers. Retryable failures
   * (connect errors, 408/429/5xx) are retried with backoff, then the target's fallbacks are tried
   * in order; a 4xx caused by the request is returned at once.
   */
  async send(call: PreparedCall, cancellation: Cancellation): Promise<UpstreamReply> {
    const started = performance.now();
    const first = call.route.target;
    const chain = first.fallbacks.length === 0 ? [first] : [first, ...this.fallbackTargets(first)];
    let lastError: unknown;
    try {
      for (let i = 0; i < chain.length; i++) {
        const target = chain[i] as TargetConfig;
        if (i > 0) {
          this.metrics?.fallbacks.inc({ from: chain[i - 1]?.name ?? '', to: target.name });
          this.logger.warn({ from: chain[i - 1]?.name, to: target.name }, 'falling back to another target');
        }
        const chat =
          i === 0
            ? call.chat
            : // The tools the request was accepted with (and whose calls `call.tools` maps back):
              // a fallback's own hosted_tools policy must not turn an accepted request into a 400.
              this.translate(
                call.req,
                this.router.routeTo(target, call.route.model),
                call.stream,
                call.tools,
              );
        const client = this.clientFor(target);
        const body = JSON.stringify(chat);
        if (this.logger.isLevelEnabled('debug')) {
          this.logger.debug(
            { target: target.name, payload: JSON.parse(client.redact(body)) },
            'upstream request',
          );
        }
        for (let attempt = 0; ; attempt++) {
          call.info.attempts++;
          call.info.target = target.name;
          try {
            const reply = await client.post(body, call.stream, cancellation, call.clientKey);
            // A failure while the body is read (reset, idle or total timeout, JSON or stream) is an
            // upstream error too: count it where every reader maps it.
            const mapFailure = reply.failure;
            reply.failure = (e: unknown) => {
              const mapped = mapFailure(e);
              this.countError(target.name, mapped);
              return mapped;
            };
            call.info.upstreamStatus = reply.status;
            call.client = client;
            return reply;
          } catch (err) {
            lastError = err;
            if (err instanceof UpstreamHttpError) call.info.upstreamStatus = err.upstreamStatus;
            this.countError(target.name, err);
            if (cancellation.aborted || !isRetryable(err)) throw err;
            const delay = attempt < target.retries.max ? retryDelay(attempt, target, err) : null;
            if (delay === null) break;
            this.metrics?.retries.inc({ target: target.name });
            this.logger.debug({ target: target.name, attempt: attempt + 1, delay }, 'retrying upstream');
            await sleepUnless(delay, cancellation);
          }
        }
      }
      throw lastError;
    } finally {
      call.info.upstreamMs = performance.now() - started;
      this.metrics?.upstreamDuration.observe({ target: call.info.target }, call.info.upstreamMs / 1000);
    }
  }

  /** The whole non-streaming exchange: Responses request in, Response object out. */
  async respond(call: PreparedCall, cancellation: Cancellation): Promise<ResponseObject> {
    const started = performance.now();
    const reply = await this.send(call, cancellation);
    let body: unknown;
    try {
      body = await call.client.readJson(reply);
    } catch (err) {
      // Transport failures are counted by `reply.failure`; a body that is not JSON is counted here.
      if (err instanceof UpstreamProtocolError) this.countError(call.info.target, err);
      throw err;
    }
    call.info.upstreamMs = performance.now() - started;
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug(
        { target: call.info.target, payload: JSON.parse(call.client.redact(JSON.stringify(body))) },
        'upstream reply',
      );
    }
    try {
      return parseChatCompletion(body as ChatCompletion, call.ctx, {
        logprobs: call.logprobs,
        tools: call.tools,
        sealReasoning: call.sealReasoning,
      });
    } catch (err) {
      if (err instanceof ChatReplyShapeError || (err as Error).name === 'AssemblyError') {
        this.countError(call.info.target, new UpstreamProtocolError(call.info.target, ''));
        throw new UpstreamProtocolError(call.info.target, (err as Error).message);
      }
      throw err;
    }
  }

  /**
   * Stores a finished response with its context; resolves once the write is durable, so it runs
   * before the client is answered. `undefined` when there is nothing to store (no store, or the
   * request said `store: false`): the caller then goes on without a turn of the event loop.
   */
  save(call: PreparedCall, response: ResponseObject): Promise<void> | undefined {
    if (!this.stores(call)) return undefined;
    return (this.history as ResponseHistory).save(response, call.context as Context);
  }

  /** Whether `save` will store this call's response (a store is configured, and not `store: false`). */
  stores(call: PreparedCall): boolean {
    return this.history !== null && call.context !== null;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }

  private translate(req: ResponsesRequest, route: Route, stream: boolean, tools: ToolCodec): ChatRequest {
    return formatChatRequest(
      req,
      {
        upstreamModel: route.upstreamModel,
        dialect: route.target.dialect,
        tools,
        decryptReasoning: (blob) => this.sealer.open(blob),
      },
      stream,
    );
  }

  private clientFor(target: TargetConfig): UpstreamClient {
    return this.clients.get(target.name) as UpstreamClient;
  }

  private fallbackTargets(target: TargetConfig): TargetConfig[] {
    return target.fallbacks
      .map((name) => this.router.target(name))
      .filter((t): t is TargetConfig => t !== undefined);
  }

  private countError(target: string, err: unknown): void {
    const kind = errorKind(err);
    if (kind) this.metrics?.upstreamErrors.inc({ target, kind });
  }
}

/** The request as the formatter sees it: the whole context as input, nothing left to resolve. */
function withContext(req: ResponsesRequest, context: Context): ResponsesRequest {
  const { previous_response_id: _resolved, ...rest } = req;
  return { ...rest, input: context.items as unknown as ResponseInput } as ResponsesRequest;
}

function hasReference(input: ResponsesRequest['input']): boolean {
  return Array.isArray(input) && input.some(isItemReference);
}

/**
 * Translates an input whose first `inherited` items came from `previous_response_id`: an error
 * about `input[k]` then names the client's own `input[k - inherited]`, or, for an inherited item,
 * says so with param `input` (the fix is in this request's input, e.g. a missing tool output).
 */
function ownInputErrors<T>(translate: () => T, inherited: number): T {
  try {
    return translate();
  } catch (err) {
    if (inherited === 0 || !(err instanceof ProxyError)) throw err;
    const where = (k: number) =>
      k >= inherited ? `input[${k - inherited}]` : `item ${k} of the previous response's context`;
    const message = err.message.replace(/\binput\[(\d+)\]/g, (_m, k: string) => where(Number(k)));
    let param = err.param;
    const at = param === null ? null : /^input\[(\d+)\]/.exec(param);
    if (param !== null && at) {
      const k = Number(at[1]);
      param = k >= inherited ? `input[${k - inherited}]${param.slice(at[0].length)}` : 'input';
    }
    throw new ProxyError(err.status, err.type, message, { param, code: err.code, headers: err.headers });
  }
}

/** `include: ["reasoning.encrypted_content"]`: reasoning items carry a blob the client sends back. */
function wantsSealedReasoning(req: ResponsesRequest): boolean {
  return Array.isArray(req.include) && req.include.includes('reasoning.encrypted_content');
}

/** Connect failures and 408/429/5xx may succeed on another attempt; a 4xx caused by the request never. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof UpstreamUnreachableError) return true;
  if (err instanceof UpstreamTimeoutError) return err.phase === 'connect';
  if (err instanceof UpstreamHttpError) return RETRYABLE_STATUS.has(err.upstreamStatus);
  return false;
}

/**
 * Exponential backoff with full jitter; an upstream's Retry-After is honoured when it is within
 * `max_delay`, and a longer one ends the retries (the client gets the 429 and its Retry-After).
 */
export function retryDelay(
  attempt: number,
  target: TargetConfig,
  err: unknown,
  random = Math.random,
): number | null {
  const { baseDelayMs, maxDelayMs } = target.retries;
  const retryAfter = err instanceof ProxyError ? parseRetryAfter(err.headers['retry-after']) : null;
  if (retryAfter !== null) return retryAfter <= maxDelayMs ? retryAfter : null;
  return Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
}

/**
 * Retry-After as seconds or an HTTP date, in milliseconds; anything else is null. The date forms
 * (IMF-fixdate, RFC 850, asctime) all start with a day name: V8's lenient Date.parse would
 * otherwise read junk such as "-1" or "abc 2024" as a past date, i.e. "retry now".
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  const text = value?.trim() ?? '';
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!HTTP_DATE_START.test(text)) return null;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

const HTTP_DATE_START = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s/i;

function errorKind(err: unknown): UpstreamErrorKind | null {
  if (err instanceof UpstreamUnreachableError) return 'unreachable';
  if (err instanceof UpstreamTimeoutError) return 'timeout';
  if (err instanceof UpstreamProtocolError) return 'protocol';
  if (err instanceof UpstreamHttpError) {
    if (err.upstreamStatus === 429) return 'http_429';
    if (err.upstreamStatus < 400) return 'protocol'; // a redirect or other non-error, non-2xx answer
    return err.upstreamStatus >= 500 ? 'http_5xx' : 'http_4xx';
  }
  return null;
}
