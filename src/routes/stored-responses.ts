/**
 * Stored responses: `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}`,
 * `GET /v1/responses/{id}/input_items` (paginated), `POST /v1/responses/{id}/cancel`.
 */
import type { FastifyInstance } from 'fastify';
import { InvalidRequestError, ResponseNotFoundError } from '../errors.js';
import type { ResponseStore, StoredItem } from '../store/response-store.js';

interface IdParams {
  id: string;
}

interface ListQuery {
  limit?: number;
  order?: 'asc' | 'desc';
  after?: string;
}

/** Query strings arrive as text: `limit` 1-100 (default 20), `order` asc|desc (default desc), `after`. */
function parseListQuery(raw: Record<string, unknown>): ListQuery {
  const q: ListQuery = {};
  if (raw.limit !== undefined) {
    const limit = Number(raw.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new InvalidRequestError("Invalid value for 'limit': expected an integer from 1 to 100.", 'limit');
    }
    q.limit = limit;
  }
  if (raw.order !== undefined) {
    if (raw.order !== 'asc' && raw.order !== 'desc') {
      throw new InvalidRequestError("Invalid value for 'order': expected 'asc' or 'desc'.", 'order');
    }
    q.order = raw.order;
  }
  if (typeof raw.after === 'string') q.after = raw.after;
  return q;
}

export function registerStoredResponseRoutes(app: FastifyInstance, store: ResponseStore): void {
  const load = async (id: string) => {
    const entry = await store.get(id);
    if (!entry) throw new ResponseNotFoundError(id);
    return entry;
  };

  app.get<{ Params: IdParams }>(
    '/v1/responses/:id',
    async (request) => (await load(request.params.id)).response,
  );

  app.delete<{ Params: IdParams }>('/v1/responses/:id', async (request) => {
    const { id } = request.params;
    if (!(await store.delete(id))) throw new ResponseNotFoundError(id);
    return { id, object: 'response', deleted: true };
  });

  app.get<{ Params: IdParams; Querystring: Record<string, unknown> }>(
    '/v1/responses/:id/input_items',
    async (request) => {
      const query = parseListQuery(request.query);
      const entry = await load(request.params.id);
      return pageItems(entry.inputItems, query);
    },
  );

  app.post<{ Params: IdParams }>('/v1/responses/:id/cancel', async (request) => {
    await load(request.params.id);
    throw new InvalidRequestError(
      'Only responses created with background: true can be cancelled, and this proxy does not offer background mode.',
      null,
      'not_cancellable',
    );
  });
}

/** `{object:"list", data, first_id, last_id, has_more}` over the items in the asked order. */
export function pageItems(items: readonly StoredItem[], query: ListQuery) {
  const limit = query.limit ?? 20;
  const ordered = query.order === 'asc' ? items : [...items].reverse();
  let start = 0;
  if (query.after !== undefined) {
    const at = ordered.findIndex((i) => i.id === query.after);
    if (at === -1)
      throw new InvalidRequestError(`No input item with id '${query.after}' in this response.`, 'after');
    start = at + 1;
  }
  const data = ordered.slice(start, start + limit);
  return {
    object: 'list' as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: start + limit < ordered.length,
  };
}
