/**
 * Instructions per request, counted by valgrind's callgrind: the pass-through and llm-proxy (from
 * dist/, `npm run build` first) each run under callgrind against the mock upstream, and after a
 * warm-up the counters are zeroed, N requests are sent, and the count is dumped, a few rounds.
 *
 *   node bench/instructions.mjs [--scenario json|stream] [--requests N] [--rounds R]
 *                               [--warmup W] [--connections C] [--only pass-through|llm-proxy]
 *
 *   LLM_PROXY_DIST=/tmp/old/main.cjs node bench/instructions.mjs --only llm-proxy
 *                               counts another build (say a copy of dist/ from an earlier commit)
 *
 * Why: on a shared 2-core machine the CPU time per request of the same build varies by ±30% from
 * one run to the next; an instruction count varies by about 1%, so a change of a few percent on
 * the hot path can be seen. It counts user-space instructions only (no system calls, cache misses
 * or waits): `npm run bench` stays the measure of the targets. Threads are counted apart: the
 * event loop (the request path itself) and all threads (with V8's garbage collector and optimizing
 * compiler, whose share moves with when a major collection falls into a round). Needs valgrind
 * (`apt install valgrind`); takes about 4 minutes per server with the defaults (callgrind runs
 * ~50x slower).
 * The two servers run at the same time: the counts do not depend on the timing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startMock } from './mock-upstream.mjs';
import { simpleBody } from './request-bodies.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'json' },
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '8' },
    only: { type: 'string' },
  },
});
const stream = flags.scenario === 'stream';
const requests = Number(flags.requests);
const rounds = Number(flags.rounds);
const warmup = Number(flags.warmup ?? (stream ? 2000 : 8000));
const connections = Number(flags.connections);
const body = simpleBody(stream);

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('bench/instructions.mjs needs valgrind (apt install valgrind)\n');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'llm-proxy-instructions-'));
const children = [];
const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const mock = await startMock({ port: 0 });
const upstream = `http://127.0.0.1:${mock.port}/v1`;

function load(port, amount) {
  return autocannon({
    url: `http://127.0.0.1:${port}/v1/responses`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    amount,
    timeout: 120,
  });
}

async function waitHealthy(port) {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`port ${port} never answered /healthz`);
}

async function measure(label, port, args) {
  const out = join(work, label);
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      '--smc-check=all-non-file',
      `--callgrind-out-file=${out}.cg`,
      'node',
      ...args,
    ],
    { cwd: ROOT, stdio: 'ignore' },
  );
  children.push(child);
  await waitHealthy(port);
  await load(port, warmup);
  const counts = [];
  for (let r = 0; r < rounds; r++) {
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
    const run = await load(port, requests);
    if (run.non2xx + run.errors > 0) throw new Error(`${label}: ${run.non2xx + run.errors} failed requests`);
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    // One file per thread and dump (`<label>.cg.<dump>-<thread>`); thread 01 is the event loop.
    const files = readdirSync(work).filter((f) => f.startsWith(`${label}.cg.`));
    const dumpOf = (f) => Number(/\.cg\.(\d+)-\d+$/.exec(f)?.[1] ?? 0);
    const last = Math.max(...files.map(dumpOf));
    let main = 0;
    let all = 0;
    for (const f of files.filter((name) => dumpOf(name) === last)) {
      const total = Number(/^totals: (\d+)/m.exec(readFileSync(join(work, f), 'utf8'))?.[1] ?? 0);
      all += total;
      if (f.endsWith('-01')) main = total;
    }
    counts.push({ main: main / requests, all: all / requests });
  }
  child.kill('SIGKILL');
  return counts;
}

const passPort = 19_000 + (process.pid % 500);
const proxyPort = passPort + 500;
const configPath = join(work, 'llm-proxy.toml');
writeFileSync(
  configPath,
  `[server]\nhost = "127.0.0.1"\nport = ${proxyPort}\n\n[logging]\nlevel = "warn"\n\n[store]\nbackend = "memory"\n\n[targets.mock]\nbase_url = "${upstream}"\n`,
);
const servers = {
  'pass-through': () =>
    measure('pass-through', passPort, [
      'bench/passthrough.mjs',
      '--upstream',
      upstream,
      '--port',
      String(passPort),
    ]),
  'llm-proxy': () =>
    measure('llm-proxy', proxyPort, [process.env.LLM_PROXY_DIST ?? 'dist/main.cjs', '--config', configPath]),
};
const labels = flags.only ? [flags.only] : Object.keys(servers);
process.stdout.write(
  `${flags.scenario}, c=${connections}: ${warmup} warm-up requests, then ${rounds} x ${requests} counted\n`,
);
const results = await Promise.all(labels.map((label) => servers[label]()));
const last = (counts) => counts[counts.length - 1];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
labels.forEach((label, i) => {
  const main = results[i].map((c) => fmt(c.main)).join(', ');
  const all = results[i].map((c) => fmt(c.all)).join(', ');
  process.stdout.write(`${label.padEnd(13)} per request, by round: event loop ${main}; all threads ${all}\n`);
});
if (labels.length === 2) {
  const [a, b] = [last(results[0]), last(results[1])];
  process.stdout.write(
    `llm-proxy / pass-through (last round): event loop ${(b.main / a.main).toFixed(3)}, all threads ${(b.all / a.all).toFixed(3)}\n`,
  );
}
await mock.close();
process.exit(0);
