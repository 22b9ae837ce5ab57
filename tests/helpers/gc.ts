/**
 * A full garbage collection on demand, for tests that prove an object is no longer reachable
 * (a WeakRef to it is cleared) while something that used to hold it is still alive.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Whether `ref`'s target is collected within a few collections. Each try waits a macrotask first:
 * a WeakRef keeps its target alive until the job that made or read it ends.
 */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    if (ref.deref() === undefined) return true;
  }
  return false;
}
