/**
 * readJsonBody / readBody on real node:http requests: the media type, the body limit (declared
 * length, chunked, far over the limit with the 413 still readable), Content-Encoding (gzip, br, a
 * bomb, corrupt data, unknown codings), JSON errors and prototype poisoning.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyError } from '../../src/errors.js';
import { MAX_JSON_DEPTH, readBody, readJsonBody } from '../../src/http/body-reader.js';
import { collected } from '../helpers/gc.js';

const DEFAULT_LIMIT = 1024;

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: replies are inspected as arbitrary JSON
  json: any;
}

let server: Server;
let origin: string;
let port: number;
const sockets = new Set<Socket>();

/**
 * `POST /json?limit=N` runs readJsonBody, `POST /raw?limit=N` readBody; either answers
 * `{ok, undefined, value}` or `{error: {status, message, code}}` with the error's status.
 */
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const limit = Number(url.searchParams.get('limit') ?? DEFAULT_LIMIT);
    let status = 200;
    let payload: unknown;
    try {
      if (url.pathname === '/raw') {
        const body = await readBody(req, limit);
        payload = { ok: true, value: body.toString('utf8'), bytes: body.length };
      } else {
        const value = await readJsonBody(req, limit);
        payload = { ok: true, undefined: value === undefined, value };
      }
    } catch (err) {
      if (err instanceof ProxyError) {
        status = err.status;
        payload = { error: { status: err.status, message: err.message, code: err.code } };
      } else {
        status = 500;
        payload = { error: { status: 500, message: String(err), code: 'not_a_proxy_error' } };
      }
    }
    let text: string;
    try {
      text = JSON.stringify(payload);
    } catch {
      // A value nested deeper than JSON.stringify can go (the deep-nesting test) is not echoed.
      text = JSON.stringify({ ok: true, value: '(too deep to echo)' });
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Sends a body with undici (it sets Content-Length for a Buffer or string). */
async function send(
  body: Buffer | string | null,
  headers: Record<string, string> = {},
  limit = DEFAULT_LIMIT,
  path = '/json',
): Promise<Reply> {
  const res = await undiciRequest(`${origin}${path}?limit=${limit}`, {
    method: 'POST',
    headers,
    body: body ?? undefined,
  });
  return { status: res.statusCode, json: await res.body.json() };
}

const json = (body: string | Buffer, headers: Record<string, string> = {}, limit = DEFAULT_LIMIT) =>
  send(body, { 'content-type': 'application/json', ...headers }, limit);

interface RawReply extends Reply {
  /** A socket error while talking to the server (e.g. a reset while still uploading), if any. */
  socketError: Error | null;
  /** Whether the server closed the connection before the whole upload was sent. */
  closedEarly: boolean;
  /** Body bytes the socket accepted (all of them unless the upload was cut short). */
  written: number;
}

/**
 * A raw HTTP/1.1 POST over a plain socket, for exact control of the framing: with `content-length`
 * in `headers` the chunks are sent as they are, without it they are framed as chunked
 * transfer-encoding. Like a plain client (curl), it sends the whole body even when the server has
 * already answered, and resolves once the reply was read and the upload is over. (node:http's client
 * is not used here: once a reply has ended it stops reporting 'drain' for the unfinished upload.)
 */
function rawPost(
  chunks: readonly Buffer[],
  headers: Record<string, string | number>,
  limit = DEFAULT_LIMIT,
): Promise<RawReply> {
  const chunked = !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length');
  const head = [
    `POST /json?limit=${limit} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ...(chunked ? ['transfer-encoding: chunked'] : []),
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let reply: Reply | null = null;
    let uploadOver = false;
    let socketError: Error | null = null;
    let closedEarly = false;
    let written = 0;
    const settle = () => {
      if (reply === null || !uploadOver) return;
      socket.destroy();
      resolve({ ...reply, socketError, closedEarly, written });
    };
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (reply !== null || end === -1) return;
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0]?.split(' ')[1]);
      const lengthLine = lines.find((l) => l.toLowerCase().startsWith('content-length:'));
      const length = Number(lengthLine?.slice('content-length:'.length).trim());
      if (!Number.isInteger(length)) {
        reject(new Error(`reply without content-length: ${lines.join(' | ')}`));
        return;
      }
      if (received.length < end + 4 + length) return;
      const text = received.subarray(end + 4, end + 4 + length).toString('utf8');
      try {
        reply = { status, json: JSON.parse(text) };
      } catch (err) {
        reject(new Error(`unreadable reply ${JSON.stringify(text)}: ${(err as Error).message}`));
        return;
      }
      settle();
    });
    socket.on('error', (err) => {
      socketError = err;
    });
    socket.on('close', () => {
      if (!uploadOver) {
        closedEarly = true;
        uploadOver = true;
      }
      if (reply === null)
        reject(socketError ?? new Error('the server closed the connection without a reply'));
      else settle();
    });
    const send = (data: Buffer | string) =>
      new Promise<boolean>((done) => {
        if (socket.destroyed) {
          done(false);
          return;
        }
        if (socket.write(data)) done(true);
        else {
          const onDrain = () => {
            socket.off('close', onClose);
            done(true);
          };
          const onClose = () => {
            socket.off('drain', onDrain);
            done(false);
          };
          socket.once('drain', onDrain);
          socket.once('close', onClose);
        }
      });
    const upload = async () => {
      if (!(await send(head))) return;
      for (const chunk of chunks) {
        if (chunk.length === 0) continue;
        const framed = chunked
          ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
          : chunk;
        if (!(await send(framed))) return;
        written += chunk.length;
      }
      if (chunked && !(await send('0\r\n\r\n'))) return;
      uploadOver = true;
      settle();
    };
    upload().catch(reject);
  });
}

/** `total` bytes of JSON: a string value padded to the size. */
function jsonOfSize(total: number): Buffer {
  const overhead = '{"a":""}'.length;
  const body = Buffer.from(`{"a":"${'x'.repeat(total - overhead)}"}`);
  expect(body.length).toBe(total);
  return body;
}

function split(buffer: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) out.push(buffer.subarray(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('media type', () => {
  it('accepts application/json', async () => {
    const r = await json('{"model":"m","n":1}');
    expect(r).toEqual({ status: 200, json: { ok: true, undefined: false, value: { model: 'm', n: 1 } } });
  });

  it('accepts it in any case and with parameters (Application/JSON; charset=utf-8)', async () => {
    const r = await send('{"a":[1,2]}', { 'content-type': 'Application/JSON; charset=utf-8' });
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual({ a: [1, 2] });
  });

  it('refuses text/plain with 415 unsupported_media_type', async () => {
    const r = await send('{"a":1}', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.json.error).toMatchObject({ status: 415, code: 'unsupported_media_type' });
  });

  it('refuses a type that merely starts like JSON (application/jsonx)', async () => {
    const r = await send('{"a":1}', { 'content-type': 'application/jsonx' });
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('unsupported_media_type');
  });

  it('no content-type and no body -> undefined (left to the validator)', async () => {
    const r = await send(null);
    expect(r).toEqual({ status: 200, json: { ok: true, undefined: true } });
  });

  it('no content-type but a body -> 415', async () => {
    const r = await rawPost([Buffer.from('{"a":1}')], { 'content-length': 7 });
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('unsupported_media_type');
  });

  it('no content-type and an empty chunked body -> undefined, as with no body at all', async () => {
    const r = await rawPost([], {});
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true, undefined: true });
  });

  it('no content-type but a chunked body -> 415', async () => {
    const r = await rawPost([Buffer.from('{"a":'), Buffer.from('1}')], {});
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('unsupported_media_type');
  });
});

describe('JSON', () => {
  it('an empty application/json body -> 400 invalid_json', async () => {
    const r = await json('');
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_json');
    expect(r.json.error.message).toMatch(/empty/i);
  });

  it('an empty chunked application/json body -> 400 invalid_json', async () => {
    const r = await rawPost([], { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_json');
  });

  it('invalid JSON -> 400 invalid_json quoting the parser message', async () => {
    const text = '{"a": 1,,}';
    let parserMessage = '';
    try {
      JSON.parse(text);
    } catch (err) {
      parserMessage = (err as Error).message;
    }
    expect(parserMessage).not.toBe('');
    const r = await json(text);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_json');
    expect(r.json.error.message).toContain(parserMessage);
  });

  it('scalars and arrays are returned as parsed', async () => {
    expect((await json('"text"')).json.value).toBe('text');
    expect((await json('[1,{"b":null}]')).json.value).toEqual([1, { b: null }]);
  });

  it('decodes UTF-8 split across chunks', async () => {
    const body = Buffer.from(JSON.stringify({ s: 'héllo wörld ✓' }));
    // Split inside the two-byte é.
    const at = body.indexOf(Buffer.from('é')) + 1;
    const r = await rawPost([body.subarray(0, at), body.subarray(at)], {
      'content-type': 'application/json',
    });
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual({ s: 'héllo wörld ✓' });
  });
});

/** Whether an own "__proto__" key appears anywhere in a parsed value. */
function hasOwnProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some(hasOwnProtoKey);
}

describe('prototype poisoning', () => {
  const cases: Array<[string, string]> = [
    ['a literal __proto__ key at the top level', '{"__proto__":{"admin":true}}'],
    ['a literal __proto__ key nested in an object', '{"a":{"b":{"__proto__":{"admin":true}}}}'],
    ['a literal __proto__ key inside an array', '{"a":[1,{"__proto__":{"admin":true}}]}'],
    [
      'an escaped \\u005f\\u005fproto\\u005f\\u005f key at the top level',
      String.raw`{"\u005f\u005fproto\u005f\u005f":{"admin":true}}`,
    ],
    ['an escaped key nested', String.raw`{"a":{"\u005f\u005fproto\u005f\u005f":{"admin":true}}}`],
    ['a partly escaped key', String.raw`{"_\u005fproto__":{"admin":true}}`],
  ];

  for (const [name, body] of cases) {
    it(`${name} -> 400 invalid_json`, async () => {
      // The body really parses to an own __proto__ key somewhere (the check has something to find).
      expect(hasOwnProtoKey(JSON.parse(body))).toBe(true);
      const r = await json(body);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe('invalid_json');
      expect(r.json.error.message).toMatch(/prototype/);
    });
  }

  it('"__proto__" as a string value is fine', async () => {
    const r = await json('{"a":"__proto__","b":["__proto__"]}');
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual({ a: '__proto__', b: ['__proto__'] });
  });

  it('"constructor": {"prototype": …} -> 400 invalid_json; a plain "constructor" field is fine', async () => {
    const poisoned = await json('{"a":[{"constructor":{"prototype":{"admin":true}}}]}');
    expect(poisoned.status).toBe(400);
    expect(poisoned.json.error.message).toMatch(/prototype/);
    const plain = await json('{"constructor":"a string","b":{"constructor":{"name":"x"}}}');
    expect(plain.status).toBe(200);
  });

  it('a body nested 20,000 deep (with an escape, or a poisoning key) is a 400, not a stack overflow', async () => {
    const depth = 20_000;
    const limit = 1024 * 1024;
    for (const inner of ['"\\u0041"', '{"\\u005f_proto__":1}', '{"a":1}']) {
      const refused = await json(`${'['.repeat(depth)}${inner}${']'.repeat(depth)}`, {}, limit);
      expect(refused.status).toBe(400);
      expect(refused.json.error.code).toBe('invalid_json');
    }
  });

  it(`nesting up to ${MAX_JSON_DEPTH} levels is accepted, one more is refused (arrays and objects)`, async () => {
    const limit = 1024 * 1024;
    const arrays = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;
    const objects = (n: number) => `${'{"a":'.repeat(n - 1)}{"a":1}${'}'.repeat(n - 1)}`;
    for (const nest of [arrays, objects]) {
      const ok = await json(nest(MAX_JSON_DEPTH), {}, limit);
      expect(ok.status).toBe(200);
      const deep = await json(nest(MAX_JSON_DEPTH + 1), {}, limit);
      expect(deep.status).toBe(400);
      expect(deep.json.error).toMatchObject({ status: 400, code: 'invalid_json' });
      expect(deep.json.error.message).toMatch(new RegExp(`nested more than ${MAX_JSON_DEPTH} levels deep`));
    }
  });

  it('a wide body (many siblings, little depth) is accepted', async () => {
    const wide = JSON.stringify({ items: Array.from({ length: 5000 }, (_, i) => ({ i, tags: [i, [i]] })) });
    const r = await json(wide, {}, 1024 * 1024);
    expect(r.status).toBe(200);
  });

  it('a normal body with \\u00e9 escapes is accepted', async () => {
    const r = await json(String.raw`{"text":"caf\u00e9 cr\u00e8me","n\u00e9":1}`);
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual({ text: 'café crème', né: 1 });
  });
});

describe('body limit', () => {
  const LIMIT = 1024;

  it('exactly `limit` bytes with Content-Length is accepted', async () => {
    const body = jsonOfSize(LIMIT);
    const r = await rawPost(
      [body],
      { 'content-type': 'application/json', 'content-length': body.length },
      LIMIT,
    );
    expect(r.status).toBe(200);
    expect(r.json.value.a.length).toBe(LIMIT - 8);
  });

  it('limit + 1 bytes with Content-Length -> 413 request_too_large', async () => {
    const body = jsonOfSize(LIMIT + 1);
    const r = await rawPost(
      [body],
      { 'content-type': 'application/json', 'content-length': body.length },
      LIMIT,
    );
    expect(r.status).toBe(413);
    expect(r.json.error).toMatchObject({ status: 413, code: 'request_too_large' });
    expect(r.json.error.message).toContain(String(LIMIT));
  });

  it('exactly `limit` bytes chunked (no Content-Length) is accepted', async () => {
    const body = jsonOfSize(LIMIT);
    const r = await rawPost(split(body, 100), { 'content-type': 'application/json' }, LIMIT);
    expect(r.status).toBe(200);
    expect(r.json.value.a.length).toBe(LIMIT - 8);
  });

  it('limit + 1 bytes chunked -> 413 request_too_large', async () => {
    const body = jsonOfSize(LIMIT + 1);
    const r = await rawPost(split(body, 100), { 'content-type': 'application/json' }, LIMIT);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('request_too_large');
  });

  it('readBody alone counts bytes the same way', async () => {
    const ok = await send(Buffer.alloc(LIMIT, 0x61), {}, LIMIT, '/raw');
    expect(ok.status).toBe(200);
    expect(ok.json.bytes).toBe(LIMIT);
    const over = await send(Buffer.alloc(LIMIT + 1, 0x61), {}, LIMIT, '/raw');
    expect(over.status).toBe(413);
  });

  const BIG = 5 * 1024 * 1024;

  it('5 MB declared with Content-Length, limit 1 KB: the 413 reply is still readable', async () => {
    const body = Buffer.alloc(BIG, 0x20);
    const r = await rawPost(
      split(body, 64 * 1024),
      { 'content-type': 'application/json', 'content-length': body.length },
      LIMIT,
    );
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('request_too_large');
    // The whole body went out and the connection was not reset under the client.
    expect(r.written).toBe(BIG);
    expect(r.socketError).toBeNull();
    expect(r.closedEarly).toBe(false);
  }, 30_000);

  it('5 MB chunked, limit 1 KB: the 413 reply is still readable', async () => {
    const body = Buffer.alloc(BIG, 0x20);
    const r = await rawPost(split(body, 64 * 1024), { 'content-type': 'application/json' }, LIMIT);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('request_too_large');
    // The whole body went out and the connection was not reset under the client.
    expect(r.written).toBe(BIG);
    expect(r.socketError).toBeNull();
    expect(r.closedEarly).toBe(false);
  }, 30_000);
});

describe('Content-Encoding', () => {
  const value = { model: 'm', input: 'compressed ✓ '.repeat(20) };
  const plain = Buffer.from(JSON.stringify(value));

  it('gzip is decoded', async () => {
    const r = await json(gzipSync(plain), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual(value);
  });

  it('br is decoded', async () => {
    const r = await json(brotliCompressSync(plain), { 'content-encoding': 'br' });
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual(value);
  });

  it('the coding name is case-insensitive and identity is ignored', async () => {
    const r = await json(gzipSync(plain), { 'content-encoding': 'identity, GZIP' });
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual(value);
  });

  it('a chunked gzip body is decoded', async () => {
    const r = await rawPost(split(gzipSync(plain), 7), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual(value);
  });

  it('the limit applies to the decoded bytes: just over it -> 413', async () => {
    const body = jsonOfSize(DEFAULT_LIMIT + 1);
    const compressed = gzipSync(body);
    expect(compressed.length).toBeLessThan(DEFAULT_LIMIT);
    const r = await json(compressed, { 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('request_too_large');
    // And exactly the limit decoded is fine.
    const ok = await json(gzipSync(jsonOfSize(DEFAULT_LIMIT)), { 'content-encoding': 'gzip' });
    expect(ok.status).toBe(200);
  });

  it('a gzip bomb (50 MB of zeros) with a 64 KiB limit -> 413', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await json(bomb, { 'content-encoding': 'gzip' }, 64 * 1024);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('request_too_large');
  }, 10_000);

  it('corrupt gzip -> 400 invalid_content_encoding', async () => {
    const corrupt = gzipSync(plain);
    // Keep the gzip header, garble the deflate data.
    for (let i = 10; i < corrupt.length - 8; i++) corrupt[i] = 0xff;
    const r = await json(corrupt, { 'content-encoding': 'gzip' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_content_encoding');
    expect(r.json.error.message).toContain('gzip');
  });

  it('bytes that are not gzip at all -> 400 invalid_content_encoding', async () => {
    const r = await json(plain, { 'content-encoding': 'gzip' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_content_encoding');
  });

  it("an unknown coding ('lz4') -> 415 unsupported_content_encoding", async () => {
    const r = await json(plain, { 'content-encoding': 'lz4' });
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('unsupported_content_encoding');
    expect(r.json.error.message).toContain('lz4');
  });

  it('the server still answers on the same connection after a refused coding', async () => {
    // Two requests over one keep-alive undici connection: the refused body was drained.
    const first = await json(plain, { 'content-encoding': 'lz4' });
    const second = await json(plain);
    expect(first.status).toBe(415);
    expect(second.status).toBe(200);
  });
});

describe('memory', () => {
  it('the body is freed once the caller drops it, though the request and its listeners live on', async () => {
    // A streamed reply keeps its request (and the listeners left on it) for the whole stream.
    let request: IncomingMessage | undefined;
    let ref: WeakRef<Buffer> | undefined;
    const own = createServer(async (req, res) => {
      request = req;
      const body = await readBody(req, DEFAULT_LIMIT);
      ref = new WeakRef(body);
      res.end(String(body.length));
    });
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    try {
      const { port: ownPort } = own.address() as AddressInfo;
      const reply = await undiciRequest(`http://127.0.0.1:${ownPort}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'x'.repeat(200) }),
      });
      expect(await reply.body.text()).toBe('211');
      expect(request?.listenerCount('data')).toBe(1);
      expect(await collected(ref as WeakRef<Buffer>)).toBe(true);
    } finally {
      own.closeAllConnections();
      await new Promise((resolve) => own.close(resolve));
    }
  });
});
