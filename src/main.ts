#!/usr/bin/env node
/**
 * Entry point: parse flags, load the configuration, start the server.
 *
 *   llm-proxy [--config FILE] [--host H] [--port N]
 *
 * The config path also comes from LLM_PROXY_CONFIG; the default is ./llm-proxy.toml.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Config, ConfigError, DEFAULT_CONFIG_PATH, type Env, loadConfig } from './config.js';
import { createLogger, type Logger } from './logging-config.js';
import { buildServer, type Server } from './server.js';

export interface CliOptions {
  configPath: string;
  host?: string;
  port?: number;
  help: boolean;
}

const USAGE = `Usage: llm-proxy [--config FILE] [--host HOST] [--port PORT]

  --config FILE   TOML configuration (default: $LLM_PROXY_CONFIG or ${DEFAULT_CONFIG_PATH})
  --host HOST     address to bind (overrides [server] host; default 127.0.0.1)
  --port PORT     port to listen on (overrides [server] port; default 8080)
  -h, --help      show this help
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseCli(argv: readonly string[], env: Env): CliOptions {
  let values: { config?: string; host?: string; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options: CliOptions = {
    configPath: values.config ?? env.LLM_PROXY_CONFIG ?? DEFAULT_CONFIG_PATH,
    help: values.help === true,
  };
  if (values.host !== undefined) options.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
    }
    options.port = port;
  }
  return options;
}

/** Applies CLI overrides to the loaded configuration. */
export function withOverrides(config: Config, cli: CliOptions): Config {
  return {
    ...config,
    server: { ...config.server, host: cli.host ?? config.server.host, port: cli.port ?? config.server.port },
  };
}

export interface Running extends Server {
  url: string;
  close(): Promise<void>;
}

/** Starts the proxy and resolves once it listens. */
export async function start(config: Config, logger: Logger): Promise<Running> {
  const server = buildServer({ config, logger });
  await server.app.listen({ host: config.server.host, port: config.server.port });
  const address = server.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${port}`;
  logger.info(
    {
      url,
      config: config.source,
      targets: config.targets.map((t) => ({ name: t.name, base_url: t.baseUrl })),
    },
    `llm-proxy listening on ${url}`,
  );
  return { ...server, url, close: () => server.app.close() };
}

async function run(argv: readonly string[], env: Env): Promise<number> {
  let cli: CliOptions;
  let config: Config;
  try {
    cli = parseCli(argv, env);
    if (cli.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    config = withOverrides(loadConfig(cli.configPath, env), cli);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`llm-proxy: ${err.message}\n`);
      if (err instanceof UsageError) process.stderr.write(USAGE);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logging.level });
  let running: Running;
  try {
    running = await start(config, logger);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const detail = code === 'EADDRINUSE' ? 'address already in use' : (err as Error).message;
    process.stderr.write(
      `llm-proxy: cannot listen on ${config.server.host}:${config.server.port}: ${detail}\n`,
    );
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.flush();
  return 0;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  run(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`llm-proxy: fatal: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
