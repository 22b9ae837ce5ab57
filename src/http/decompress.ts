/**
 * Request bodies with `Content-Encoding: gzip | deflate | br | zstd` (Codex compresses its large
 * requests) are decompressed as they stream in; the body limit then applies to the decompressed
 * bytes, so a small compressed bomb cannot expand past it. zstd uses Node's zlib where it has it
 * (22.15+) and the pure-JS fzstd decoder on Node 20.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Decompress as ZstdDecoder } from 'fzstd';
import { ProxyError } from '../errors.js';

type Decoder = NodeJS.ReadWriteStream & Transform;

export class UnsupportedEncodingError extends ProxyError {
  constructor(encoding: string) {
    super(
      415,
      'invalid_request_error',
      `Content-Encoding '${encoding}' is not supported; use gzip, deflate, br, zstd or none.`,
      { code: 'unsupported_content_encoding' },
    );
  }
}

export class InvalidEncodingError extends ProxyError {
  constructor(encoding: string, detail: string) {
    super(400, 'invalid_request_error', `The request body is not valid ${encoding} data: ${detail}`, {
      code: 'invalid_content_encoding',
    });
  }
}

/** A decoder for one content-coding, or null for identity. */
export function decoderFor(encoding: string): Decoder | null {
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
      return native ? native() : new ZstdTransform();
    }
    default:
      throw new UnsupportedEncodingError(encoding);
  }
}

class ZstdTransform extends Transform {
  private readonly decoder = new ZstdDecoder((data) => {
    this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

const decodingErrors = new WeakMap<FastifyRequest, InvalidEncodingError>();

/** The decoding failure behind a request's body error, if there was one. */
export function decodingErrorOf(request: FastifyRequest): InvalidEncodingError | undefined {
  return decodingErrors.get(request);
}

export function registerDecompression(app: FastifyInstance): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const header = request.headers['content-encoding'];
    if (typeof header !== 'string') return payload;
    // Several codings apply in order; undo them last to first.
    const codings = header
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c !== '' && c !== 'identity');
    let stream: NodeJS.ReadableStream = payload;
    for (const coding of codings.reverse()) {
      const decoder = decoderFor(coding);
      if (decoder === null) continue;
      decoder.once('error', (err: Error) => {
        // The body parser reports the decoder's own error; the error handler asks here for what it meant.
        decodingErrors.set(request, new InvalidEncodingError(coding, err.message));
      });
      stream = stream.pipe(decoder);
    }
    // The body limit now counts decompressed bytes; the length header described the compressed ones.
    delete request.headers['content-length'];
    (stream as unknown as { receivedEncodedLength: number }).receivedEncodedLength = 0;
    return stream;
  });
}
