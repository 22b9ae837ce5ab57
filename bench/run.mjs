/**
 * The benchmark harness (`npm run bench`). Starts, each in its own process, the mock upstream
 * (bench/mock-upstream.mjs), the pass-through baseline (bench/passthrough.mjs) and llm-proxy from
 * dist/, then drives them with autocannon in alternating order (pass-through, proxy, pass-through,
 * proxy…) after a warm-up, and reports against the targets of the performance issue.
 *
 *   node bench/run.mjs [options]          (npm run bench -- [options] builds first)
 *
 *   --duration S        seconds per measured run (default 5; 3 rounds, so 15 s per server and scenario)
 *   --rounds N          alternating pass-through/proxy rounds (default 3)
 *   --warmup S          seconds of load per server and scenario before the measured rounds
 *                       (default 10: long enough for V8 to finish optimising the proxy's code)
 *   --quick             smoke check: 1 s runs, 1 round, short warm-up (writes results/quick.*)
 *   --scenario A[,B]    json-c1, json-c64, stream-c1, stream-c64, tools-history (default: all)
 *   --chunks N          content chunks per streamed reply (default 50)
 *   --latency-ms MS     mock delay before each reply (default 0)
 *   --chunk-delay-ms MS mock delay between stream chunks (default 0)
 *   --out NAME          results file name (default: latest for a full run, else quick / partial)
 *   --cpu-prof DIR      run the proxy and the pass-through with --cpu-prof (one file per process);
 *                       summarise with bench/profile-summary.mjs
 *
 * Output: a Markdown report on stdout and in bench/results/<out>.md, the raw numbers in
 * bench/results/<out>.json. Only 127.0.0.1; every server is killed on exit, ctrl-c or a crash.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'undici';
import { simpleBody, toolsBody } from './request-bodies.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string' },
    quick: { type: 'boolean', default: false },
    scenario: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    chunks: { type: 'string', default: '50' },
    'latency-ms': { type: 'string', default: '0' },
    'chunk-delay-ms': { type: 'string', default: '0' },
    out: { type: 'string' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    `${readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(0, 24)
      .join('\n')}\n`,
  );
  process.exit(0);
}
const quick = flags.quick === true;
const opts = {
  duration: Number(flags.duration ?? (quick ? 1 : 5)),
  warmup: Number(flags.warmup ?? (quick ? 0.5 : 10)),
  rounds: Number(flags.rounds ?? (quick ? 1 : 3)),
  ttfeRequests: quick ? 50 : 400,
  coldStarts: quick ? 1 : 5,
  chunks: Number(flags.chunks),
  latencyMs: Number(flags['latency-ms']),
  chunkDelayMs: Number(flags['chunk-delay-ms']),
};
const partial =
  quick || flags.scenario !== undefined || flags.duration !== undefined || flags.warmup !== undefined;
const outName = flags.out ?? (quick ? 'quick' : partial ? 'partial' : 'latest');

// ---------------------------------------------------------------------------------------------
// Requests and scenarios

const STORE_NOTE = 'every request has `store: false` (and the proxy runs `[store] backend = "memory"`)';

const SCENARIOS = [
  { name: 'json-c1', title: 'non-streaming, c=1', connections: 1, stream: false, body: simpleBody(false) },
  { name: 'json-c64', title: 'non-streaming, c=64', connections: 64, stream: false, body: simpleBody(false) },
  {
    name: 'stream-c1',
    title: `streaming (${opts.chunks} chunks), c=1`,
    connections: 1,
    stream: true,
    ttfe: true,
    body: simpleBody(true),
  },
  {
    name: 'stream-c64',
    title: `streaming (${opts.chunks} chunks), c=64`,
    connections: 64,
    stream: true,
    body: simpleBody(true),
  },
  {
    name: 'tools-history',
    title: 'tools + 20-item history, non-streaming, c=1',
    connections: 1,
    stream: false,
    body: toolsBody(),
  },
];
const wanted = flags.scenario?.split(',').map((s) => s.trim());
for (const name of wanted ?? []) {
  if (!SCENARIOS.some((s) => s.name === name)) {
    fail(`unknown scenario "${name}" (one of: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  }
}
const scenarios = SCENARIOS.filter((s) => !wanted || wanted.includes(s.name));

// ---------------------------------------------------------------------------------------------
// Processes: each server in its own process, all killed on exit, ctrl-c or a crash.

const children = new Set();

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

function killAll(signal = 'SIGKILL') {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}
process.on('exit', () => killAll());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping the servers\n`);
    killAll();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  killAll();
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  killAll();
  process.exit(1);
});

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once GET /healthz answers 200; fast polling so the cold start is measured closely. */
async function waitHealthy(port, child, timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${child.spawnargs.join(' ')} exited with ${child.exitCode}`);
    const status = await new Promise((res) => {
      const client = new Client(`http://${HOST}:${port}`, { connect: { timeout: 200 } });
      client
        .request({ method: 'GET', path: '/healthz' })
        .then(async (r) => {
          await r.body.dump();
          res(r.statusCode);
        })
        .catch(() => res(0))
        .finally(() => client.close().catch(() => {}));
    });
    if (status === 200) return;
    await sleep(2);
  }
  throw new Error(`port ${port} did not answer /healthz within ${timeoutMs} ms`);
}

