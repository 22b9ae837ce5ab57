/**
 * The vocabulary of the output assembler: the events it emits, tool-call fragments as upstreams
 * send them, and the content parts it builds. Pure types and helpers, no state.
 */
import type {
  ResponseFunctionCallArgumentsDoneEvent,
  ResponseOutputRefusal,
  ResponseOutputText,
  ResponseStreamEvent,
} from '../types.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event before the stream writer numbers it. */
export type OutputEvent =
  | DistributiveOmit<Exclude<ResponseStreamEvent, ResponseFunctionCallArgumentsDoneEvent>, 'sequence_number'>
  // The spec (and openai 6.x) carry `name` on arguments.done; openai 7.x's type lacks it. Send it.
  | (Omit<ResponseFunctionCallArgumentsDoneEvent, 'sequence_number'> & { name: string });

export type EventSink = (event: OutputEvent) => void;

export type ItemStatus = 'completed' | 'incomplete';

export type Logprob = ResponseOutputText.Logprob;

/** One tool-call fragment, as a chat upstream sends it (streamed or whole). */
export interface ToolCallFragment {
  index?: number | undefined;
  id?: string | null | undefined;
  name?: string | null | undefined;
  arguments?: string | null | undefined;
}

export interface TextPart {
  kind: 'output_text';
  text: string;
  logprobs: Logprob[];
}

export interface RefusalPart {
  kind: 'refusal';
  refusal: string;
}

/** A fragment with every field of the expected type (upstreams are not always typed). */
export interface Fragment {
  index: number | undefined;
  id: string | undefined;
  name: string | undefined;
  arguments: string;
}

export function normalizeFragment(f: ToolCallFragment): Fragment {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const args: unknown = f.arguments;
  return {
    index: typeof f.index === 'number' ? f.index : undefined,
    id: str(f.id),
    name: str(f.name),
    // Some upstreams send the arguments as a JSON object rather than a string.
    arguments:
      typeof args === 'string' ? args : args === null || args === undefined ? '' : JSON.stringify(args),
  };
}

export function emptyText(): ResponseOutputText {
  return { type: 'output_text', text: '', annotations: [], logprobs: [] };
}

export function finalPart(part: TextPart | RefusalPart): ResponseOutputText | ResponseOutputRefusal {
  if (part.kind === 'refusal') return { type: 'refusal', refusal: part.refusal };
  return { type: 'output_text', text: part.text, annotations: [], logprobs: part.logprobs };
}

/**
 * A delta's logprob keeps `bytes`: Open Responses requires it (on the token and on each top
 * logprob), and OpenAI's schema allows it.
 */
export function toDeltaLogprob(lp: Logprob): {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs?: Array<{ token?: string; logprob?: number; bytes: number[] }>;
} {
  return {
    token: lp.token,
    logprob: lp.logprob,
    bytes: lp.bytes,
    top_logprobs: lp.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
  };
}
