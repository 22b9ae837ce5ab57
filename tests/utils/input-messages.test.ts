import { describe, expect, it } from 'vitest';
import { InvalidRequestError, ProxyError, UnsupportedParameterError } from '../../src/errors.js';
import { buildMessages, type InputOptions } from '../../src/utils/input-messages.js';

type Msg = Record<string, unknown>;

/** The default target dialect: one merged system message, reasoning as reasoning_content. */
const DEFAULTS: InputOptions = { reasoningField: 'reasoning_content', systemRole: 'merge' };
const RS = { reasoningField: 'reasoning' } as const;

function build(input: string | unknown[], instructions?: string | null, options: Partial<InputOptions> = {}) {
  return buildMessages(instructions, input, { ...DEFAULTS, ...options }) as unknown as Msg[];
}

function errorOf(fn: () => unknown): ProxyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProxyError);
    return err as ProxyError;
  }
  throw new Error('expected the call to throw');
}

function expectError(
  input: unknown[],
  expected: {
    param: string;
    code: string;
    kind?: typeof InvalidRequestError | typeof UnsupportedParameterError;
  },
) {
  const err = errorOf(() => build(input));
  expect({ status: err.status, type: err.type, param: err.param, code: err.code }).toEqual({
    status: 400,
    type: 'invalid_request_error',
    param: expected.param,
    code: expected.code,
  });
  if (expected.kind) expect(err).toBeInstanceOf(expected.kind);
  return err;
}

/** The structural rules a Chat Completions upstream enforces on message ordering. */
function assertValidChatOrdering(messages: Msg[]): void {
  messages.forEach((m, i) => {
    if (m.role === 'system') expect(i, 'system message only at the start').toBe(0);
    if (m.role === 'developer') throw new Error('developer role must not reach the upstream');
  });
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Msg;
    if (m.role === 'tool') {
      // Walk back over tool messages to the calling assistant message.
      let j = i - 1;
      while (j >= 0 && (messages[j] as Msg).role === 'tool') j--;
      const caller = messages[j] as Msg | undefined;
      expect(caller?.role, `tool message ${i} must follow an assistant tool_calls message`).toBe('assistant');
      const ids = ((caller?.tool_calls as Msg[] | undefined) ?? []).map((c) => c.id);
      expect(ids, `tool message ${i} must answer a call of its assistant message`).toContain(m.tool_call_id);
    }
    const calls = m.tool_calls as Msg[] | undefined;
    if (m.role === 'assistant' && calls) {
      const following: unknown[] = [];
      for (let k = i + 1; k < messages.length && (messages[k] as Msg).role === 'tool'; k++) {
        following.push((messages[k] as Msg).tool_call_id);
      }
      expect([...following].sort()).toEqual(calls.map((c) => c.id).sort());
    }
  }
}

const call = (call_id: string, name = 'shell', args = '{"cmd":"ls"}') => ({
  type: 'function_call',
  call_id,
  name,
  arguments: args,
});
const output = (call_id: string, out: unknown = 'ok') => ({
  type: 'function_call_output',
  call_id,
  output: out,
});
const toolCall = (id: string, name = 'shell', args = '{"cmd":"ls"}') => ({
  id,
  type: 'function',
  function: { name, arguments: args },
});

