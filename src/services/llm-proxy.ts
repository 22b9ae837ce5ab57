/**
 * The proxy service: choose the target for a request, translate it, call the upstream, and
 * translate the reply. HTTP concerns (parsing, status codes, SSE framing) stay in the routes.
 */
import type { Config } from '../config.js';
import { UpstreamProtocolError } from '../errors.js';
import type { Logger } from '../logging-config.js';
import type { ChatCompletion, ChatRequest, ResponsesRequest } from '../types.js';
import { formatChatRequest, wantsLogprobs } from '../utils/request-formatter.js';
import {
  createResponseContext,
  type ResponseContext,
  type ResponseObject,
} from '../utils/response-envelope.js';
import { ChatReplyShapeError, parseChatCompletion } from '../utils/response-parser.js';
import { TargetRouter } from './target-router.js';
import { UpstreamClient, type UpstreamReply } from './upstream-client.js';

/** What one proxied call produced, for the route's log line. */
export interface CallInfo {
  target: string;
  upstreamStatus: number | null;
  upstreamMs: number | null;
}

export interface PreparedCall {
  ctx: ResponseContext;
  chat: ChatRequest;
  client: UpstreamClient;
  info: CallInfo;
  logprobs: boolean;
}

export class LlmProxy {
  private readonly router: TargetRouter;
  private readonly clients: Map<string, UpstreamClient>;

  constructor(
    config: Config,
    private readonly logger: Logger,
  ) {
    this.router = new TargetRouter(config.targets);
    this.clients = new Map(config.targets.map((t) => [t.name, new UpstreamClient(t)]));
  }

  /** Routes and translates a request; throws a 4xx ProxyError for anything it cannot send. */
  prepare(req: ResponsesRequest, stream: boolean): PreparedCall {
    const route = this.router.route(req.model ?? '');
    const target = route.target;
    const chat = formatChatRequest(
      req,
      {
        upstreamModel: route.upstreamModel,
        maxTokensField: target.maxTokensField,
        reasoningField: 'reasoning_content',
      },
      stream,
    );
    const client = this.clients.get(target.name) as UpstreamClient;
    return {
      ctx: createResponseContext(req),
      chat,
      client,
      info: { target: target.name, upstreamStatus: null, upstreamMs: null },
      logprobs: wantsLogprobs(req),
    };
  }

  /** Sends the chat request; resolves when the upstream answered 2xx headers. */
  async send(call: PreparedCall, signal: AbortSignal): Promise<UpstreamReply> {
    const started = performance.now();
    this.logger.debug({ target: call.info.target, payload: call.chat }, 'upstream request');
    try {
      const reply = await call.client.post(JSON.stringify(call.chat), call.chat.stream === true, signal);
      call.info.upstreamStatus = reply.status;
      return reply;
    } catch (err) {
      const status = (err as { upstreamStatus?: number }).upstreamStatus;
      if (typeof status === 'number') call.info.upstreamStatus = status;
      throw err;
    } finally {
      call.info.upstreamMs = performance.now() - started;
    }
  }

  /** The whole non-streaming exchange: Responses request in, Response object out. */
  async respond(call: PreparedCall, signal: AbortSignal): Promise<ResponseObject> {
    const started = performance.now();
    const reply = await this.send(call, signal);
    const body = await call.client.readJson(reply);
    call.info.upstreamMs = performance.now() - started;
    this.logger.debug({ target: call.info.target, payload: body }, 'upstream reply');
    try {
      return parseChatCompletion(body as ChatCompletion, call.ctx, { logprobs: call.logprobs });
    } catch (err) {
      if (err instanceof ChatReplyShapeError || (err as Error).name === 'AssemblyError') {
        throw new UpstreamProtocolError(call.info.target, (err as Error).message);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