/** Spawns a server, resolves once it is healthy, with the cold start (spawn to first 200) in ms. */
async function launch(label, args, port, nodeFlags = []) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitHealthy(port, child);
  return { label, child, port, pid: child.pid, coldStartMs: performance.now() - t0 };
}

async function stop(server) {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMB: 0, hwmMB: 0 };
  }
}

/** CPU time (user + system, clock ticks) a process has used so far. */
function processTicks(pid) {
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
  } catch {
    return 0; // exited
  }
}

/**
 * CPU time (in clock ticks, 100/s on Linux) used by the whole machine and by the benchmark's own
 * processes: the difference is other load sharing the cores, which makes a run noisy.
 */
function cpuTicks() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields ?? [];
  let ours = 0;
  for (const child of children) ours += processTicks(child.pid);
  const self = process.cpuUsage();
  ours += (self.user + self.system) / 10_000;
  return { busy: user + nice + system + irq + softirq + steal, ours };
}

// ---------------------------------------------------------------------------------------------
// Measurements

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

const median = (xs) => summarize(xs).p50;

/** One autocannon run; latencies are collected unrounded from its `response` events. */
async function load(server, scenario, seconds) {
  const latencies = [];
  let peakRssMB = 0;
  const sampler = setInterval(() => {
    peakRssMB = Math.max(peakRssMB, memory(server.pid).rssMB);
  }, 50);
  const started = performance.now();
  const cpu0 = cpuTicks();
  const server0 = processTicks(server.pid);
  const instance = autocannon({
    url: `http://${HOST}:${server.port}${server.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: scenario.body,
    connections: scenario.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 30,
  });
  instance.on('response', (_client, statusCode, _bytes, ms) => {
    if (statusCode === 200) latencies.push(ms);
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const cpu1 = cpuTicks();
  // The server's own CPU per request (ticks are 10 ms), robust to other load on the machine.
  const cpuUsPerRequest = ((processTicks(server.pid) - server0) * 10_000) / Math.max(1, latencies.length);
  // Other processes' CPU during the run, in % of one core.
  const otherCpu = Math.max(0, (cpu1.busy - cpu0.busy - (cpu1.ours - cpu0.ours)) / elapsed);
  clearInterval(sampler);
  peakRssMB = Math.max(peakRssMB, memory(server.pid).rssMB);
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) {
    process.stderr.write(
      `  ! ${server.label}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts\n`,
    );
  }
  return { latencies, ok: latencies.length, bad, seconds: elapsed, peakRssMB, otherCpu, cpuUsPerRequest };
}

/** Time to first event and first text delta, c=1, with undici (autocannon does not report them). */
async function firstEvents(server, scenario, requests) {
  const client = new Client(`http://${HOST}:${server.port}`, { keepAliveTimeout: 30_000, pipelining: 1 });
  const first = [];
  const firstDelta = [];
  const total = [];
  try {
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const res = await client.request({
        method: 'POST',
        path: server.path,
        headers: { 'content-type': 'application/json' },
        body: scenario.body,
      });
      let sawEvent = false;
      let sawDelta = false;
      let text = '';
      for await (const chunk of res.body) {
        const now = performance.now() - t0;
        if (!sawEvent) {
          sawEvent = true;
          first.push(now);
        }
        if (!sawDelta) {
          text += chunk.toString('utf8');
          // Responses: an output_text delta event; Chat: a chunk whose delta carries content.
          if (/output_text\.delta|"delta":\{("role":"assistant",)?"content":"/.test(text)) {
            sawDelta = true;
            firstDelta.push(now);
          }
        }
      }
      if (res.statusCode !== 200) throw new Error(`${server.label} answered ${res.statusCode}`);
      total.push(performance.now() - t0);
    }
  } finally {
    await client.close();
  }
  return { first, firstDelta, total };
}

/** A 200 with the expected shape from every server before any load. */
async function check(server, scenario) {
  const client = new Client(`http://${HOST}:${server.port}`);
  try {
    const res = await client.request({
      method: 'POST',
      path: server.path,
      headers: { 'content-type': 'application/json' },
      body: scenario.body,
    });
    const text = await res.body.text();
    const expect =
      server.label === 'llm-proxy'
        ? scenario.stream
          ? 'event: response.completed'
          : '"status":"completed"'
        : scenario.stream
          ? 'data: [DONE]'
          : '"finish_reason":"stop"';
    if (res.statusCode !== 200 || !text.includes(expect)) {
      throw new Error(`${server.label} (${scenario.name}): ${res.statusCode} ${text.slice(0, 300)}`);
    }
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Run

const log = (line) => process.stderr.write(`${line}\n`);

function machine() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT, encoding: 'utf8' });
    if (dirty.trim() !== '') commit += ' (+ uncommitted changes in src/)';
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    commit,
  };
}

