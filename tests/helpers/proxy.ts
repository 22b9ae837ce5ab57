/**
 * Starts the real proxy in-process on 127.0.0.1:0 with a configuration written as TOML, and
 * captures its log lines so tests can assert on them.
 */
import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';
import { type Env, parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging-config.js';
import { type Running, start } from '../../src/main.js';

export interface TestProxy extends Running {
  /** Every JSON log line written so far. */
  // biome-ignore lint/suspicious/noExplicitAny: log lines are arbitrary JSON
  logs: any[];
  logText(): string;
}

/**
 * `targets` is the TOML for the [targets.*] tables (and anything else after [server]);
 * `serverExtra` is extra TOML lines for the [server] table (e.g. `body_limit = 1024`).
 */
export async function startProxy(
  toml: string,
  env: Env = {},
  level = 'debug',
  serverExtra = '',
): Promise<TestProxy> {
  // Tests keep responses in memory unless they configure a store themselves.
  const store = /^\[store\]/m.test(toml) ? '' : '[store]\nbackend = "memory"\n\n';
  const text = `[server]\nhost = "127.0.0.1"\nport = 0\n${serverExtra}\n\n[logging]\nlevel = "${level}"\n\n${store}${toml}`;
  const config = parseConfig(text, 'test.toml', env);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({
    level: config.logging.level,
    destination: sink as unknown as DestinationStream,
  });
  const running = await start(config, logger);
  // defineProperty, not Object.assign: assign would read the getter once and freeze an empty list.
  Object.defineProperty(running, 'logs', { get: () => lines.map((l) => JSON.parse(l)), enumerable: true });
  return Object.assign(running as Running & Pick<TestProxy, 'logs'>, { logText: () => lines.join('\n') });
}

/** The TOML for one target pointing at a mock upstream. */
export function oneTarget(baseUrl: string, extra = ''): string {
  return `[targets.mock]\nbase_url = "${baseUrl}"\n${extra}\n`;
}
