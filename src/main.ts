#!/usr/bin/env node
/**
 * Entry point: parse flags, load the configuration, start the server, stop cleanly on signals.
 *
 *   llm-proxy [--config FILE] [--host H] [--port N] [--pretty]
 *   llm-proxy --upstream URL [--api-key-env NAME] [--host H] [--port N]
 *
 * The config path also comes from LLM_PROXY_CONFIG; the default is ./llm-proxy.toml.
 */
import { realpathSync } from 'node:fs';
import type { IncomingMessage, Server as NodeServer } from 'node:http';
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Config,
  ConfigError,
  DEFAULT_CONFIG_PATH,
  type Env,
  loadConfig,
  quickStartConfig,
} from './config.js';
import { ProxyError } from './errors.js';
import { createLogger, type Logger, redactSecrets } from './logging-config.js';
import { buildServer, type Server } from './server.js';

export interface CliOptions {
  configPath: string;
  upstream?: string;
  apiKeyEnv?: string;
  host?: string;
  port?: number;
  pretty: boolean;
  help: boolean;
}

const USAGE = `Usage: llm-proxy [--config FILE] [--host HOST] [--port PORT] [--pretty]
       llm-proxy --upstream URL [--api-key-env NAME] [--host HOST] [--port PORT]

  --config FILE       TOML configuration (default: $LLM_PROXY_CONFIG or ${DEFAULT_CONFIG_PATH})
  --upstream URL      no configuration file: serve every model from this Chat Completions base URL
  --api-key-env NAME  with --upstream: the environment variable holding the upstream's key
  --host HOST         address to bind (overrides [server] host; default 127.0.0.1)
  --port PORT         port to listen on (overrides [server] port; default 8080)
  --pretty            human-readable logs (needs the pino-pretty package)
  -h, --help          show this help
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseCli(argv: readonly string[], env: Env): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        upstream: { type: 'string' },
        'api-key-env': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        pretty: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  if (str('upstream') !== undefined && str('config') !== undefined) {
    throw new UsageError('--upstream and --config exclude each other');
  }
  if (str('api-key-env') !== undefined && str('upstream') === undefined) {
    throw new UsageError('--api-key-env goes with --upstream (in a file, use api_key_env)');
  }
  const options: CliOptions = {
    configPath: str('config') ?? env.LLM_PROXY_CONFIG ?? DEFAULT_CONFIG_PATH,
    pretty: values.pretty === true,
    help: values.help === true,
  };
  for (const [flag, key] of [
    ['upstream', 'upstream'],
    ['api-key-env', 'apiKeyEnv'],
    ['host', 'host'],
  ] as const) {
    const v = str(flag);
    if (v !== undefined) options[key] = v;
  }
  const port = str('port');
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n > 65535)
      throw new UsageError(`--port must be an integer from 0 to 65535, got "${port}"`);
    options.port = n;
  }
  return options;
}

/** The configuration the flags describe: a file, or `--upstream` without one. */
export function configFromCli(cli: CliOptions, env: Env): Config {
  const config =
    cli.upstream !== undefined
      ? quickStartConfig(cli.upstream, cli.apiKeyEnv ?? null, env)
      : loadConfig(cli.configPath, env);
  return withOverrides(config, cli);
}

/** Applies CLI overrides to the loaded configuration. */
export function withOverrides(config: Config, cli: CliOptions): Config {
  return {
    ...config,
    server: { ...config.server, host: cli.host ?? config.server.host, port: cli.port ?? config.server.port },
    logging: { ...config.logging, pretty: cli.pretty || config.logging.pretty },
  };
}

export interface Running extends Server {
  url: string;
  adminUrl: string | null;
  close(): Promise<void>;
}

/** Starts the proxy (and its admin listener, if configured) and resolves once they listen. */
export async function start(config: Config, logger: Logger): Promise<Running> {
  const server = await buildServer({ config, logger });
  const url = await listen(server.app, config.server.host, config.server.port);
  const admin = config.server.admin;
  const adminUrl = server.admin && admin ? await listen(server.admin, admin.host, admin.port) : null;
  const secrets = config.targets.flatMap((t) => t.secrets);
  logger.info(
    {
      url,
      adminUrl,
      config: config.source,
      auth: config.auth.apiKeys.length > 0,
      targets: config.targets.map((t) => ({
        name: t.name,
        base_url: t.baseUrls.map((u) => redactSecrets(u, secrets)),
      })),
    },
    `llm-proxy listening on ${url}`,
  );
  const unused = [
    unusedConnections(server.app.server),
    ...(server.admin ? [unusedConnections(server.admin.server)] : []),
  ];
  const close = async () => {
    const closing = Promise.all([server.app.close(), server.admin?.close()]);
    // Connections that never sent a request (pre-connects, health probes that only open a socket)
    // are not "idle" to Node, so server.close() would wait for them until the headers timeout.
    // In-flight requests and streams are left to finish.
    const sweep = setInterval(() => {
      for (const drop of unused) drop();
    }, 100);
    for (const drop of unused) drop();
    try {
      await closing;
    } finally {
      clearInterval(sweep);
    }
  };
  return { ...server, url, adminUrl, close };
}

/** Tracks a listener's connections; the returned function destroys those that never sent a request. */
function unusedConnections(server: NodeServer): () => void {
  const sockets = new Set<Socket>();
  const used = new WeakSet<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (request: IncomingMessage) => used.add(request.socket));
  return () => {
    for (const socket of sockets) if (!used.has(socket) && socket.bytesRead === 0) socket.destroy();
  };
}

async function listen(app: Server['app'], host: string, port: number): Promise<string> {
  // Listening on the raw server (after ready) instead of app.listen(): Fastify would log its own
  // "listening" line, and the one start-up line is ours.
  await app.ready();
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen({ host, port }, () => {
      app.server.off('error', reject);
      resolve();
    });
  });
  const address = app.server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests and streams finish for up to the grace
 * period, then cut what is left, close the upstream pools and exit 0. A second signal exits now.
 */
function stopOnSignals(running: Running, config: Config, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve();
        return;
      }
      stopping = true;
      logger.info(
        { signal, graceMs: config.server.shutdownGraceMs },
        'shutting down: finishing in-flight requests',
      );
      const timer = setTimeout(() => {
        logger.warn('grace period over: closing the remaining connections');
        running.app.server.closeAllConnections();
      }, config.server.shutdownGraceMs);
      timer.unref();
      running.close().then(
        () => resolve(),
        (err: unknown) => {
          logger.error({ err }, 'error while shutting down');
          resolve();
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function run(argv: readonly string[], env: Env): Promise<number> {
  let config: Config;
  try {
    const cli = parseCli(argv, env);
    if (cli.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    config = configFromCli(cli, env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`llm-proxy: ${err.message}\n`);
      if (err instanceof UsageError) process.stderr.write(USAGE);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logging.level, pretty: config.logging.pretty });
  let running: Running;
  try {
    running = await start(config, logger);
  } catch (err) {
    if (err instanceof ProxyError) {
      // e.g. the SQLite store cannot be opened
      process.stderr.write(`llm-proxy: ${err.message}\n`);
      return 1;
    }
    const code = (err as NodeJS.ErrnoException).code;
    const detail = code === 'EADDRINUSE' ? 'address already in use' : (err as Error).message;
    process.stderr.write(
      `llm-proxy: cannot listen on ${config.server.host}:${config.server.port}: ${detail}\n`,
    );
    return 1;
  }
  await stopOnSignals(running, config, logger);
  logger.info('stopped');
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
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

/** Runs the CLI with this process's arguments and exits with its code (the built launcher calls it). */
export function main(): void {
  run(process.argv.slice(2), process.env).then(
    (code) => {
      // Exit explicitly: a keep-alive socket or timer must not hold a stopped proxy open.
      setImmediate(() => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`llm-proxy: fatal: ${(err as Error)?.message ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

if (isEntryPoint()) main();
