/**
 * The real Codex CLI (`codex exec`, pinned version, installed on demand into .cache/codex/)
 * through the proxy, against a scripted Chat Completions upstream: the first turn asks Codex to
 * run a harmless shell command through its `exec_command` tool, the next answers with text.
 *
 * What it proves: Codex's requests (namespace tools, the hosted `web_search` tool, `store: false`
 * with `include: ["reasoning.encrypted_content"]`, streaming) are accepted; the tool call reaches
 * Codex, which runs the command and sends its output back; the reasoning item Codex resends (its
 * text and the sealed blob) is replayed to the upstream; the final text is printed; exit code 0.
 * A recording forwarder between Codex and the proxy keeps what Codex itself sent.
 *
 * Skipped, with the reason printed, when the CLI cannot be installed or does not run here
 * (LLM_PROXY_SKIP_CODEX=1 skips it on purpose).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyChunks } from '../helpers/conversation.js';
import {
  type ChatReplyOptions,
  chatCompletion,
  MockUpstream,
  sendJson,
  sendSse,
} from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { CODEX_VERSION, ensureCodex } from './codex-install.js';

const codex = await ensureCodex();
if (!codex.ok) console.warn(`[codex e2e] SKIPPED: ${codex.reason}`);
else if (codex.installMs !== null)
  console.info(`[codex e2e] installed @openai/codex@${CODEX_VERSION} in ${codex.installMs} ms`);

const MARKER = 'codex-e2e-ok';
const FINAL = `The command printed ${MARKER}.`;
const REASONING = 'I should run echo to check the shell.';

let upstream: MockUpstream;
let proxy: TestProxy;
let forwarder: Server;
let forwarderUrl: string;
/** What Codex sent, as it sent it. */
const codexRequests: Array<{ path: string; headers: Record<string, unknown>; body: Json }> = [];
let dirs: string[] = [];

// biome-ignore lint/suspicious/noExplicitAny: Codex's payloads are inspected as arbitrary JSON
type Json = any;

/**
 * Answers by the conversation's state rather than by request count, so an extra request from
 * Codex (a retry, a new version's side request) cannot shift the script: after a tool result, the
 * final text; otherwise, a call to Codex's shell tool.
 */
function scriptedReply(messages: Array<{ role: string }>): ChatReplyOptions {
  if (messages.at(-1)?.role === 'tool') return { content: FINAL };
  return {
    reasoning_content: REASONING,
    tool_calls: [
      { id: 'call_codex_1', name: 'exec_command', arguments: JSON.stringify({ cmd: `echo ${MARKER}` }) },
    ],
  };
}

