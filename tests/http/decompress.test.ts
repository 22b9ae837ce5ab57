/**
 * Compressed request bodies end to end (Codex compresses its large requests): gzip, deflate, br
 * and zstd are decoded before parsing, a corrupt body is a 400, an unknown coding a 415, and the
 * body limit counts decompressed bytes, so a small compression bomb is a 413.
 *
 * Node 20 has no zstd encoder, so zstd frames are built here by hand (raw and RLE blocks, see
 * RFC 8878 §3.1.1); when the `zstd` command exists, a really compressed frame is tested too.
 */
import { execFileSync } from 'node:child_process';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decoderFor } from '../../src/http/decompress.js';
import { chatCompletion, MockUpstream, sendJson } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';

const LIMIT = 64 * 1024;

let upstream: MockUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'info', `body_limit = ${LIMIT}`);
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
});

// ---------------------------------------------------------------------------------------------
// zstd frames by hand

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const MAX_BLOCK = 128 * 1024;

function blockHeader(last: boolean, type: 0 | 1, size: number): number[] {
  const v = (last ? 1 : 0) | (type << 1) | (size << 3);
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff];
}

/** One zstd frame holding `data` in raw (stored) blocks, with its content size. */
function zstdRawFrame(data: Buffer): Buffer {
  // Frame_Header_Descriptor: FCS field 4 bytes (flag 2), Single_Segment (no window descriptor).
  const size = Buffer.alloc(4);
  size.writeUInt32LE(data.length);
  const parts: Buffer[] = [Buffer.from([...ZSTD_MAGIC, 0xa0]), size];
  let offset = 0;
  do {
    const chunk = data.subarray(offset, offset + MAX_BLOCK);
    offset += chunk.length;
    parts.push(Buffer.from(blockHeader(offset >= data.length, 0, chunk.length)), chunk);
  } while (offset < data.length);
  return Buffer.concat(parts);
}

/**
 * A zstd frame of `blocks` RLE blocks, each 128 KiB of `byte`, with no content size: 4 bytes per
 * 128 KiB, the densest bomb the format allows.
 */
function zstdRleFrame(byte: number, blocks: number): Buffer {
  // No FCS, not single segment; Window_Descriptor 0x38 = 2^17 (128 KiB).
  const parts: number[] = [...ZSTD_MAGIC, 0x00, 0x38];
  for (let i = 0; i < blocks; i++) parts.push(...blockHeader(i === blocks - 1, 1, MAX_BLOCK), byte);
  return Buffer.from(parts);
}

/** A skippable frame (RFC 8878 §3.1.2): `size` bytes a decoder reads and discards. */
function zstdSkippableFrame(size: number): Buffer {
  const header = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);
  header.writeUInt32LE(size, 4);
  return Buffer.concat([header, Buffer.alloc(size, 0x78)]);
}

function zstdCli(data: Buffer): Buffer | null {
  try {
    return execFileSync('zstd', ['-q', '-c'], { input: data, stdio: ['pipe', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

const HAS_ZSTD_CLI = zstdCli(Buffer.from('x')) !== null;
if (!HAS_ZSTD_CLI)
  console.warn('[decompress] the zstd command is not installed: the CLI-compressed zstd case is skipped');

// ---------------------------------------------------------------------------------------------

function body(text = 'Hi from a compressed body'): Buffer {
  return Buffer.from(JSON.stringify({ model: 'test-model', input: text }));
}

async function post(payload: Buffer, encoding: string | null) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (encoding !== null) headers['content-encoding'] = encoding;
  const res = await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers, body: payload });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: replies are inspected as arbitrary JSON
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null
  }
  return { status: res.status, json, text };
}

/** Feeds a whole buffer through the proxy's own decoder for a coding. */
async function decode(encoding: string, data: Buffer): Promise<Buffer> {
  const decoder = decoderFor(encoding);
  if (decoder === null) return data;
  const out: Buffer[] = [];
  decoder.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  decoder.end(data);
  await done;
  return Buffer.concat(out);
}

describe('the hand-made zstd frames', () => {
  it('decode through the proxy decoder (fzstd on Node 20): raw blocks, empty and multi-block', async () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    for (const data of [Buffer.from('hello zstd'), Buffer.alloc(0), big]) {
      expect((await decode('zstd', zstdRawFrame(data))).equals(data)).toBe(true);
    }
  });

  it('decode RLE blocks', async () => {
    const out = await decode('zstd', zstdRleFrame(0x61, 3));
    expect(out.length).toBe(3 * MAX_BLOCK);
    expect(out.every((b) => b === 0x61)).toBe(true);
  });

  it.skipIf(!HAS_ZSTD_CLI)('agree with the zstd command (compressed blocks, several windows)', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(`line ${i} ${(i * 2654435761) % 1000003}\n`);
    const data = Buffer.from(lines.join(''));
    const cli = zstdCli(data) as Buffer;
    expect(cli.length).toBeLessThan(data.length / 2);
    expect((await decode('zstd', cli)).equals(data)).toBe(true);
  });
});

