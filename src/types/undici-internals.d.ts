/** The two undici modules upstream-client.ts loads directly (see there for why); undici ships no types for them. */
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const PoolClass: typeof Pool;
  export default PoolClass;
}

declare module 'undici/lib/api/index.js' {
  import type { Dispatcher } from 'undici';

  const api: { request: Dispatcher['request'] };
  export default api;
}
