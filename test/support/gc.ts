import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Which of `refs` a full garbage collection frees. WeakRef targets stay alive until the job that
 * made the refs ends, so the collection runs on a later macrotask (real timers, not Jest's fake ones).
 */
export async function collected(refs: WeakRef<object>[]): Promise<boolean[]> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await nextMacrotask();
  gc();
  return refs.map((ref) => ref.deref() === undefined);
}