describe('buildMessages: string input and instructions', () => {
  it('turns a string input into one user message', () => {
    expect(build('Hello')).toEqual([{ role: 'user', content: 'Hello' }]);
  });

  it('puts instructions first as a system message', () => {
    expect(build('Hello', 'Be terse.')).toEqual([
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['empty', ''],
  ])('adds no system message for %s instructions', (_label, instructions) => {
    expect(build('Hi', instructions)).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  it('keeps an empty string input as an empty user message', () => {
    expect(build('')).toEqual([{ role: 'user', content: '' }]);
  });

  it('returns no messages for an empty item list', () => {
    expect(build([])).toEqual([]);
  });
});

describe('buildMessages: system and developer messages', () => {
  it('merges instructions, system and developer messages into ONE leading system message, in order', () => {
    const messages = build(
      [
        { type: 'message', role: 'developer', content: 'dev one' },
        { role: 'user', content: 'question' },
        { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'sys two' }] },
        { role: 'assistant', content: 'answer' },
        { role: 'developer', content: [{ type: 'input_text', text: 'dev three' }] },
        { role: 'user', content: 'again' },
      ],
      'instr',
    );
    expect(messages).toEqual([
      { role: 'system', content: 'instr\n\ndev one\n\nsys two\n\ndev three' },
      { role: 'user', content: 'question' },
      { role: 'assistant', content: 'answer' },
      { role: 'user', content: 'again' },
    ]);
  });

  it('uses a developer message alone as the system message when there are no instructions', () => {
    expect(
      build([
        { role: 'developer', content: 'rules' },
        { role: 'user', content: 'hi' },
      ]),
    ).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('joins several text parts of a system message with blank lines', () => {
    expect(
      build([
        {
          role: 'system',
          content: [
            { type: 'input_text', text: 'a' },
            { type: 'input_text', text: 'b' },
          ],
        },
      ]),
    ).toEqual([{ role: 'system', content: 'a\n\nb' }]);
  });

  it.each(['system', 'developer'])('rejects an image in a %s message', (role) => {
    expectError(
      [
        {
          role,
          content: [
            { type: 'input_text', text: 'look' },
            { type: 'input_image', image_url: 'https://example.com/a.png' },
          ],
        },
      ],
      { param: 'input[0].content[1].type', code: 'unsupported_value', kind: UnsupportedParameterError },
    );
  });

  it('rejects a file in a developer message at the right item index', () => {
    expectError(
      [
        { role: 'user', content: 'hi' },
        { role: 'developer', content: [{ type: 'input_file', file_data: 'data:application/pdf;base64,AA' }] },
      ],
      { param: 'input[1].content[0].type', code: 'unsupported_value' },
    );
  });
});

describe('buildMessages: system_role developer and system', () => {
  const input = [
    { role: 'developer', content: 'dev one' },
    { role: 'user', content: 'question' },
    { role: 'system', content: [{ type: 'input_text', text: 'sys two' }] },
    { role: 'assistant', content: 'answer' },
  ];

  it.each(['developer', 'system'] as const)(
    'keeps instructions, system and developer messages in place with role %s',
    (systemRole) => {
      expect(build(input, 'instr', { systemRole })).toEqual([
        { role: systemRole, content: 'instr' },
        { role: systemRole, content: 'dev one' },
        { role: 'user', content: 'question' },
        { role: systemRole, content: 'sys two' },
        { role: 'assistant', content: 'answer' },
      ]);
    },
  );

  it('adds no leading message without instructions or system messages', () => {
    expect(build([{ role: 'user', content: 'hi' }], null, { systemRole: 'developer' })).toEqual([
      { role: 'user', content: 'hi' },
    ]);
  });

  it('puts string instructions before a string input', () => {
    expect(build('Hello', 'Be terse.', { systemRole: 'developer' })).toEqual([
      { role: 'developer', content: 'Be terse.' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  it('still rejects non-text parts in a system message', () => {
    const err = errorOf(() =>
      buildMessages(
        null,
        [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://x/a.png' }] }],
        {
          ...DEFAULTS,
          systemRole: 'system',
        },
      ),
    );
    expect(err.param).toBe('input[0].content[0].type');
  });
});

describe('buildMessages: user message content parts', () => {
  const user = (content: unknown) => build([{ role: 'user', content }]);

  it('accepts an EasyInputMessage without type', () => {
    expect(build([{ role: 'user', content: 'hey' }])).toEqual([{ role: 'user', content: 'hey' }]);
  });

  it('accepts a strict message with type "message"', () => {
    expect(
      build([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hey' }] }]),
    ).toEqual([{ role: 'user', content: 'hey' }]);
  });

  it('collapses a single input_text part to a plain string', () => {
    expect(user([{ type: 'input_text', text: 'only text' }])).toEqual([
      { role: 'user', content: 'only text' },
    ]);
  });

  it('keeps several text parts as text parts', () => {
    expect(
      user([
        { type: 'input_text', text: 'one' },
        { type: 'input_text', text: 'two' },
      ]),
    ).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
    ]);
  });

  it.each([
    ['low', { url: 'https://example.com/cat.png', detail: 'low' }],
    ['high', { url: 'https://example.com/cat.png', detail: 'high' }],
    ['auto', { url: 'https://example.com/cat.png', detail: 'auto' }],
    ['original', { url: 'https://example.com/cat.png' }],
    ['bogus', { url: 'https://example.com/cat.png' }],
    [undefined, { url: 'https://example.com/cat.png' }],
  ])('maps input_image with detail %s', (detail, imageUrl) => {
    expect(user([{ type: 'input_image', image_url: 'https://example.com/cat.png', detail }])).toEqual([
      { role: 'user', content: [{ type: 'image_url', image_url: imageUrl }] },
    ]);
  });

  it('passes a data: URL image through unchanged, next to text', () => {
    const dataUrl = 'data:image/png;base64,iVBORw0KGgo=';
    expect(
      user([
        { type: 'input_text', text: 'What is this?' },
        { type: 'input_image', image_url: dataUrl, detail: 'high' },
      ]),
    ).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: dataUrl, detail: 'high' } },
        ],
      },
    ]);
  });

  it('maps input_file with file_data and filename to a file part', () => {
    expect(
      user([
        { type: 'input_text', text: 'Summarise' },
        { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' },
      ]),
    ).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Summarise' },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
        ],
      },
    ]);
  });

  it('maps input_file with file_data and no filename', () => {
    expect(user([{ type: 'input_file', file_data: 'JVBERi0=' }])).toEqual([
      { role: 'user', content: [{ type: 'file', file: { file_data: 'JVBERi0=' } }] },
    ]);
  });

  it.each([
    [
      'input_image with only file_id',
      { type: 'input_image', file_id: 'file_123', detail: 'auto' },
      'input[1].content[1].file_id',
      'unsupported_value',
    ],
    [
      'input_image with null image_url and a file_id',
      { type: 'input_image', image_url: null, file_id: 'file_123' },
      'input[1].content[1].file_id',
      'unsupported_value',
    ],
    [
      'input_image with neither',
      { type: 'input_image', detail: 'auto' },
      'input[1].content[1].image_url',
      'invalid_value',
    ],
    [
      'input_file with file_id',
      { type: 'input_file', file_id: 'file_9' },
      'input[1].content[1].file_id',
      'unsupported_value',
    ],
    [
      'input_file with file_url',
      { type: 'input_file', file_url: 'https://example.com/a.pdf' },
      'input[1].content[1].file_url',
      'unsupported_value',
    ],
    [
      'input_audio',
      { type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } },
      'input[1].content[1].type',
      'unsupported_value',
    ],
    ['input_text without text', { type: 'input_text' }, 'input[1].content[1].text', 'invalid_type'],
    ['a non-object part', 'plain string', 'input[1].content[1]', 'invalid_type'],
  ])('rejects %s with a 400 naming the part', (_label, part, param, code) => {
    expectError(
      [
        { role: 'user', content: 'first' },
        { role: 'user', content: [{ type: 'input_text', text: 'see' }, part] },
      ],
      { param, code },
    );
  });

  it('names the file_id of an image in the error message', () => {
    const err = expectError([{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }], {
      param: 'input[0].content[0].file_id',
      code: 'unsupported_value',
      kind: UnsupportedParameterError,
    });
    expect(err.message).toContain('file_id');
  });
});

