/**
 * Summarises a V8 .cpuprofile (from `node bench/run.mjs --cpu-prof DIR`, which starts the proxy
 * with `--cpu-prof`): the top functions by self time, and self time per package / source file.
 *
 *   node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--all]
 *
 * Start-up (module loading) is skipped: counting starts at the second HTTP request the process
 * served (the first is the harness's /healthz probe), unless --all. Frames in the bundle
 * (dist/llm-proxy.cjs) are mapped back through its source map to the package or src/ file they came from.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, all: { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--all]\n');
  process.exit(2);
}
const top = Number(values.top);
const sourceMaps = new Map();

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  for (const n of profile.nodes) n.callFrame = original(n.callFrame);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inRequest = (id) => {
    for (let at = id; at !== undefined; at = parent.get(at)) {
      if (byId.get(at)?.callFrame.functionName === 'parserOnIncoming') return true;
    }
    return false;
  };
  // Self time of a node = the time between its samples.
  const self = new Map();
  const inclusive = new Map();
  const packageTime = new Map();
  const deltas = profile.timeDeltas ?? [];
  let requests = values.all ? 2 : 0;
  let previous = false;
  profile.samples.forEach((id, i) => {
    if (requests < 2) {
      const now = inRequest(id);
      if (now && !previous) requests++;
      previous = now;
      if (requests < 2) return;
    }
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + us);
    // Inclusive time of the project's own functions (src/), each counted once per sample.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame && own(frame.url)) seen.add(label(frame));
    }
    for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    // Inclusive time per dependency: time spent in (or under) its code.
    const packages = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      const pkg = frame && /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
      if (pkg) packages.add(pkg);
    }
    for (const key of packages) packageTime.set(key, (packageTime.get(key) ?? 0) + us);
  });
  let total = 0;
  const fns = new Map();
  const groups = new Map();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const key = label(node.callFrame);
    fns.set(key, (fns.get(key) ?? 0) + us);
    const g = group(node.callFrame.url, node.callFrame.functionName);
    groups.set(g, (groups.get(g) ?? 0) + us);
  }
  const idle = groups.get('(idle)') ?? 0;
  const busy = total - idle;
  const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  process.stdout.write(
    `\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy ` +
      `(percentages are of busy time; idle was ${((100 * idle) / total).toFixed(0)}%)\n`,
  );
  process.stdout.write('\nBy package / file (self time):\n');
  for (const [name, us] of [...groups]
    .filter(([n]) => n !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)) {
    process.stdout.write(`  ${pct(us)}  ${name}\n`);
  }
  process.stdout.write(`\nTop ${top} functions (self time):\n`);
  for (const [name, us] of [...fns]
    .filter(([n]) => !n.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    process.stdout.write(`  ${pct(us)}  ${name}\n`);
  }
  process.stdout.write('\nDependencies by inclusive time (their code and everything it calls):\n');
  for (const [name, us] of [...packageTime].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    process.stdout.write(`  ${pct(us)}  ${name}\n`);
  }
  process.stdout.write(`\nTop ${top} project functions (src/) by inclusive time:\n`);
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${pct(us)}  ${name}\n`);
  }
}

/** A bundled frame as the file and line it was bundled from (unchanged when there is no map). */
function original(frame) {
  if (!frame.url.endsWith('.cjs')) return frame;
  // The launcher compiles the bundle with vm.Script, whose frames carry a plain path, not a URL.
  const bundle = frame.url.startsWith('file:') ? fileURLToPath(frame.url) : frame.url;
  let map = sourceMaps.get(bundle);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')));
    } catch {
      map = null;
    }
    sourceMaps.set(bundle, map);
  }
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
  if (!entry?.originalSource) return frame;
  const source = entry.originalSource.startsWith('file:')
    ? fileURLToPath(entry.originalSource)
    : resolve(dirname(bundle), entry.originalSource);
  return { ...frame, url: pathToFileURL(source).href, lineNumber: entry.originalLine };
}

/** The project's own code (src/, or dist/ for an unbundled build), not a dependency's. */
function own(url) {
  return (url.includes('/src/') || url.includes('/dist/')) && !url.includes('/node_modules/');
}

function label({ functionName, url, lineNumber }) {
  const path = url.replace(/^file:\/\//, '');
  const where = path.includes('/node_modules/')
    ? path.slice(path.lastIndexOf('/node_modules/') + '/node_modules/'.length)
    : path.replace(/^.*\/(src|dist)\//, '$1/');
  return `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
}

/** A package name, a src/ file, node: internals, or a V8 pseudo-frame. */
function group(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const mod = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1] ?? url;
  const ownFile = /\/(src|dist)\/(.+)$/.exec(url);
  if (ownFile && own(url)) return `${ownFile[1]}/${ownFile[2]}`;
  if (url.startsWith('node:')) return 'node: internals';
  return url.replace(/^file:\/\//, '');
}
