/** Types for bench/mock-upstream.mjs (imported by tests/bench.test.ts). */
export declare const REPLY_TEXT: string;
export declare function chatCompletionBody(): string;
export declare function chatCompletionEvents(chunks?: number): string[];
export interface MockOptions {
  port?: number;
  chunks?: number;
  latencyMs?: number;
  chunkDelayMs?: number;
  /** Called with each POST's path and body (for tests). */
  onRequest?: (path: string, body: string) => void;
}
export declare function startMock(options?: MockOptions): Promise<{ port: number; close(): Promise<void> }>;