beforeAll(async () => {
  upstream = await MockUpstream.start((req, res) => {
    const reply = scriptedReply(req.body?.messages ?? []);
    if (req.body?.stream === true) sendSse(res, replyChunks(reply));
    else sendJson(res, 200, chatCompletion(reply));
  });
  proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'info');
  const target = new URL(proxy.url);
  forwarder = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: Json = null;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        // compressed or not JSON: kept as null
      }
      codexRequests.push({ path: req.url ?? '', headers: req.headers, body });
      const forward = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(raw);
    });
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  forwarderUrl = `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => (forwarder ? forwarder.close(resolve) : resolve(undefined)));
  await proxy?.close();
  await upstream?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runCodex(bin: string, prompt: string, timeoutMs: number): Promise<Exit> {
  const home = mkdtempSync(join(tmpdir(), 'llm-proxy-codex-home-'));
  const cwd = mkdtempSync(join(tmpdir(), 'llm-proxy-codex-cwd-'));
  dirs.push(home, cwd);
  writeFileSync(
    join(home, 'config.toml'),
    [
      'model = "test-model"',
      'model_provider = "llmproxy"',
      '',
      '[model_providers.llmproxy]',
      'name = "llm-proxy"',
      `base_url = "${forwarderUrl}/v1"`,
      'wire_api = "responses"',
      'env_key = "LLM_PROXY_CODEX_TEST_KEY"',
      '',
    ].join('\n'),
  );
  // The command is the mock's own `echo`; running it outside Codex's sandbox keeps the test
  // independent of whether this machine allows bubblewrap's user namespaces.
  const args = ['exec', '--skip-git-repo-check', '--sandbox', 'danger-full-access', prompt];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd,
      env: { ...process.env, CODEX_HOME: home, HOME: home, LLM_PROXY_CODEX_TEST_KEY: 'sk-dummy-codex' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('Codex CLI through the proxy', () => {
  it.skipIf(!codex.ok)(
    `codex exec runs a shell tool call and prints the final answer (@openai/codex@${CODEX_VERSION})`,
    async () => {
      if (!codex.ok) return;
      const exit = await runCodex(codex.bin, `Run echo ${MARKER} and tell me what it printed.`, 90_000);
      const context = `exit ${exit.code} (${exit.signal})\n--- stdout\n${exit.stdout}\n--- stderr\n${exit.stderr.slice(-3000)}`;
      expect(exit.code, context).toBe(0);
      // `codex exec` prints the last agent message on stdout.
      expect(exit.stdout.trim(), context).toBe(FINAL);

      const turns = upstream.requests.filter((r) => r.path === '/v1/chat/completions');
      expect(turns.length, context).toBeGreaterThanOrEqual(2);
      const first = turns[0]?.body;
      expect(first.stream).toBe(true);
      const names: string[] = first.tools.map((t: { function: { name: string } }) => t.function.name);
      expect(names).toContain('exec_command');
      // Codex's namespace tools arrive flattened; its hosted web_search is dropped (default policy).
      expect(names.some((n) => /^[a-zA-Z0-9_-]+__[a-zA-Z0-9_-]+$/.test(n))).toBe(true);
      expect(first.tools.every((t: { type: string }) => t.type === 'function')).toBe(true);

      // The turn after the call carries Codex's real command output, and the reasoning Codex
      // sent back rides on the calling assistant message.
      const last = turns.at(-1)?.body;
      const call = last.messages.find((m: { tool_calls?: unknown[] }) => m.tool_calls);
      expect(call).toMatchObject({
        role: 'assistant',
        reasoning_content: REASONING,
        tool_calls: [
          {
            id: 'call_codex_1',
            type: 'function',
            function: { name: 'exec_command', arguments: JSON.stringify({ cmd: `echo ${MARKER}` }) },
          },
        ],
      });
      const result = last.messages.at(-1);
      expect(result).toMatchObject({ role: 'tool', tool_call_id: 'call_codex_1' });
      expect(result.content).toContain(MARKER);

      // What Codex sent: streaming, store: false, asking for sealed reasoning, with a namespace
      // and web_search among its tools; on the second turn, the reasoning item with the blob.
      const sent = codexRequests.filter((r) => r.path === '/v1/responses');
      expect(sent.length).toBe(turns.length);
      expect(sent[0]?.body).toMatchObject({
        stream: true,
        store: false,
        include: ['reasoning.encrypted_content'],
      });
      const toolTypes = sent[0]?.body.tools.map((t: { type: string }) => t.type);
      expect(toolTypes).toContain('namespace');
      expect(toolTypes).toContain('web_search');
      const resent = sent.at(-1)?.body.input.find((i: { type: string }) => i.type === 'reasoning');
      expect(resent?.encrypted_content).toMatch(/^llmproxy\.v1\./);

      const requests = proxy.logs.filter((l) => l.msg === 'request' && l.route === '/v1/responses');
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(requests.every((l) => l.status === 200 && l.outcome === 'completed')).toBe(true);
      const dropped = proxy.logs.filter((l) => l.msg === 'dropped hosted tools the upstream cannot run');
      expect(dropped.length).toBe(requests.length);
      expect(dropped[0]?.dropped).toEqual(['web_search']);
    },
    120_000,
  );
});
