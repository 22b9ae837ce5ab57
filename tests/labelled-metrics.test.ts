/**
 * The per-request metrics are our own light implementations; /metrics must read exactly as if they
 * were prom-client's Counter, Histogram and Gauge: same lines, same order, same numbers.
 */
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelledCounter, LabelledHistogram, PlainGauge } from '../src/labelled-metrics.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const targets = fc.constantFrom('alpha', 'beta', 'gamma "quoted"', 'back\\slash', 'new\nline');

describe('LabelledHistogram', () => {
  it('exposes what prom-client’s Histogram exposes for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            targets,
            fc.oneof(fc.constantFrom(...BUCKETS, 0, 2, 1e9), fc.double({ min: 0, max: 5, noNaN: true })),
          ),
          { maxLength: 40 },
        ),
        async (observations) => {
          const ours = new Registry();
          const theirs = new Registry();
          const mine = new LabelledHistogram('h_seconds', 'help text', ['target'], BUCKETS, ours);
          const reference = new Histogram({
            name: 'h_seconds',
            help: 'help text',
            labelNames: ['target'],
            buckets: BUCKETS,
            registers: [theirs],
          });
          for (const [target, value] of observations) {
            mine.observe({ target }, value);
            reference.observe({ target }, value);
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
        },
      ),
    );
  });

  it('ignores a value that is not finite instead of throwing', async () => {
    const registry = new Registry();
    const h = new LabelledHistogram('h', 'help', ['target'], BUCKETS, registry);
    h.observe({ target: 'a' }, Number.NaN);
    h.observe({ target: 'a' }, Number.POSITIVE_INFINITY);
    expect(await registry.metrics()).not.toContain('h_count');
  });
});

describe('LabelledCounter', () => {
  it('exposes what prom-client’s Counter exposes for the same increments', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(targets, fc.constantFrom('in', 'out'), fc.integer({ min: 0, max: 1000 })), {
          maxLength: 40,
        }),
        async (increments) => {
          const ours = new Registry();
          const theirs = new Registry();
          const mine = new LabelledCounter('c_total', 'help', ['target', 'direction'], ours);
          const reference = new Counter({
            name: 'c_total',
            help: 'help',
            labelNames: ['target', 'direction'],
            registers: [theirs],
          });
          for (const [target, direction, n] of increments) {
            mine.inc({ target, direction }, n);
            reference.inc({ target, direction }, n);
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
        },
      ),
    );
  });

  it('keeps label sets apart even when joined values would collide', async () => {
    const registry = new Registry();
    const c = new LabelledCounter('c_total', 'help', ['a', 'b'], registry);
    c.inc({ a: 'x', b: 'yz' });
    c.inc({ a: 'xy', b: 'z' });
    const text = await registry.metrics();
    expect(text).toContain('c_total{a="x",b="yz"} 1');
    expect(text).toContain('c_total{a="xy",b="z"} 1');
  });
});

describe('PlainGauge', () => {
  it('exposes what prom-client’s Gauge exposes', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const mine = new PlainGauge('g', 'help', ours);
    const reference = new Gauge({ name: 'g', help: 'help', registers: [theirs] });
    for (const step of [1, 1, -1, 1, -1, -1, 1]) {
      if (step > 0) {
        mine.inc();
        reference.inc();
      } else {
        mine.dec();
        reference.dec();
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
