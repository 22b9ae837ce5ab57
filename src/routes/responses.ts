/**
 * `POST /v1/responses` (and `POST /response`, the original task list's name for it): JSON or,
 * with `stream: true`, Server-Sent Events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { responsesRequestSchema } from '../http/request-schema.js';
import type { LlmProxy, PreparedCall } from '../services/llm-proxy.js';
import { relayStream } from '../stream/sse-relay.js';
import { StreamTranslator } from '../stream/stream-translator.js';
import type { ResponsesRequest } from '../types.js';
import { unknownFields } from '../utils/request-formatter.js';

export interface ResponsesRouteOptions {
  streamKeepAliveMs: number;
  /** Writes the per-request log line for streams, whose replies bypass Fastify's hooks. */
  logStream(request: FastifyRequest, status: number): void;
}

export function registerResponsesRoutes(
  app: FastifyInstance,
  proxy: LlmProxy,
  options: ResponsesRouteOptions,
): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body as ResponsesRequest;
    const ignored = unknownFields(body);
    if (ignored.length > 0) request.log.debug({ ignored }, 'ignored request fields not in the spec');
    const stream = body.stream === true;
    request.proxyLog.model = body.model ?? null;
    request.proxyLog.stream = stream;

    const call = proxy.prepare(body, stream);
    request.proxyLog.call = call.info;
    const abort = abortOnClientClose(reply);
    try {
      if (stream) return await streamResponse(request, reply, call, abort);
      const response = await proxy.respond(call, abort.signal);
      request.proxyLog.usage = response.usage;
      return reply.type('application/json').send(response);
    } catch (err) {
      // The client left before the upstream answered: nobody to reply to, and not a proxy failure.
      if (!abort.signal.aborted) throw err;
      request.proxyLog.outcome = 'client_closed';
      reply.hijack();
      if (!reply.raw.destroyed) reply.raw.destroy();
      options.logStream(request, CLIENT_CLOSED);
      return reply;
    }
  };

  /**
   * Connects to the upstream BEFORE answering: an upstream error still gets a real HTTP status and
   * a JSON envelope. Only after a 2xx does the reply become an event stream.
   */
  const streamResponse = async (
    request: FastifyRequest,
    reply: FastifyReply,
    call: PreparedCall,
    abort: AbortController,
  ) => {
    const upstream = await proxy.send(call, abort.signal);
    reply.hijack();
    const translator = new StreamTranslator(call.ctx, { logprobs: call.logprobs });
    const outcome = await relayStream(reply.raw, upstream, translator, call.client, abort, {
      keepAliveMs: options.streamKeepAliveMs,
      headers: { 'x-request-id': request.id },
    });
    request.proxyLog.usage = translator.final?.usage ?? null;
    request.proxyLog.outcome = outcome;
    options.logStream(request, 200);
  };

  const routeOptions = { schema: { body: responsesRequestSchema } };
  app.post('/v1/responses', routeOptions, handler);
  app.post('/response', routeOptions, handler);
}

/** The status logged for a request whose client went away first (nginx's convention). */
const CLIENT_CLOSED = 499;

/** Aborts the upstream call as soon as the client goes away before its reply is complete. */
function abortOnClientClose(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}