describe('buildMessages: assistant history', () => {
  it('keeps string content', () => {
    expect(build([{ role: 'assistant', content: 'Sure.' }])).toEqual([
      { role: 'assistant', content: 'Sure.' },
    ]);
  });

  it('joins output_text parts of a ResponseOutputMessage', () => {
    expect(
      build([
        {
          type: 'message',
          id: 'msg_1',
          role: 'assistant',
          status: 'completed',
          content: [
            { type: 'output_text', text: 'Hello ', annotations: [] },
            { type: 'output_text', text: 'world', annotations: [], logprobs: [] },
          ],
        },
      ]),
    ).toEqual([{ role: 'assistant', content: 'Hello world' }]);
  });

  it('moves a refusal part to the refusal field', () => {
    expect(
      build([
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'refusal', refusal: 'I cannot help with that.' }],
        },
      ]),
    ).toEqual([{ role: 'assistant', content: '', refusal: 'I cannot help with that.' }]);
  });

  it('keeps text and refusal together', () => {
    expect(
      build([
        {
          role: 'assistant',
          content: [
            { type: 'output_text', text: 'Partly: ', annotations: [] },
            { type: 'refusal', refusal: 'no more' },
          ],
        },
      ]),
    ).toEqual([{ role: 'assistant', content: 'Partly: ', refusal: 'no more' }]);
  });

  it('rejects an image in an assistant message', () => {
    expectError([{ role: 'assistant', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }], {
      param: 'input[0].content[0].type',
      code: 'unsupported_value',
    });
  });
});

