/** Types for bench/passthrough.mjs (imported by tests/bench.test.ts). */
export interface PassthroughOptions {
  /** The upstream's base URL, e.g. http://127.0.0.1:8000/v1 */
  upstream: string;
  port?: number;
  connections?: number;
}
export declare function startPassthrough(
  options: PassthroughOptions,
): Promise<{ port: number; close(): Promise<void> }>;
