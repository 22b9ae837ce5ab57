import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** /healthz (alive), /readyz (configuration loaded and every dependency reachable), /metrics. */
export function registerHealthRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  readiness: readonly ReadinessCheck[],
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const failures: Record<string, string> = {};
    await Promise.all(
      readiness.map(async (r) => {
        try {
          await r.check();
        } catch (err) {
          failures[r.name] = (err as Error).message;
        }
      }),
    );
    if (Object.keys(failures).length > 0) return reply.code(503).send({ status: 'not_ready', failures });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.contentType).send(await metrics.text());
  });
}
