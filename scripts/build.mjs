/**
 * `npm run build`: bundles src/main.ts and its dependencies into one CommonJS file,
 * dist/llm-proxy.cjs (with a source map beside it), and puts the launcher that starts it through
 * V8's code cache (scripts/launcher.cjs) at dist/main.cjs. Type checking is `npm run typecheck`'s
 * job, not this one's.
 *
 * Why a bundle: start-up on the benchmark machine is dominated by loading modules. The same code as
 * separate ES modules took about 580 ms from spawn to the first answer on /healthz; as one CommonJS
 * bundle about 360 ms, and with the code cache about 250 ms (see bench/results/latest.md). Kept
 * outside the bundle: the better-sqlite3 binding (a native addon) and the Redis client, both loaded
 * only when that store is configured, and pino-pretty, a development tool used only when installed.
 *
 *   node scripts/build.mjs [--outdir dist]
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = resolve(values.outdir ?? join(ROOT, 'dist'));

// The output directory is replaced as a whole: no stale code cache or earlier layout stays.
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: [join(ROOT, 'src', 'main.ts')],
  outfile: join(outdir, 'llm-proxy.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20.18',
  format: 'cjs',
  // The sources use `import.meta.url` (ESM); in the CommonJS bundle it is the bundle's own URL.
  banner: { js: "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__import_meta_url' },
  external: ['better-sqlite3', '@redis/client', 'pino-pretty'],
  sourcemap: true,
  logLevel: 'warning',
});
copyFileSync(join(ROOT, 'scripts', 'launcher.cjs'), join(outdir, 'main.cjs'));
