/**
 * The yardstick: the least work any translating proxy must do. It JSON-parses and re-serialises the
 * request and the reply; for streams it splits the upstream SSE into events, parses and
 * re-serialises each one, and writes once per upstream read. No translation, validation or logging.
 *
 *   node bench/passthrough.mjs --upstream http://127.0.0.1:PORT/v1 [--port N]
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

export async function startPassthrough({ upstream, port = 0, connections = 128 }) {
  const base = new URL(upstream);
  const path = `${base.pathname.replace(/\/+$/, '')}/chat/completions`;
  const pool = new Pool(base.origin, { connections, pipelining: 1, keepAliveTimeout: 4_000 });
  const server = createServer(async (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
      return res.end('{"status":"ok"}');
    }
    try {
      const parts = [];
      for await (const part of req) parts.push(part);
      const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      const stream = body.stream === true;
      const accept = stream ? 'text/event-stream' : 'application/json';
      const headers = { 'content-type': 'application/json', accept };
      const up = await pool.request({ method: 'POST', path, headers, body: JSON.stringify(body) });
      if (!stream) {
        const text = JSON.stringify(JSON.parse(await up.body.text()));
        res.writeHead(up.statusCode, { 'content-type': accept, 'content-length': Buffer.byteLength(text) });
        return res.end(text);
      }
      res.writeHead(up.statusCode, { 'content-type': accept, 'cache-control': 'no-cache' });
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of up.body) {
        const events = (buffered + decoder.decode(chunk, { stream: true })).split('\n\n');
        buffered = events.pop() ?? '';
        let out = '';
        for (const event of events) {
          const data = event.slice(event.indexOf('data:') + 5).trim();
          out += data === '[DONE]' ? 'data: [DONE]\n\n' : `data: ${JSON.stringify(JSON.parse(data))}\n\n`;
        }
        if (out !== '' && !res.write(out)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    } catch (err) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const close = async () => {
    server.closeAllConnections();
    await Promise.all([new Promise((resolve) => server.close(resolve)), pool.close()]);
  };
  return { port: typeof address === 'object' && address ? address.port : port, close };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string' } } });
  if (!values.upstream) throw new Error('usage: passthrough.mjs --upstream URL [--port N]');
  const running = await startPassthrough({ upstream: values.upstream, port: Number(values.port ?? 0) });
  process.stdout.write(`${JSON.stringify({ port: running.port })}\n`);
  const stop = () => running.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
