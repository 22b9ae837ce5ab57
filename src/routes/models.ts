import type { FastifyInstance } from 'fastify';
import type { LlmProxy } from '../services/llm-proxy.js';

/** `GET /v1/models`: the model names the configuration routes, in OpenAI's list shape. */
export function registerModelRoutes(app: FastifyInstance, proxy: LlmProxy): void {
  const created = Math.floor(Date.now() / 1000);
  app.get('/v1/models', async () => ({
    object: 'list',
    data: proxy.models.map((m) => ({ id: m.id, object: 'model', created, owned_by: m.target })),
  }));
}
