/**
 * The Codex CLI for the end-to-end test. `@openai/codex` is ~400 MB with its native binary, so it
 * is not a project dependency: the pinned version is installed on demand into the git-ignored
 * `.cache/codex/` (about 20 s on a warm network) and reused while it is there. Installs go to a
 * temporary directory that is renamed into place, so two test runs never share a half-written one.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CODEX_VERSION = '0.171.0';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CODEX_DIR = join(ROOT, '.cache', 'codex');
const BIN = (dir: string) => join(dir, 'node_modules', '.bin', 'codex');

export type CodexProbe = { ok: true; bin: string; installMs: number | null } | { ok: false; reason: string };

function installedVersion(dir: string): string | null {
  try {
    const pkg = join(dir, 'node_modules', '@openai', 'codex', 'package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

async function install(): Promise<number> {
  const started = Date.now();
  const tmp = `${CODEX_DIR}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await run(
      'npm',
      ['install', '--prefix', tmp, '--no-save', '--no-audit', '--no-fund', `@openai/codex@${CODEX_VERSION}`],
      { timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
    if (installedVersion(CODEX_DIR) !== CODEX_VERSION) {
      rmSync(CODEX_DIR, { recursive: true, force: true });
      try {
        renameSync(tmp, CODEX_DIR);
      } catch (err) {
        // Another run renamed its install into place first: use that one.
        if (installedVersion(CODEX_DIR) !== CODEX_VERSION) throw err;
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return Date.now() - started;
}

/**
 * Installs the pinned Codex CLI when it is missing and checks that the binary runs here. Never
 * throws: a machine that cannot install or run it gets the reason, and the test is skipped.
 */
export async function ensureCodex(): Promise<CodexProbe> {
  if (process.env.LLM_PROXY_SKIP_CODEX === '1') {
    return { ok: false, reason: 'LLM_PROXY_SKIP_CODEX=1 is set' };
  }
  let installMs: number | null = null;
  if (installedVersion(CODEX_DIR) !== CODEX_VERSION || !existsSync(BIN(CODEX_DIR))) {
    try {
      installMs = await install();
    } catch (err) {
      const e = err as { message?: string; stderr?: string };
      return {
        ok: false,
        reason: `npm install @openai/codex@${CODEX_VERSION} into ${CODEX_DIR} failed: ${(e.stderr || e.message || String(err)).trim().slice(-500)}`,
      };
    }
  }
  try {
    const { stdout } = await run(BIN(CODEX_DIR), ['--version'], { timeout: 60_000 });
    if (!stdout.includes(CODEX_VERSION)) {
      return {
        ok: false,
        reason: `codex --version printed ${JSON.stringify(stdout.trim())}, not ${CODEX_VERSION}`,
      };
    }
  } catch (err) {
    return {
      ok: false,
      reason: `the Codex binary does not run on this machine (${process.platform}/${process.arch}): ${(err as Error).message.slice(0, 500)}`,
    };
  }
  return { ok: true, bin: BIN(CODEX_DIR), installMs };
}