describe('compressed request bodies', () => {
  const cases: Array<[string, (b: Buffer) => Buffer]> = [
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
    ['zstd', zstdRawFrame],
    ['GZIP', gzipSync],
  ];

  it.each(cases)('Content-Encoding: %s is decoded before parsing', async (encoding, compress) => {
    const text = `compressed with ${encoding}`;
    const res = await post(compress(body(text)), encoding);
    expect(res.status, res.text).toBe(200);
    expect(res.json.output[0].content[0].text).toBe('Hello!');
    expect(upstream.last.body.messages).toEqual([{ role: 'user', content: text }]);
  });

  it.skipIf(!HAS_ZSTD_CLI)('a really compressed zstd body (the zstd command), streamed reply', async () => {
    const data = Buffer.from(
      JSON.stringify({ model: 'test-model', input: `${'lorem ipsum '.repeat(2000)}end`, stream: true }),
    );
    const compressed = zstdCli(data) as Buffer;
    const res = await post(compressed, 'zstd');
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    expect(res.text).toContain('event: response.completed');
    expect(upstream.last.body.messages[0].content).toBe(`${'lorem ipsum '.repeat(2000)}end`);
  });

  it('undoes several codings, last applied first', async () => {
    const res = await post(brotliCompressSync(gzipSync(body('two codings'))), 'gzip, br');
    expect(res.status, res.text).toBe(200);
    expect(upstream.last.body.messages).toEqual([{ role: 'user', content: 'two codings' }]);
  });

  it('passes identity through', async () => {
    const res = await post(body('plain'), 'identity');
    expect(res.status, res.text).toBe(200);
    expect(upstream.last.body.messages).toEqual([{ role: 'user', content: 'plain' }]);
  });

  it('counts the decompressed size: a body under the limit only once compressed still passes', async () => {
    // 40 KiB of JSON, a few hundred bytes compressed: within the 64 KiB limit either way.
    const res = await post(gzipSync(body('y'.repeat(40 * 1024))), 'gzip');
    expect(res.status, res.text).toBe(200);
    expect(upstream.last.body.messages[0].content).toHaveLength(40 * 1024);
  });
});

describe('bad compressed bodies', () => {
  const garbage = Buffer.from('this is not compressed at all, just text pretending to be');
  const truncatedGzip = gzipSync(body('cut short')).subarray(0, 20);

  it.each<[string, string, Buffer]>([
    ['gzip', 'garbage', garbage],
    ['gzip', 'a truncated stream', truncatedGzip],
    ['deflate', 'garbage', garbage],
    ['br', 'garbage', garbage],
    ['zstd', 'garbage (no magic number)', garbage],
    ['zstd', 'a truncated frame', zstdRawFrame(body('cut')).subarray(0, 12)],
  ])('%s with %s -> 400 invalid_content_encoding', async (encoding, _label, payload) => {
    const res = await post(payload, encoding);
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_content_encoding',
      message: expect.stringContaining(`not valid ${encoding} data`),
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(['compress', 'snappy', 'gzip, lz4'])('an unknown coding (%s) -> 415', async (encoding) => {
    const res = await post(body(), encoding);
    expect(res.status, res.text).toBe(415);
    expect(res.json.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'unsupported_content_encoding',
      message: expect.stringContaining('is not supported'),
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it.each<[string, () => Buffer]>([
    // 64 MiB of spaces: about 64 KiB of gzip, 1000 times the limit once inflated.
    [
      'gzip',
      () =>
        gzipSync(
          Buffer.concat([body().subarray(0, -1), Buffer.alloc(64 * 1024 * 1024, 0x20), Buffer.from('}')]),
        ),
    ],
    ['zstd', () => zstdRleFrame(0x20, 512)],
    ['br', () => brotliCompressSync(Buffer.alloc(32 * 1024 * 1024, 0x20))],
  ])('a %s bomb larger than body_limit once decompressed -> 413, quickly', async (encoding, make) => {
    const payload = make();
    expect(payload.length).toBeLessThan(LIMIT * 2);
    const started = Date.now();
    const res = await post(payload, encoding);
    expect(res.status, res.text).toBe(413);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(upstream.requests).toHaveLength(0);
    // The proxy still serves.
    expect((await post(gzipSync(body('after the bomb')), 'gzip')).status).toBe(200);
  });

  it('stops decoding at the limit: a 64 KB zstd body that would expand to 2 GB is refused at once', async () => {
    // 16,000 RLE blocks of 128 KiB. Decoding them all takes seconds of a blocked event loop
    // (what happened before the decoder stopped itself at the limit); stopping takes milliseconds.
    const payload = zstdRleFrame(0x20, 16_000);
    expect(payload.length).toBeLessThan(LIMIT);
    const started = Date.now();
    const res = await post(payload, 'zstd');
    expect(res.status, res.text).toBe(413);
    expect(res.json.error.code).toBe('request_too_large');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('counts the raw bytes too: a zstd body of skippable frames past the limit -> 413', async () => {
    // Decodes to a small valid body, but the client sent more than body_limit bytes for it.
    const payload = Buffer.concat([zstdRawFrame(body('hidden bulk')), zstdSkippableFrame(LIMIT + 1024)]);
    const res = await post(payload, 'zstd');
    expect(res.status, res.text).toBe(413);
    expect(res.json.error.code).toBe('request_too_large');
    expect(upstream.requests).toHaveLength(0);
    // Under the limit, the same kind of body is fine.
    const small = Buffer.concat([zstdRawFrame(body('small bulk')), zstdSkippableFrame(1024)]);
    expect((await post(small, 'zstd')).status).toBe(200);
    expect(upstream.last.body.messages).toEqual([{ role: 'user', content: 'small bulk' }]);
  });
});
