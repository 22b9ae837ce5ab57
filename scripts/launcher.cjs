#!/usr/bin/env node
'use strict';
/**
 * dist/main.cjs: starts the bundle (dist/llm-proxy.cjs) through V8's code cache. Most of a cold
 * start is V8 compiling the functions start-up runs; with the cache of an earlier start, which this
 * writes beside the bundle (dist/llm-proxy.cjs.cache) a second after starting, or at exit, when there is none
 * or V8 refused it (another build, another Node), spawn to the first answer on /healthz went from
 * about 360 ms to about 250 ms on the benchmark machine. Node 22's module.enableCompileCache() does
 * the same for modules; this also works on Node 20. A cache that cannot be read or written (a
 * read-only install) only means a slower start.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');

// V8 settings for a server whose objects live for one request, measured with `npm run bench` on
// the benchmark machine (README, Performance). Set before the bundle is compiled, so the code cache
// (below) is made and read under the same flags.
const V8_FLAGS = [
  // No allocation-site pretenuring. V8 counts, per object literal in the code, how many of the
  // objects made there since the last young-generation collection are still alive; past 85% it
  // allocates that literal's later objects straight in the old generation, for good. Under c=64
  // streaming load (64 streams of 10-60 ms, a collection every ~25 ms) a few per-stream literals
  // crossed the line in one collection or another: in 6 of 9 runs, 2-4 sites were tenured, and
  // then each dead old object kept the young objects of its stream alive through the next
  // collection, which promoted them too: ~470 KB promoted per collection instead of ~35, and a
  // peak RSS of 180 MB instead of 145. Without pretenuring, ~35 KB in every run.
  '--no-allocation-site-pretenuring',
  // A full collection once the old generation has grown by half of what was live after the last
  // one. V8 lets it grow by up to 4x when collections are cheap next to the program's work, as
  // they are with a live heap of ~15-20 MB: between load phases the old generation grew to 40 MB
  // of garbage before it was collected. In the full benchmark, peak RSS under c=64 went from 153 MB
  // to 132 MB (the pass-through: 126), with CPU time per request unchanged (1.00x and 0.99x the
  // pass-through's at c=64, against 1.03x and 1.01x).
  '--heap-growing-percent=50',
];
for (const flag of V8_FLAGS) v8.setFlagsFromString(flag);

const file = join(__dirname, 'llm-proxy.cjs');
const cacheFile = `${file}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // no cache yet
}
// The bundle's first line is a shebang; blanked, not removed, so the source map's lines still match.
const source = readFileSync(file, 'utf8').replace(/^#!.*/, '');
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
const bundle = new Module(file, module);
bundle.filename = file;
bundle.paths = Module._nodeModulePaths(__dirname);
script
  .runInThisContext()
  .call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, __dirname);
if (cachedData === undefined || script.cachedDataRejected) {
  let written = false;
  const writeCache = () => {
    if (written) return;
    written = true;
    try {
      writeFileSync(cacheFile, script.createCachedData());
    } catch {
      // read-only: start without a cache next time
    }
  };
  // After start-up has compiled what it needs, or at exit if that comes first.
  setTimeout(writeCache, 1000).unref();
  process.once('exit', writeCache);
}
bundle.exports.main();