describe('buildMessages: function calls and outputs', () => {
  it('turns a call and its output into an assistant tool_calls message and a tool message', () => {
    expect(
      build([{ role: 'user', content: 'list files' }, call('call_1'), output('call_1', 'a.txt')]),
    ).toEqual([
      { role: 'user', content: 'list files' },
      { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
      { role: 'tool', tool_call_id: 'call_1', content: 'a.txt' },
    ]);
  });

  it('merges CONSECUTIVE calls into ONE assistant message, results following in order', () => {
    const messages = build([
      { role: 'user', content: 'weather?' },
      call('c1', 'weather', '{"city":"Paris"}'),
      call('c2', 'weather', '{"city":"Rome"}'),
      call('c3', 'time', '{}'),
      output('c1', 'sunny'),
      output('c2', 'rain'),
      output('c3', '12:00'),
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          toolCall('c1', 'weather', '{"city":"Paris"}'),
          toolCall('c2', 'weather', '{"city":"Rome"}'),
          toolCall('c3', 'time', '{}'),
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c2', content: 'rain' },
      { role: 'tool', tool_call_id: 'c3', content: '12:00' },
    ]);
    assertValidChatOrdering(messages);
  });

  it('keeps outputs in the order the client sent them', () => {
    expect(build([call('a'), call('b'), output('b', 'B'), output('a', 'A')]).slice(1)).toEqual([
      { role: 'tool', tool_call_id: 'b', content: 'B' },
      { role: 'tool', tool_call_id: 'a', content: 'A' },
    ]);
  });

  it('merges the preceding assistant text of the turn into the calling message', () => {
    const messages = build([
      { role: 'user', content: 'check' },
      {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Let me look.', annotations: [] }],
      },
      call('c1'),
      call('c2', 'read', '{"path":"a"}'),
      output('c1'),
      output('c2', 'text'),
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'check' },
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [toolCall('c1'), toolCall('c2', 'read', '{"path":"a"}')],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      { role: 'tool', tool_call_id: 'c2', content: 'text' },
    ]);
    assertValidChatOrdering(messages);
  });

  it('turns an empty preceding assistant text into null content once calls are added', () => {
    expect(build([{ role: 'assistant', content: '' }, call('c1'), output('c1')])).toEqual([
      { role: 'assistant', content: null, tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });

  it('merges assistant text between a call and its output into the calling message', () => {
    const messages = build([
      { role: 'user', content: 'go' },
      call('c1'),
      { role: 'assistant', content: 'Running it now.' },
      output('c1'),
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: 'Running it now.', tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
    assertValidChatOrdering(messages);
  });

  it('appends in-between text to the text the calling message already has', () => {
    expect(
      build([
        { role: 'assistant', content: 'Before.' },
        call('c1'),
        { role: 'assistant', content: 'After.' },
        output('c1'),
      ]),
    ).toEqual([
      { role: 'assistant', content: 'Before.\n\nAfter.', tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });

  it('merges assistant text arriving after SOME outputs of the turn into the calling message', () => {
    const messages = build([
      { role: 'user', content: 'go' },
      call('c1'),
      call('c2'),
      output('c1', 'one'),
      { role: 'assistant', content: 'Waiting for the second.' },
      output('c2', 'two'),
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: 'Waiting for the second.', tool_calls: [toolCall('c1'), toolCall('c2')] },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
    ]);
    assertValidChatOrdering(messages);
  });

  it('does not clobber the calling text with an empty in-between assistant message', () => {
    expect(
      build([
        { role: 'assistant', content: 'Calling.' },
        call('c1'),
        { role: 'assistant', content: '' },
        output('c1'),
      ]),
    ).toEqual([
      { role: 'assistant', content: 'Calling.', tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });

  it('joins a call made while earlier calls still await results to their message', () => {
    const messages = build([
      { role: 'user', content: 'go' },
      call('c1'),
      call('c2'),
      output('c1', 'one'),
      call('c3'),
      output('c2', 'two'),
      output('c3', 'three'),
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [toolCall('c1'), toolCall('c2'), toolCall('c3')] },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
      { role: 'tool', tool_call_id: 'c3', content: 'three' },
    ]);
    assertValidChatOrdering(messages);
  });

  it("moves user messages sent between a call and its output after the turn's last result, in order", () => {
    const messages = build([
      { role: 'user', content: 'go' },
      call('c1'),
      call('c2'),
      { role: 'user', content: 'also check the logs' },
      output('c1', 'one'),
      { role: 'user', content: 'and hurry' },
      output('c2', 'two'),
      { role: 'user', content: 'thanks' },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [toolCall('c1'), toolCall('c2')] },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
      { role: 'user', content: 'also check the logs' },
      { role: 'user', content: 'and hurry' },
      { role: 'user', content: 'thanks' },
    ]);
    assertValidChatOrdering(messages);
  });

  it('moves an unmerged developer message sent while a call awaits its result the same way', () => {
    const messages = build(
      [{ role: 'user', content: 'go' }, call('c1'), { role: 'developer', content: 'be brief' }, output('c1')],
      null,
      { systemRole: 'developer' },
    );
    expect(messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      { role: 'developer', content: 'be brief' },
    ]);
  });

  it('a user message after a call whose output never comes is still a missing_tool_output error', () => {
    expectError([call('c1'), { role: 'user', content: 'hello?' }], {
      param: 'input[0]',
      code: 'missing_tool_output',
    });
  });

  it('keeps a refusal given between a call and its output', () => {
    expect(
      build([
        call('c1'),
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'nope' }] },
        output('c1'),
      ]),
    ).toEqual([
      { role: 'assistant', content: null, refusal: 'nope', tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });

  it('opens a new assistant message for a call after the previous results', () => {
    const messages = build([
      { role: 'user', content: 'go' },
      call('c1'),
      output('c1', 'r1'),
      call('c2'),
      output('c2', 'r2'),
      { role: 'assistant', content: 'Done.' },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'r1' },
      { role: 'assistant', content: null, tool_calls: [toolCall('c2')] },
      { role: 'tool', tool_call_id: 'c2', content: 'r2' },
      { role: 'assistant', content: 'Done.' },
    ]);
    assertValidChatOrdering(messages);
  });

  it.each([
    ['an empty string', ''],
    ['absent', undefined],
  ])('sends "{}" when arguments is %s', (_label, args) => {
    expect(
      build([{ type: 'function_call', call_id: 'c1', name: 'noop', arguments: args }, output('c1')])[0],
    ).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'noop', arguments: '{}' } }],
    });
  });

  it('passes arguments through verbatim (no re-serialisation)', () => {
    const args = '{ "b": 1,  "a": "x" }';
    expect(build([call('c1', 'f', args), output('c1')])[0]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [toolCall('c1', 'f', args)],
    });
  });

  it('ignores id, status and other extra fields of call and output items', () => {
    expect(
      build([
        { ...call('c1'), id: 'fc_1', status: 'completed' },
        { ...output('c1'), id: 'fco_1', status: 'completed' },
      ]),
    ).toEqual([
      { role: 'assistant', content: null, tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });

  it('joins an output given as a list of text parts', () => {
    expect(
      build([
        call('c1'),
        output('c1', [
          { type: 'input_text', text: 'line 1\n' },
          { type: 'input_text', text: 'line 2' },
        ]),
      ])[1],
    ).toEqual({ role: 'tool', tool_call_id: 'c1', content: 'line 1\nline 2' });
  });

  it.each([
    ['input_image', { type: 'input_image', image_url: 'https://x/y.png' }],
    ['input_file', { type: 'input_file', file_data: 'AA' }],
  ])('rejects an output with a %s part', (type, part) => {
    const err = expectError([call('c1'), output('c1', [{ type: 'input_text', text: 'see' }, part])], {
      param: 'input[1].output[1].type',
      code: 'unsupported_value',
    });
    expect(err.message).toContain(type);
  });

  it('rejects an output that is neither a string nor a list', () => {
    expectError([call('c1'), output('c1', { text: 'x' })], {
      param: 'input[1].output',
      code: 'invalid_value',
    });
  });

  it('rejects a call without an output, naming the call item', () => {
    const err = expectError(
      [
        { role: 'user', content: 'go' },
        call('c1'),
        call('c2'),
        output('c1'),
        { role: 'user', content: 'next' },
      ],
      { param: 'input[2]', code: 'missing_tool_output', kind: InvalidRequestError },
    );
    expect(err.message).toContain('c2');
  });

  it('rejects a trailing call without an output', () => {
    expectError([{ role: 'user', content: 'go' }, call('c1')], {
      param: 'input[1]',
      code: 'missing_tool_output',
    });
  });

  it('rejects an output without a call', () => {
    const err = expectError([{ role: 'user', content: 'go' }, output('ghost')], {
      param: 'input[1].call_id',
      code: 'missing_tool_call',
    });
    expect(err.message).toContain('ghost');
  });

  it('rejects an output that comes before its call', () => {
    expectError([output('c1'), call('c1')], { param: 'input[0].call_id', code: 'missing_tool_call' });
  });

  it('rejects a duplicate call_id', () => {
    expectError([call('dup'), call('dup'), output('dup')], {
      param: 'input[1].call_id',
      code: 'invalid_value',
    });
  });

  it('rejects a second output for the same call', () => {
    expectError([call('c1'), output('c1'), output('c1')], {
      param: 'input[2].call_id',
      code: 'invalid_value',
    });
  });

  it.each([
    ['call_id', { type: 'function_call', name: 'f', arguments: '{}' }, 'input[0].call_id'],
    ['name', { type: 'function_call', call_id: 'c1', arguments: '{}' }, 'input[0].name'],
    [
      'arguments',
      { type: 'function_call', call_id: 'c1', name: 'f', arguments: { a: 1 } },
      'input[0].arguments',
    ],
  ])('rejects a function_call with a bad %s', (_label, item, param) => {
    expectError([item], { param, code: 'invalid_type' });
  });

  it('rejects an output without a call_id', () => {
    expectError([{ type: 'function_call_output', output: 'x' }], {
      param: 'input[0].call_id',
      code: 'invalid_type',
    });
  });
});

describe('buildMessages: reasoning items', () => {
  const reasoning = (extra: Record<string, unknown>) => ({
    type: 'reasoning',
    id: 'rs_1',
    summary: [],
    ...extra,
  });

  it('carries content reasoning_text (preferred over summary) to the next assistant message', () => {
    expect(
      build([
        { role: 'user', content: 'q' },
        reasoning({
          summary: [{ type: 'summary_text', text: 'short summary' }],
          content: [{ type: 'reasoning_text', text: 'full thoughts' }],
        }),
        { role: 'assistant', content: 'a' },
      ]),
    ).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a', reasoning_content: 'full thoughts' },
    ]);
  });

  it('falls back to summary_text parts, joined with blank lines', () => {
    expect(
      build([
        reasoning({
          summary: [
            { type: 'summary_text', text: 's1' },
            { type: 'summary_text', text: 's2' },
          ],
        }),
        { role: 'assistant', content: 'a' },
      ]),
    ).toEqual([{ role: 'assistant', content: 'a', reasoning_content: 's1\n\ns2' }]);
  });

  it('uses the "reasoning" field when reasoningField is reasoning', () => {
    expect(
      build(
        [
          reasoning({ content: [{ type: 'reasoning_text', text: 'hmm' }] }),
          { role: 'assistant', content: 'a' },
        ],
        null,
        RS,
      ),
    ).toEqual([{ role: 'assistant', content: 'a', reasoning: 'hmm' }]);
  });

  it.each([
    ['both', { reasoning_content: 'hmm', reasoning: 'hmm' }],
    ['none', {}],
    ['reasoning_content', { reasoning_content: 'hmm' }],
    ['reasoning', { reasoning: 'hmm' }],
  ] as const)(
    'reasoningField %s puts the reasoning text on exactly those fields',
    (reasoningField, fields) => {
      expect(
        build(
          [
            reasoning({ content: [{ type: 'reasoning_text', text: 'hmm' }] }),
            { role: 'assistant', content: 'a' },
            { role: 'user', content: 'next' },
            { role: 'assistant', content: 'b' },
          ],
          null,
          { reasoningField },
        ),
      ).toStrictEqual([
        { role: 'assistant', content: 'a', ...fields },
        { role: 'user', content: 'next' },
        { role: 'assistant', content: 'b' },
      ]);
    },
  );

  it('attaches reasoning to the assistant message that makes the function calls', () => {
    const messages = build([
      { role: 'user', content: 'q' },
      reasoning({ content: [{ type: 'reasoning_text', text: 'I should call' }] }),
      call('c1'),
      call('c2'),
      output('c1'),
      output('c2'),
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'q' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [toolCall('c1'), toolCall('c2')],
        reasoning_content: 'I should call',
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      { role: 'tool', tool_call_id: 'c2', content: 'ok' },
    ]);
  });

  it('attaches reasoning once when the assistant text and the call share a message', () => {
    expect(
      build([
        reasoning({ summary: [{ type: 'summary_text', text: 'plan' }] }),
        { role: 'assistant', content: 'Checking.' },
        call('c1'),
        output('c1'),
      ]),
    ).toEqual([
      { role: 'assistant', content: 'Checking.', reasoning_content: 'plan', tool_calls: [toolCall('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });

  it('attaches reasoning before an in-between text to the calling message it is merged into', () => {
    expect(
      build(
        [
          call('c1'),
          reasoning({ content: [{ type: 'reasoning_text', text: 'waiting' }] }),
          { role: 'assistant', content: 'Still running.' },
          output('c1'),
          { role: 'assistant', content: 'Done.' },
        ],
        null,
        RS,
      ),
    ).toEqual([
      { role: 'assistant', content: 'Still running.', tool_calls: [toolCall('c1')], reasoning: 'waiting' },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      { role: 'assistant', content: 'Done.' },
    ]);
  });

  it('joins several reasoning items before one assistant message', () => {
    expect(
      build([
        reasoning({ content: [{ type: 'reasoning_text', text: 'r1' }] }),
        reasoning({ summary: [{ type: 'summary_text', text: 'r2' }] }),
        { role: 'assistant', content: 'a' },
      ]),
    ).toEqual([{ role: 'assistant', content: 'a', reasoning_content: 'r1\n\nr2' }]);
  });

  it('uses reasoning only for the NEXT assistant message', () => {
    expect(
      build([
        reasoning({ content: [{ type: 'reasoning_text', text: 'r' }] }),
        { role: 'assistant', content: 'first' },
        { role: 'user', content: 'u' },
        { role: 'assistant', content: 'second' },
      ]),
    ).toEqual([
      { role: 'assistant', content: 'first', reasoning_content: 'r' },
      { role: 'user', content: 'u' },
      { role: 'assistant', content: 'second' },
    ]);
  });

  it('drops reasoning when no assistant message follows', () => {
    expect(
      build([
        { role: 'user', content: 'q' },
        reasoning({ content: [{ type: 'reasoning_text', text: 'orphan thoughts' }] }),
      ]),
    ).toEqual([{ role: 'user', content: 'q' }]);
  });

  it('drops reasoning with only encrypted_content', () => {
    expect(
      build([
        reasoning({ summary: [], content: null, encrypted_content: 'gAAAA...' }),
        { role: 'assistant', content: 'a' },
      ]),
    ).toEqual([{ role: 'assistant', content: 'a' }]);
  });

  it('ignores parts of other types inside the reasoning item', () => {
    expect(
      build([
        reasoning({
          content: [{ type: 'other', text: 'x' }],
          summary: [{ type: 'summary_text', text: 'sum' }],
        }),
        { role: 'assistant', content: 'a' },
      ]),
    ).toEqual([{ role: 'assistant', content: 'a', reasoning_content: 'sum' }]);
  });

  it('never turns reasoning into visible text', () => {
    const messages = build([
      reasoning({ content: [{ type: 'reasoning_text', text: 'secret' }] }),
      { role: 'assistant', content: 'visible' },
    ]);
    expect(messages.map((m) => m.content)).toEqual(['visible']);
  });
});

describe('buildMessages: other items and malformed input', () => {
  it.each([
    ['a string', 'hello', 'input[0]', 'invalid_type'],
    ['null', null, 'input[0]', 'invalid_type'],
    ['an array', [], 'input[0]', 'invalid_type'],
    ['an item_reference', { type: 'item_reference', id: 'msg_1' }, 'input[0]', 'unsupported_value'],
    [
      'a web_search_call',
      { type: 'web_search_call', id: 'ws_1', status: 'completed' },
      'input[0].type',
      'unsupported_value',
    ],
    ['an item without type or role', { content: 'hi' }, 'input[0].type', 'unsupported_value'],
    ['a message with an unknown role', { role: 'critic', content: 'hi' }, 'input[0].role', 'invalid_value'],
    ['a message without content', { role: 'user' }, 'input[0].content', 'invalid_value'],
    ['a message with numeric content', { role: 'user', content: 5 }, 'input[0].content', 'invalid_value'],
  ])('rejects %s', (_label, item, param, code) => {
    expectError([item], { param, code });
  });

  it('names the index of the offending item', () => {
    expectError(
      [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { type: 'computer_call', call_id: 'x' },
      ],
      { param: 'input[2].type', code: 'unsupported_value' },
    );
  });
});

describe('buildMessages: realistic Codex history', () => {
  it('produces a valid chat ordering with one leading system message', () => {
    const input = [
      {
        type: 'message',
        role: 'developer',
        content: [
          {
            type: 'input_text',
            text: '<permissions instructions>sandbox: workspace-write</permissions instructions>',
          },
        ],
      },
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: '<environment_context>cwd=/repo</environment_context>' },
          { type: 'input_text', text: 'Fix the failing test.' },
        ],
      },
      {
        type: 'reasoning',
        id: 'rs_1',
        summary: [{ type: 'summary_text', text: 'Need to run the tests first.' }],
        content: null,
        encrypted_content: null,
      },
      {
        type: 'message',
        id: 'msg_1',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Running the tests.', annotations: [] }],
      },
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_A',
        name: 'shell',
        arguments: '{"command":["npm","test"]}',
        status: 'completed',
      },
      { type: 'function_call_output', call_id: 'call_A', output: '1 failing' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Go on.' }] },
    ];
    const messages = build(input, 'You are Codex.');
    expect(messages).toEqual([
      {
        role: 'system',
        content:
          'You are Codex.\n\n<permissions instructions>sandbox: workspace-write</permissions instructions>',
      },
      {
        role: 'user',
        content: [
          { type: 'text', text: '<environment_context>cwd=/repo</environment_context>' },
          { type: 'text', text: 'Fix the failing test.' },
        ],
      },
      {
        role: 'assistant',
        content: 'Running the tests.',
        reasoning_content: 'Need to run the tests first.',
        tool_calls: [
          {
            id: 'call_A',
            type: 'function',
            function: { name: 'shell', arguments: '{"command":["npm","test"]}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_A', content: '1 failing' },
      { role: 'user', content: 'Go on.' },
    ]);
    assertValidChatOrdering(messages);
  });

  it('keeps a multi-turn history with parallel calls valid', () => {
    const messages = build(
      [
        { role: 'user', content: 'one' },
        call('a1'),
        call('a2'),
        output('a1'),
        output('a2'),
        { role: 'assistant', content: 'Done with one.' },
        { role: 'developer', content: 'approval mode changed' },
        { role: 'user', content: 'two' },
        { type: 'reasoning', id: 'rs', summary: [{ type: 'summary_text', text: 'think' }] },
        call('b1'),
        { role: 'assistant', content: 'meanwhile' },
        output('b1'),
        { role: 'assistant', content: 'Done with two.' },
      ],
      'sys',
    );
    assertValidChatOrdering(messages);
    expect(messages.map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'tool',
      'tool',
      'assistant',
      'user',
      'assistant',
      'tool',
      'assistant',
    ]);
    expect(messages[0]).toEqual({ role: 'system', content: 'sys\n\napproval mode changed' });
    expect(messages[7]).toEqual({
      role: 'assistant',
      content: 'meanwhile',
      reasoning_content: 'think',
      tool_calls: [toolCall('b1')],
    });
  });
});
