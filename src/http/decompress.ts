/**
 * Request bodies with `Content-Encoding: gzip | deflate | br | zstd` (Codex compresses its large
 * requests) are decompressed as they stream in; the body limit then applies to the decompressed
 * bytes (and to the raw ones), so a small compressed bomb cannot expand past it: decoding stops
 * the moment the limit is crossed, and the request is a 413. zstd uses Node's zlib where it has
 * it (22.15+) and the pure-JS fzstd decoder on Node 20.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest, RequestPayload } from 'fastify';
import { Decompress as ZstdDecoder } from 'fzstd';
import {
  InvalidEncodingError,
  PayloadTooLargeError,
  ProxyError,
  UnsupportedEncodingError,
} from '../errors.js';

type Decoder = NodeJS.ReadWriteStream & Transform;

/**
 * A decoder for one content-coding, or null for identity. `outputLimit` bounds what the pure-JS
 * zstd decoder may produce: it decodes a whole chunk synchronously, so it must stop itself (an
 * RLE block turns 4 bytes into 128 KiB); the zlib decoders work in small asynchronous steps and
 * are stopped by the caller.
 */
export function decoderFor(encoding: string, outputLimit = Number.POSITIVE_INFINITY): Decoder | null {
  switch (encoding) {
    case '':
    case 'identity':
      return null;
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      // Senders disagree on whether "deflate" is zlib-wrapped; inflate accepts the wrapped form.
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd': {
      const native = (zlib as unknown as { createZstdDecompress?: () => Decoder }).createZstdDecompress;
      return native ? native() : new ZstdTransform(outputLimit);
    }
    default:
      throw new UnsupportedEncodingError(encoding);
  }
}

/** Thrown inside the zstd decoder's output callback to stop it mid-chunk. */
class OutputLimitReached extends Error {}

class ZstdTransform extends Transform {
  private produced = 0;
  private readonly decoder: ZstdDecoder;

  constructor(private readonly outputLimit: number) {
    super();
    this.decoder = new ZstdDecoder((data) => {
      this.produced += data.byteLength;
      if (this.destroyed || this.produced > this.outputLimit) throw new OutputLimitReached();
      this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.decode(chunk, false, done);
  }

  override _flush(done: TransformCallback): void {
    this.decode(new Uint8Array(0), true, done);
  }

  private decode(chunk: Uint8Array, last: boolean, done: TransformCallback): void {
    try {
      this.decoder.push(chunk, last);
      done();
    } catch (err) {
      done(err instanceof OutputLimitReached ? new PayloadTooLargeError(this.outputLimit) : (err as Error));
    }
  }
}

/**
 * The stream the body parser reads: passes the decoded bytes through while they (and the raw
 * bytes) stay within the limit. `receivedEncodedLength` is the raw byte count Fastify also checks.
 */
class BodyGuard extends Transform {
  receivedEncodedLength = 0;
  private received = 0;
  private start: (() => void) | null;

  constructor(
    private readonly limit: number,
    private readonly onExceeded: () => void,
    start: () => void,
  ) {
    super();
    this.start = start;
  }

  /**
   * Nothing is decoded before the body parser reads: it listens for `error` only from then on,
   * and a decoding error emitted earlier would go unheard.
   */
  override _read(size: number): void {
    const start = this.start;
    this.start = null;
    start?.();
    super._read(size);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.limit) {
      done();
      this.onExceeded();
      return;
    }
    done(null, chunk);
  }
}

const decodingErrors = new WeakMap<FastifyRequest, ProxyError>();

/** The decoding failure (bad data, or too large once decoded) behind a request's body error. */
export function decodingErrorOf(request: FastifyRequest): ProxyError | undefined {
  return decodingErrors.get(request);
}

export function registerDecompression(app: FastifyInstance): void {
  // Callback style: requests without Content-Encoding (nearly all) pass without a promise.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    if (typeof header !== 'string') {
      done(null, payload);
      return;
    }
    decoded(request, header, payload).then(
      (stream) => done(null, stream),
      (err: Error) => done(err),
    );
  });

  async function decoded(
    request: FastifyRequest,
    header: string,
    payload: RequestPayload,
  ): Promise<RequestPayload> {
    const limit = request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? Number.POSITIVE_INFINITY;
    // Several codings apply in order; undo them last to first.
    const codings = header
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c !== '' && c !== 'identity')
      .reverse();
    const decoders: Array<{ coding: string; decoder: Decoder }> = [];
    for (const coding of codings) {
      const decoder = decoderFor(coding, limit);
      if (decoder !== null) decoders.push({ coding, decoder });
    }
    if (decoders.length === 0) return payload;

    let failed = false;
    // Stops decoding at once (a bomb must not keep a core busy after the reply), drains what the
    // client still sends without decoding it, and fails the body with `error`.
    const fail = (error: ProxyError) => {
      if (failed) return;
      failed = true;
      decodingErrors.set(request, error);
      payload.unpipe();
      for (const { decoder } of decoders) {
        decoder.unpipe();
        decoder.destroy();
      }
      payload.resume();
      guard.destroy(error);
    };
    const start = () => {
      payload.on('data', (chunk: Buffer) => {
        guard.receivedEncodedLength += chunk.length;
        if (guard.receivedEncodedLength > limit) fail(new PayloadTooLargeError(limit));
      });
      let stream: NodeJS.ReadableStream = payload;
      for (const { coding, decoder } of decoders) {
        decoder.on('error', (err: Error) => {
          fail(err instanceof ProxyError ? err : new InvalidEncodingError(coding, err.message));
        });
        stream = stream.pipe(decoder);
      }
      stream.pipe(guard);
    };
    const guard = new BodyGuard(limit, () => fail(new PayloadTooLargeError(limit)), start);
    // The body limit now counts decompressed bytes; the length header described the compressed ones.
    delete request.headers['content-length'];
    return guard;
  }
}