async function main() {
  const started = performance.now();
  const date = new Date().toISOString();
  const info = machine();
  log(
    `bench: ${info.cpu}, ${info.cores} cores, node ${info.node}; ${opts.duration} s per run, ${opts.rounds} round(s)`,
  );

  // The mock upstream.
  const mockPort = await freePort();
  const mockArgs = ['bench/mock-upstream.mjs', '--port', String(mockPort), '--chunks', String(opts.chunks)];
  mockArgs.push('--latency-ms', String(opts.latencyMs), '--chunk-delay-ms', String(opts.chunkDelayMs));
  const mock = { ...(await launch('mock', mockArgs, mockPort)), path: '/v1/chat/completions' };
  const upstream = `http://${HOST}:${mockPort}/v1`;

  // The proxy's configuration.
  const configPath = join(tmpdir(), `llm-proxy-bench-${process.pid}.toml`);
  const proxyPort = await freePort();
  writeFileSync(
    configPath,
    [
      '[server]',
      `host = "${HOST}"`,
      `port = ${proxyPort}`,
      '',
      '[logging]',
      'level = "warn"',
      '',
      '[store]',
      'backend = "memory"',
      '',
      '[targets.mock]',
      `base_url = "${upstream}"`,
      '',
    ].join('\n'),
  );
  process.on('exit', () => rmSync(configPath, { force: true }));
  const proxyArgs = ['dist/main.cjs', '--config', configPath];
  const passPort = await freePort();
  const passArgs = ['bench/passthrough.mjs', '--upstream', upstream, '--port', String(passPort)];

  // Cold starts: spawn to the first 200 on /healthz, the machine otherwise idle.
  log(`cold start: ${opts.coldStarts} spawn(s) each`);
  const cold = { 'llm-proxy': [], 'pass-through': [] };
  for (let i = 0; i < opts.coldStarts; i++) {
    for (const [label, args, port] of [
      ['pass-through', passArgs, passPort],
      ['llm-proxy', proxyArgs, proxyPort],
    ]) {
      const s = await launch(label, args, port);
      cold[label].push(s.coldStartMs);
      await stop(s);
    }
  }

  const profFlags = flags['cpu-prof']
    ? ['--cpu-prof', '--cpu-prof-dir', resolve(flags['cpu-prof']), '--cpu-prof-interval', '200']
    : [];
  const pass = { ...(await launch('pass-through', passArgs, passPort, profFlags)), path: '/v1/responses' };
  const proxy = { ...(await launch('llm-proxy', proxyArgs, proxyPort, profFlags)), path: '/v1/responses' };
  const idle = { 'llm-proxy': memory(proxy.pid).rssMB, 'pass-through': memory(pass.pid).rssMB };

  const results = [];
  for (const scenario of scenarios) {
    log(`\n${scenario.name}: ${scenario.title}`);
    for (const server of [mock, pass, proxy]) await check(server, scenario);
    for (const server of [mock, pass, proxy]) await load(server, scenario, opts.warmup);

    const runs = { direct: [], 'pass-through': [], 'llm-proxy': [] };
    const record = async (key, server) => {
      const run = await load(server, scenario, opts.duration);
      runs[key].push(run);
      log(
        `  ${key.padEnd(12)} ${(run.ok / run.seconds).toFixed(0).padStart(7)} req/s  p50 ${summarize(run.latencies).p50.toFixed(3)} ms` +
          `  ${run.cpuUsPerRequest.toFixed(0).padStart(5)} µs CPU/req  (other load ${run.otherCpu.toFixed(0)}% of a core)`,
      );
    };
    await record('direct', mock);
    for (let r = 0; r < opts.rounds; r++) {
      await record('pass-through', pass);
      await record('llm-proxy', proxy);
    }

    const targets = {};
    for (const [key, list] of Object.entries(runs)) {
      const stats = summarize(list.flatMap((r) => r.latencies));
      targets[key] = {
        reqPerSec: list.reduce((a, r) => a + r.ok, 0) / list.reduce((a, r) => a + r.seconds, 0),
        p50: stats.p50,
        p99: stats.p99,
        requests: stats.n,
        failed: list.reduce((a, r) => a + r.bad, 0),
        peakRssMB: key === 'direct' ? null : Math.max(...list.map((r) => r.peakRssMB)),
        perRunReqPerSec: list.map((r) => r.ok / r.seconds),
        otherCpuPercent: list.map((r) => r.otherCpu),
        cpuUsPerRequest:
          list.reduce((a, r) => a + r.cpuUsPerRequest * r.ok, 0) / list.reduce((a, r) => a + r.ok, 0),
      };
    }
    const entry = { name: scenario.name, title: scenario.title, connections: scenario.connections, targets };

    if (scenario.ttfe) {
      log(`  time to first event: ${opts.ttfeRequests} requests per round, c=1`);
      const t = { direct: [], 'pass-through': [], 'llm-proxy': [] };
      await firstEvents(pass, scenario, 20);
      await firstEvents(proxy, scenario, 20);
      for (let r = 0; r < opts.rounds; r++) {
        for (const [key, server] of [
          ['direct', mock],
          ['pass-through', pass],
          ['llm-proxy', proxy],
        ]) {
          if (key === 'direct' && r > 0) continue;
          const m = await firstEvents(server, scenario, opts.ttfeRequests);
          t[key].push(m);
        }
      }
      entry.firstEvent = Object.fromEntries(
        Object.entries(t).map(([key, list]) => [
          key,
          {
            first: summarize(list.flatMap((m) => m.first)),
            firstDelta: summarize(list.flatMap((m) => m.firstDelta)),
            total: summarize(list.flatMap((m) => m.total)),
          },
        ]),
      );
    }
    results.push(entry);
  }

  const hwm = { 'llm-proxy': memory(proxy.pid).hwmMB, 'pass-through': memory(pass.pid).hwmMB };
  await stop(proxy);
  await stop(pass);
  await stop(mock);

  const report = {
    date,
    machine: info,
    options: { ...opts, scenarios: scenarios.map((s) => s.name), quick },
    store: STORE_NOTE,
    coldStart: Object.fromEntries(
      Object.entries(cold).map(([k, xs]) => [
        k,
        { medianMs: median(xs), maxMs: Math.max(...xs), samplesMs: xs, idleRssMB: idle[k], vmHwmMB: hwm[k] },
      ]),
    ),
    scenarios: results,
    targets: evaluate(results, cold),
    wallSeconds: (performance.now() - started) / 1000,
  };
  const markdown = render(report);
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${outName}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, `${outName}.md`), markdown);
  process.stdout.write(`\n${markdown}`);
  log(
    `\nwritten: bench/results/${outName}.md, bench/results/${outName}.json (${report.wallSeconds.toFixed(0)} s)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Targets and the report

function evaluate(results, cold) {
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  const ratio = (name) => {
    const t = byName[name]?.targets;
    return t ? t['llm-proxy'].reqPerSec / t['pass-through'].reqPerSec : null;
  };
  const p50Delta = (name) => {
    const t = byName[name]?.targets;
    return t ? t['llm-proxy'].p50 - t['pass-through'].p50 : null;
  };
  const fe = byName['stream-c1']?.firstEvent;
  const c64 = results.filter((r) => r.connections === 64).map((r) => r.targets['llm-proxy'].peakRssMB);
  const list = [
    ['non-streaming c=64 throughput vs pass-through', ratio('json-c64'), '>=', 0.9, 'x'],
    ['non-streaming c=1 p50 added latency over pass-through', p50Delta('json-c1'), '<=', 0.2, 'ms'],
    ['streaming c=64 throughput vs pass-through', ratio('stream-c64'), '>=', 0.85, 'x'],
    [
      'time to first event (p50) over pass-through',
      fe ? fe['llm-proxy'].first.p50 - fe['pass-through'].first.p50 : null,
      '<=',
      1,
      'ms',
    ],
    ['peak RSS under c=64', c64.length > 0 ? Math.max(...c64) : null, '<=', 150, 'MB'],
    ['cold start (median, spawn to first 200 on /healthz)', median(cold['llm-proxy']), '<=', 400, 'ms'],
  ];
  return list.map(([name, value, op, limit, unit]) => ({
    name,
    value,
    op,
    limit,
    unit,
    result: value === null ? 'n/a' : (op === '>=' ? value >= limit : value <= limit) ? 'PASS' : 'FAIL',
  }));
}

const f = (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

function render(report) {
  const m = report.machine;
  const o = report.options;
  const lines = [
    '# llm-proxy benchmark',
    '',
    `${report.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB · Node ${m.node} · Linux ${m.kernel} · commit ${m.commit}`,
    '',
    `Runs of ${o.duration} s, ${o.rounds} round(s) alternating pass-through / llm-proxy after a ${o.warmup} s warm-up each; ` +
      `direct = autocannon straight to the mock. Mock: ${o.chunks} chunks per stream, latency ${o.latencyMs} ms, ` +
      `chunk delay ${o.chunkDelayMs} ms. Store: ${report.store}. Client, mock and server share the machine; ` +
      '"server CPU" is the CPU time of the server process (direct: the mock) per request, which other load ' +
      'disturbs little; "other load" is the CPU used by processes outside the benchmark during the runs ' +
      '(max, % of one core).' +
      (o.quick ? ' **Quick run: smoke check only, not a measurement.**' : ''),
    '',
    '| Scenario | Server | req/s | p50 ms | p99 ms | p50 added vs direct ms | req/s vs pass-through | server CPU µs/req | peak RSS MB | other load % |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of report.scenarios) {
    const t = s.targets;
    for (const key of ['direct', 'pass-through', 'llm-proxy']) {
      const x = t[key];
      lines.push(
        `| ${key === 'direct' ? s.title : ''} | ${key}${x.failed ? ` (${x.failed} failed)` : ''} | ${f(x.reqPerSec, 0)} | ${f(x.p50, 3)} | ${f(x.p99, 3)} | ` +
          `${key === 'direct' ? '' : f(x.p50 - t.direct.p50, 3)} | ${key === 'direct' ? '' : f(x.reqPerSec / t['pass-through'].reqPerSec)} | ${f(x.cpuUsPerRequest, 0)} | ${f(x.peakRssMB, 0)} | ${f(Math.max(...x.otherCpuPercent), 0)} |`,
      );
    }
  }
  const fe = report.scenarios.find((s) => s.firstEvent)?.firstEvent;
  if (fe) {
    lines.push(
      '',
      `Streaming, c=1 (undici client loop, ${o.ttfeRequests} requests per round): time to the first SSE event, to the first text delta, and to the end.`,
      '',
      '| Server | first event p50 ms | p99 ms | first delta p50 ms | total p50 ms | first event added vs pass-through ms |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const key of ['direct', 'pass-through', 'llm-proxy']) {
      const x = fe[key];
      lines.push(
        `| ${key} | ${f(x.first.p50, 3)} | ${f(x.first.p99, 3)} | ${f(x.firstDelta.p50, 3)} | ${f(x.total.p50, 3)} | ${key === 'direct' ? '' : f(x.first.p50 - fe['pass-through'].first.p50, 3)} |`,
      );
    }
  }
  lines.push(
    '',
    '| Process | cold start median ms | max ms | RSS idle MB | VmHWM at end MB |',
    '|---|---:|---:|---:|---:|',
  );
  for (const [key, c] of Object.entries(report.coldStart)) {
    lines.push(
      `| ${key} | ${f(c.medianMs, 0)} | ${f(c.maxMs, 0)} | ${f(c.idleRssMB, 0)} | ${f(c.vmHwmMB, 0)} |`,
    );
  }
  lines.push('', '| Target | Measured | Limit | Result |', '|---|---:|---:|---|');
  for (const t of report.targets) {
    const digits = t.unit === 'x' ? 2 : t.unit === 'ms' && t.limit < 10 ? 3 : 0;
    lines.push(
      `| ${t.name} | ${f(t.value, digits)} ${t.unit} | ${t.op} ${t.limit} ${t.unit} | ${t.result} |`,
    );
  }
  const cpu = report.scenarios.map((sc) => {
    const t = sc.targets;
    return `${sc.name} ${f(t['llm-proxy'].cpuUsPerRequest / t['pass-through'].cpuUsPerRequest)}x`;
  });
  if (cpu.length > 0) {
    lines.push(
      '',
      `Server CPU per request, llm-proxy / pass-through (less disturbed by other load): ${cpu.join(', ')}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

await main();
