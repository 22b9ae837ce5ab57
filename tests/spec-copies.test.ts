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
