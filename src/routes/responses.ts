/**
 * `POST /v1/responses` (and `POST /response`, the original task list's name for it): JSON or,
 * with `stream: true`, Server-Sent Events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toProxyError } from '../errors.js';
import { validateRequestBody } from '../http/request-validator.js';
import type { LlmProxy, PreparedCall } from '../services/llm-proxy.js';
import { type RelayOutcome, relayStream } from '../stream/sse-relay.js';
import { StreamTranslator } from '../stream/stream-translator.js';
import type { ResponsesRequest } from '../types.js';
import { unknownFields } from '../utils/request-formatter.js';

export interface ResponsesRouteOptions {
  streamKeepAliveMs: number;
  /** The client's own key, for targets that forward it upstream. */
  clientKey(request: FastifyRequest): string | null;
  /** Writes the per-request log line for streams, whose replies bypass Fastify's hooks. */
  logStream(request: FastifyRequest, status: number): void;
}

export function registerResponsesRoutes(
  app: FastifyInstance,
  proxy: LlmProxy,
  options: ResponsesRouteOptions,
): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    validateRequestBody(request.body);
    const body = request.body as ResponsesRequest;
    const ignored = unknownFields(body);
    if (ignored.length > 0) request.log.debug({ ignored }, 'ignored request fields not in the spec');
    const stream = body.stream === true;
    request.proxyLog.model = body.model ?? null;
    request.proxyLog.stream = stream;

    const call = await proxy.prepare(body, stream, options.clientKey(request), request.log);
    request.proxyLog.call = call.info;
    const abort = abortOnClientClose(reply);
    if (stream) return streamResponse(request, reply, call, abort);

    const response = await proxy.respond(call, abort.signal);
    request.proxyLog.usage = response.usage;
    // Stored before the reply: a client that continues at once always finds it.
    await proxy.save(call, response);
    return reply.type('application/json').send(response);
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
    const translator = new StreamTranslator(call.ctx, {
      logprobs: call.logprobs,
      tools: call.tools,
      sealReasoning: call.sealReasoning,
    });
    const record = (outcome: RelayOutcome) => {
      request.proxyLog.usage = translator.final?.usage ?? null;
      request.proxyLog.outcome = outcome;
    };
    // Recorded before the response ends: Fastify's onResponse hook (which writes the log line)
    // runs on the hijacked response's `finish`, while the relay may still drain the upstream.
    const outcome = await relayStream(reply.raw, upstream, translator, call.client, abort, {
      keepAliveMs: options.streamKeepAliveMs,
      headers: { 'x-request-id': request.id },
      onEnd: record,
      onFirstOutput: () => {
        request.proxyLog.firstTokenMs = performance.now() - request.proxyLog.startedAt;
      },
      beforeFinal: async (final) => {
        try {
          await proxy.save(call, final);
          return null;
        } catch (err) {
          const error = toProxyError(err, request.id);
          request.proxyLog.error = error;
          request.log.warn({ err: error.message }, 'could not store the streamed response');
          return { type: error.type, code: error.code ?? 'store_unavailable', message: error.message };
        }
      },
    });
    record(outcome);
    options.logStream(request, outcome === 'client_closed' ? 499 : 200);
  };

  app.post('/v1/responses', handler);
  app.post('/response', handler);
}

/** Aborts the upstream call as soon as the client goes away before its reply is complete. */
function abortOnClientClose(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}
