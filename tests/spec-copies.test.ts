import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  assertValidEvent,
  assertValidResponse,
  OPEN_RESPONSES_SPEC_FILE,
  OPENAI_SPEC_FILE,
  schemaErrors,
} from './helpers/spec-validator.js';

const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));

describe('spec copies and the validator', () => {
  it.skipIf(!existsSync(SHARED))('the vendored specs equal ../shared/', () => {
    expect(readFileSync(OPENAI_SPEC_FILE, 'utf8')).toBe(
      readFileSync(`${SHARED}openai-openapi/openapi.json`, 'utf8'),
    );
    expect(readFileSync(OPEN_RESPONSES_SPEC_FILE, 'utf8')).toBe(
      readFileSync(`${SHARED}open-responses/openapi.json`, 'utf8'),
    );
  });

  it.skipIf(!existsSync(`${SHARED}reference/client-captures`))(
    'the vendored client captures equal ../shared/reference/client-captures/',
    () => {
      for (const name of ['codex-request.json', 'agents_js-request.json', 'agents_py-request.json']) {
        expect(readFileSync(new URL(`./fixtures/client-captures/${name}`, import.meta.url), 'utf8')).toBe(
          readFileSync(`${SHARED}reference/client-captures/${name}`, 'utf8'),
        );
      }
    },
  );

  it('still checks what only OpenAI defines (custom tool calls, non-function tools) against OpenAI', () => {
    const call = { id: 'ctc_1', type: 'custom_tool_call', call_id: 'c', name: 'apply_patch', input: 'x' };
    const { input: _input, ...withoutInput } = call;
    const added = (item: object) => ({
      type: 'response.output_item.added',
      sequence_number: 2,
      output_index: 0,
      item,
    });
    expect(() => assertValidEvent(added(withoutInput))).toThrow(/does not match the specs/);
    assertValidEvent(added(call));
    const inputDone = {
      type: 'response.custom_tool_call_input.done',
      sequence_number: 3,
      output_index: 0,
      item_id: 'x',
    };
    expect(() => assertValidEvent(inputDone)).toThrow(/input/);
  });

  it('rejects a Response missing required fields (the validator can fail)', () => {
    expect(() => assertValidResponse({ id: 'resp_1', object: 'response', output: [] })).toThrow(
      /ResponseResource/,
    );
    expect(schemaErrors('openai', 'Response', { id: 1 }).length).toBeGreaterThan(0);
  });

  it('rejects an unknown stream event type', () => {
    expect(() => assertValidEvent({ type: 'response.reasoning_part.added' })).toThrow();
  });
});
