/**
 * DeadlineWatchdog: one coarse interval for every deadline. A deadline fires once, within a tick
 * after it passes and never before; cancelling prevents it; the interval stops (no timer left)
 * once nothing is watched, and it never holds the process open.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineWatchdog, type Watch } from '../../src/services/deadline-watchdog.js';
import { collected } from '../helpers/gc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

afterEach(() => {
  vi.useRealTimers();
});

describe('DeadlineWatchdog (real timers)', () => {
  it('fires once after the deadline, within a tick (generous bound), not before', async () => {
    const dog = new DeadlineWatchdog(20);
    const t0 = performance.now();
    let firedAt = 0;
    let fires = 0;
    dog.watch(100, () => {
      fires++;
      firedAt = performance.now();
    });
    await sleep(60);
    expect(fires).toBe(0);
    await vi.waitFor(() => expect(fires).toBe(1), { timeout: 2_000, interval: 5 });
    const elapsed = firedAt - t0;
    expect(elapsed).toBeGreaterThanOrEqual(99); // Date.now() granularity
    expect(elapsed).toBeLessThan(100 + 20 + 500);
    await sleep(80);
    expect(fires).toBe(1);
  });

  it('cancel prevents firing', async () => {
    const dog = new DeadlineWatchdog(10);
    const fired: string[] = [];
    const cancelA = dog.watch(40, () => fired.push('a'));
    dog.watch(40, () => fired.push('b'));
    cancelA.cancel();
    await sleep(150);
    expect(fired).toEqual(['b']);
  });

  it('cancelling after it fired is harmless', async () => {
    const dog = new DeadlineWatchdog(10);
    let fires = 0;
    const cancel = dog.watch(10, () => fires++);
    await vi.waitFor(() => expect(fires).toBe(1), { timeout: 2_000 });
    expect(() => cancel.cancel()).not.toThrow();
    await sleep(40);
    expect(fires).toBe(1);
  });
});

describe('DeadlineWatchdog (fake timers)', () => {
  it('fires each of many entries at its own deadline; cancelled ones never', () => {
    vi.useFakeTimers();
    const dog = new DeadlineWatchdog(250);
    const fired: number[] = [];
    const cancels: Watch[] = [];
    for (let i = 0; i < 200; i++) cancels.push(dog.watch(1_000 + i * 10, () => fired.push(i)));
    // Cancel every odd entry.
    for (let i = 1; i < 200; i += 2) cancels[i]?.cancel();
    vi.advanceTimersByTime(999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(251); // t = 1250: deadlines 1000..1250 (i = 0..25)
    expect(fired).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
    vi.advanceTimersByTime(5_000);
    expect(fired).toEqual(Array.from({ length: 100 }, (_, k) => k * 2));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never fires before the deadline, and within one tick after it', () => {
    vi.useFakeTimers();
    const dog = new DeadlineWatchdog(250);
    let fires = 0;
    dog.watch(1_100, () => fires++);
    vi.advanceTimersByTime(1_099);
    expect(fires).toBe(0);
    vi.advanceTimersByTime(250);
    expect(fires).toBe(1);
  });

  it('a deadline shorter than the tick uses a shorter interval', () => {
    vi.useFakeTimers();
    const dog = new DeadlineWatchdog(250);
    let fires = 0;
    dog.watch(30, () => fires++);
    vi.advanceTimersByTime(29);
    expect(fires).toBe(0);
    vi.advanceTimersByTime(31);
    expect(fires).toBe(1);
  });

  it('one interval for many entries, stopped once the last fires', () => {
    vi.useFakeTimers();
    const dog = new DeadlineWatchdog(250);
    expect(vi.getTimerCount()).toBe(0);
    for (let i = 0; i < 50; i++) dog.watch(500, () => {});
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(750);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the interval stops once the last entry is cancelled, and restarts for a new one', () => {
    vi.useFakeTimers();
    const dog = new DeadlineWatchdog(250);
    const a = dog.watch(10_000, () => {});
    const b = dog.watch(10_000, () => {});
    expect(vi.getTimerCount()).toBe(1);
    a.cancel();
    expect(vi.getTimerCount()).toBe(1);
    b.cancel();
    expect(vi.getTimerCount()).toBe(0);
    let fires = 0;
    dog.watch(300, () => fires++);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(500);
    expect(fires).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('DeadlineWatchdog (moving deadlines and activity)', () => {
  it('a callback that moves the deadline past now is called again then; one that does not is done', () => {
    vi.useFakeTimers({ now: 0 });
    const dog = new DeadlineWatchdog(100);
    const calls: number[] = [];
    const watch = dog.watch(300, (now) => {
      calls.push(now);
      if (calls.length < 3) watch.deadline = now + 500;
    });
    vi.advanceTimersByTime(299);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([300]);
    vi.advanceTimersByTime(499);
    expect(calls).toEqual([300]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([300, 800]);
    vi.advanceTimersByTime(500);
    expect(calls).toEqual([300, 800, 1300]);
    expect(dog.watching).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a deadline moved earlier while watched fires then', () => {
    vi.useFakeTimers({ now: 0 });
    const dog = new DeadlineWatchdog(50);
    let firedAt = -1;
    const watch = dog.watch(60_000, (now) => {
      firedAt = now;
    });
    watch.deadline = 200;
    vi.advanceTimersByTime(250);
    expect(firedAt).toBe(200);
    expect(dog.watching).toBe(0);
  });

  it('stamps `touchedAt` with the first tick after a touch: never before the activity', () => {
    vi.useFakeTimers({ now: 0 });
    const dog = new DeadlineWatchdog(100);
    const watch = dog.watch(60_000, () => {});
    vi.advanceTimersByTime(130);
    watch.touched = true; // activity at t = 130
    expect(watch.touchedAt).toBe(0);
    vi.advanceTimersByTime(70); // the tick at t = 200
    expect(watch.touched).toBe(false);
    expect(watch.touchedAt).toBe(200);
    vi.advanceTimersByTime(300); // no activity since: unchanged
    expect(watch.touchedAt).toBe(200);
    watch.cancel();
  });

  it('a callback may cancel its own entry', () => {
    vi.useFakeTimers({ now: 0 });
    const dog = new DeadlineWatchdog(10);
    let fires = 0;
    const watch = dog.watch(20, () => {
      fires++;
      watch.deadline = 1_000;
      watch.cancel();
    });
    vi.advanceTimersByTime(2_000);
    expect(fires).toBe(1);
    expect(dog.watching).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('DeadlineWatchdog timer resources', () => {
  it("its one interval is unref'd and cleared once nothing is watched (real timers)", async () => {
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    try {
      const before = timeouts();
      const dog = new DeadlineWatchdog(10);
      const cancel = dog.watch(60_000, () => {});
      dog.watch(60_000, () => {}).cancel();
      expect(setSpy).toHaveBeenCalledTimes(1);
      const timer = setSpy.mock.results[0]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      // An unref'd timer is not an active resource: nothing holds the event loop.
      expect(timeouts()).toBe(before);
      expect(clearSpy).not.toHaveBeenCalled();
      cancel.cancel();
      expect(clearSpy).toHaveBeenCalledWith(timer);

      // After firing, the new interval is cleared too.
      let fired = false;
      dog.watch(20, () => {
        fired = true;
      });
      expect(setSpy).toHaveBeenCalledTimes(2);
      const second = setSpy.mock.results[1]?.value as NodeJS.Timeout;
      await vi.waitFor(() => expect(clearSpy).toHaveBeenCalledWith(second), { timeout: 2_000 });
      expect(fired).toBe(true);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });

  it("is unref'd: a pending deadline does not hold the process open", () => {
    const modulePath = fileURLToPath(new URL('../../src/services/deadline-watchdog.ts', import.meta.url));
    const script = `
      const { DeadlineWatchdog } = await import(${JSON.stringify(modulePath)});
      const dog = new DeadlineWatchdog(50);
      dog.watch(60_000, () => { console.log('fired'); });
      console.log('armed');
    `;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('armed');
    expect(r.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('DeadlineWatchdog (the list of deadlines)', () => {
  it('cancels entries in any order, each once, and counts what it watches', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), (order) => {
        const before = timeouts();
        const dog = new DeadlineWatchdog(1_000);
        const cancels = order.map(() => dog.watch(60_000, () => {}));
        expect(dog.watching).toBe(cancels.length);
        const picked = [...new Set(order.map((n) => n % cancels.length))];
        for (const i of picked) {
          cancels[i]?.cancel();
          cancels[i]?.cancel();
        }
        expect(dog.watching).toBe(cancels.length - picked.length);
        for (const cancel of cancels) cancel.cancel();
        expect(dog.watching).toBe(0);
        expect(timeouts()).toBe(before);
      }),
    );
  });

  it('fires every expired entry but one that an earlier callback cancelled', () => {
    vi.useFakeTimers();
    const dog = new DeadlineWatchdog(10);
    const fired: string[] = [];
    let cancelC: Watch | null = null;
    dog.watch(5, () => {
      fired.push('a');
      cancelC?.cancel();
    });
    dog.watch(5, () => fired.push('b'));
    cancelC = dog.watch(5, () => fired.push('c'));
    dog.watch(60_000, () => fired.push('late'));
    vi.advanceTimersByTime(20);
    // 'c' had expired too, but 'a' cancelled it before its turn: cancelled entries never fire.
    expect(fired).toEqual(['a', 'b']);
    expect(dog.watching).toBe(1);
  });
});

describe('DeadlineWatchdog (memory)', () => {
  it('holds the callback (and what it closes over) while armed, and lets go of it once cancelled', async () => {
    const watchdog = new DeadlineWatchdog(60_000);
    // The callback closes over a stand-in for an upstream exchange, as the client's does.
    const arm = () => {
      const exchange = { buffers: [Buffer.alloc(1024)] };
      const onExpire = () => void exchange.buffers.length;
      return { watch: watchdog.watch(600_000, onExpire), ref: new WeakRef(onExpire) };
    };
    const { watch, ref } = arm();
    expect(await collected(ref)).toBe(false);
    watch.cancel();
    // The caller still holds the entry (the exchange keeps its watch to the end): the entry must
    // not keep the callback.
    expect(await collected(ref)).toBe(true);
    expect(watch.deadline).toBeGreaterThan(0);
    expect(watchdog.watching).toBe(0);
  });
});
