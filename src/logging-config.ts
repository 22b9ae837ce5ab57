/**
 * The one logger setup shared by the server and the CLI: pino JSON lines on stdout, with every
 * place a credential could appear redacted by path. Secret values themselves (configured keys)
 * are also scrubbed from free text with `redactSecrets` before they reach a log line or a client.
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines through pino-pretty (a dev tool: used only when installed). */
  pretty?: boolean;
  /** Where lines go; defaults to an asynchronous stdout destination (no sync writes on the hot path). */
  destination?: DestinationStream;
}

const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["api-key"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'upstreamHeaders.authorization',
  'apiKey',
  '*.apiKey',
];

export function createLogger(options: LoggerOptions): Logger {
  // Pretty when asked, or on a terminal when pino-pretty (a dev tool) is installed; JSON otherwise.
  const pretty = options.pretty === true || (process.stdout.isTTY === true && isInstalled('pino-pretty'));
  const destination =
    options.destination ??
    (pretty ? prettyDestination(options.pretty === true) : null) ??
    pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level,
      base: { service: 'llm-proxy' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** pino-pretty when it is installed; otherwise a note on stderr and JSON lines. */
function prettyDestination(asked: boolean): DestinationStream | null {
  if (!isInstalled('pino-pretty')) {
    if (asked)
      process.stderr.write(
        'llm-proxy: --pretty needs the pino-pretty package (npm install pino-pretty); logging JSON\n',
      );
    return null;
  }
  // In-process, not a pino transport: a transport's worker loads pino's files by path, which a
  // bundled build (scripts/build.mjs) does not have. Pretty output is for development anyway.
  const pretty = load('pino-pretty') as (options: { colorize: boolean }) => DestinationStream;
  return pretty({ colorize: process.stdout.isTTY === true });
}

const load = createRequire(import.meta.url);

function isInstalled(pkg: string): boolean {
  try {
    load.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** Replaces every occurrence of each secret in `text` (secrets shorter than 4 chars are ignored). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}
