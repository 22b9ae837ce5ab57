/**
 * HTTPS upstreams: certificates are verified; `ca_file` adds a CA (here a self-signed upstream's own
 * certificate) to the trusted roots. The certificate is made with the openssl CLI at test time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletion } from '../helpers/mock-upstream.js';
import { startProxy } from '../helpers/proxy.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const OPENSSL = hasOpenssl();
if (!OPENSSL) console.warn('tls.test.ts: skipped, the openssl CLI is not installed');

describe.skipIf(!OPENSSL)('HTTPS upstream certificates', () => {
  let dir: string;
  let server: Server;
  let baseUrl: string;
  let certFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llm-proxy-tls-'));
    certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (_req, res) => {
      const body = JSON.stringify(chatCompletion({ content: 'over TLS' }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  // biome-ignore lint/suspicious/noExplicitAny: the test reads arbitrary reply JSON
  async function ask(extra: string): Promise<{ status: number; json: any }> {
    const proxy = await startProxy(
      `[targets.tls]\nbase_url = "${baseUrl}"\nretries = { max = 0 }\n${extra}\n`,
    );
    try {
      const res = await fetch(`${proxy.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', input: 'Hi', store: false }),
      });
      return { status: res.status, json: await res.json() };
    } finally {
      await proxy.close();
    }
  }

  it('refuses a certificate no trusted CA signed: 502 upstream_unreachable naming TLS', async () => {
    const r = await ask('');
    expect(r.status).toBe(502);
    expect(r.json.error.code).toBe('upstream_unreachable');
    expect(r.json.error.message).toMatch(/TLS|certificate/i);
  });

  it('trusts it once ca_file names it', async () => {
    const r = await ask(`ca_file = "${certFile}"`);
    expect(r.status).toBe(200);
    expect(r.json.output[0].content[0].text).toBe('over TLS');
  });
});
