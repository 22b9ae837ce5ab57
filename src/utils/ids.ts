import { randomFillSync } from 'node:crypto';

/** Opaque ids in OpenAI's shapes (`resp_…`, `msg_…`, `fc_…`, `rs_…`, `call_…`). */
export type IdPrefix = 'resp' | 'msg' | 'fc' | 'fco' | 'rs' | 'call' | 'req';

const ID_BYTES = 16;
// Random bytes are drawn 4 KiB at a time: one syscall per 256 ids instead of one each.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** `prefix_` + 32 random hex digits (128 bits: ids of stored responses must not be guessable). */
export function newId(prefix: IdPrefix): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return `${prefix}_${hex}`;
}
