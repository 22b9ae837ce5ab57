import { randomUUID } from 'node:crypto';

/** Opaque ids in OpenAI's shapes (`resp_…`, `msg_…`, `fc_…`, `rs_…`, `call_…`). */
export type IdPrefix = 'resp' | 'msg' | 'fc' | 'fco' | 'rs' | 'call' | 'req';

export function newId(prefix: IdPrefix): string {
  // randomUUID draws from a cached entropy pool: far cheaper per call than randomBytes.
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}
