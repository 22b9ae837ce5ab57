/**
 * Decoders for request bodies with `Content-Encoding: gzip | deflate | br | zstd` (Codex compresses
 * its large requests). zstd uses Node's zlib where it has it (22.15+) and the pure-JS fzstd decoder
 * on Node 20. The body reader (body-reader.ts) applies the body limit to what they produce.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as ZstdDecoder } from 'fzstd';
import { PayloadTooLargeError, UnsupportedEncodingError } from '../errors.js';

export type Decoder = NodeJS.ReadWriteStream & Transform;

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
