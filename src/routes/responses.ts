/**
 * `POST /v1/responses` (and `POST /response`, the original task list's name for it).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnsupportedParameterError } from '../errors.js';
import { responsesRequestSchema } from '../http/request-schema.js';
import type { LlmProxy } from '../services/llm-proxy.js';
import type { ResponsesRequest } from '../types.js';
import { unknownFields } from '../utils/request-formatter.js';

export function registerResponsesRoutes(app: FastifyInstance, proxy: LlmProxy): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body as ResponsesRequest;
    const ignored = unknownFields(body);
    if (ignored.length > 0) request.log.debug({ ignored }, 'ignored request fields not in the spec');
    request.proxyLog.model = body.model ?? null;
    request.proxyLog.stream = body.stream === true;
    if (body.stream === true) {
      throw new UnsupportedParameterError(
        'stream',
        'stream: true is not supported yet.',
        'unsupported_value',
      );
    }
    const call = proxy.prepare(body, false);
    request.proxyLog.call = call.info;
    const abort = abortOnClientClose(reply);
    const response = await proxy.respond(call, abort.signal);
    request.proxyLog.usage = response.usage;
    return reply.type('application/json').send(response);
  };

  const options = { schema: { body: responsesRequestSchema } };
  app.post('/v1/responses', options, handler);
  app.post('/response', options, handler);
}

/** Aborts the upstream call when the client goes away before the reply is sent. */
function abortOnClientClose(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}
