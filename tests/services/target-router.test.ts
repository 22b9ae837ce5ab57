import { describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../src/config.js';
import { ModelNotFoundError, ProxyError, toErrorBody } from '../../src/errors.js';
import { compilePattern, TargetRouter } from '../../src/services/target-router.js';

function target(name: string, models: string[] = []): TargetConfig {
  return {
    name,
    baseUrl: `http://${name}.local/v1`,
    apiKey: null,
    apiKeyEnv: null,
    headers: {},
    models,
    maxTokensField: 'max_tokens',
  };
}

/** The name of the target `model` is routed to, or the thrown error. */
function routeName(router: TargetRouter, model: string): string {
  const route = router.route(model);
  expect(route.upstreamModel).toBe(model);
  return route.target.name;
}

function notFound(router: TargetRouter, model: string): ModelNotFoundError {
  try {
    router.route(model);
  } catch (err) {
    if (err instanceof ModelNotFoundError) return err;
    throw err;
  }
  throw new Error(`expected ${model} not to be routed`);
}

describe('TargetRouter with one target', () => {
  it.each(['llama3.2', 'gpt-4o', 'Qwen/Qwen3-8B', 'anything:latest', '', ' spaced name '])(
    'sends %j to the only target without declared models',
    (model) => {
      const only = target('ollama');
      const route = new TargetRouter([only]).route(model);
      expect(route.target).toBe(only);
      expect(route.upstreamModel).toBe(model);
    },
  );

  it.each(['gpt-4o', 'llama3', 'claude'])(
    'sends %j to the only target even when its patterns do not match',
    (model) => {
      expect(routeName(new TargetRouter([target('openai', ['gpt-*'])]), model)).toBe('openai');
    },
  );
});

describe('TargetRouter with several targets', () => {
  const router = new TargetRouter([
    target('openai', ['gpt-*', 'o1', 'o3-*']),
    target('vllm', ['Qwen/*', 'meta-llama/*-Instruct']),
    target('catchall-mistral', ['*mistral*']),
    target('none'),
  ]);

  it.each([
    ['gpt-4o', 'openai'],
    ['gpt-', 'openai'],
    ['o1', 'openai'],
    ['o3-mini', 'openai'],
    ['Qwen/Qwen3-8B', 'vllm'],
    ['Qwen/', 'vllm'],
    ['meta-llama/Llama-3.1-8B-Instruct', 'vllm'],
    ['mistral', 'catchall-mistral'],
    ['open-mistral-nemo', 'catchall-mistral'],
    ['mistralai/Mistral-7B', 'catchall-mistral'],
  ])('routes %j to %s', (model, name) => {
    expect(routeName(router, model)).toBe(name);
  });

  it.each([
    ['o1-mini', 'o1 matches the whole name only'],
    ['xgpt-4', 'gpt-* is anchored at the start'],
    ['GPT-4o', 'matching is case-sensitive'],
    ['qwen/qwen3', 'matching is case-sensitive'],
    ['meta-llama/Llama-3.1-8B-Instruct-AWQ', 'the pattern must match to the end'],
    ['o3', 'o3-* needs the dash'],
    ['', 'the empty name matches nothing here'],
    ['llama3', 'no pattern at all'],
  ])('does not route %j (%s)', (model) => {
    const err = notFound(router, model);
    expect(err.message).toBe(`The model '${model}' is not routed to any configured target.`);
  });

  it('never routes to a target without patterns', () => {
    const r = new TargetRouter([target('a', ['x']), target('b')]);
    expect(notFound(r, 'y')).toBeInstanceOf(ModelNotFoundError);
    expect(routeName(r, 'x')).toBe('a');
  });

  it.each([
    ['gpt-4o', 'first'],
    ['gpt-3.5', 'first'],
    ['other', 'second'],
  ])('the first matching target wins: %j -> %s', (model, name) => {
    const r = new TargetRouter([target('first', ['gpt-*']), target('second', ['*']), target('third', ['*'])]);
    expect(routeName(r, model)).toBe(name);
  });

  it('checks targets in order, not the most specific pattern', () => {
    const r = new TargetRouter([target('broad', ['*']), target('exact', ['gpt-4o'])]);
    expect(routeName(r, 'gpt-4o')).toBe('broad');
  });

  it('returns the configured target object', () => {
    const b = target('b', ['b*']);
    const route = new TargetRouter([target('a', ['a*']), b]).route('bee');
    expect(route).toStrictEqual({ target: b, upstreamModel: 'bee' });
    expect(route.target).toBe(b);
  });

  it('routes nothing when there is no target', () => {
    expect(notFound(new TargetRouter([]), 'x').status).toBe(404);
  });
});

describe('ModelNotFoundError from the router', () => {
  it('is a 404 model_not_found on param model', () => {
    const err = notFound(new TargetRouter([target('a', ['a*']), target('b', ['b*'])]), 'zeta');
    expect(err).toBeInstanceOf(ProxyError);
    expect(err.status).toBe(404);
    expect(err.type).toBe('invalid_request_error');
    expect(err.code).toBe('model_not_found');
    expect(err.param).toBe('model');
    expect(toErrorBody(err)).toStrictEqual({
      error: {
        message: "The model 'zeta' is not routed to any configured target.",
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    });
  });
});

describe('compilePattern', () => {
  it.each([
    // `*` anywhere
    ['*', '', true],
    ['*', 'anything at all', true],
    ['*', 'multi\nline', true],
    ['gpt-*', 'gpt-4o', true],
    ['gpt-*', 'gpt-', true],
    ['gpt-*', 'gpt', false],
    ['*-instruct', 'llama-3-instruct', true],
    ['*-instruct', 'llama-3-instruct-q4', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'a-long-b-long-c', true],
    ['a*b*c', 'acb', false],
    ['**', 'x', true],
    ['*/*', 'org/model', true],
    ['*/*', 'model', false],
    // whole name
    ['gpt-4', 'gpt-4', true],
    ['gpt-4', 'gpt-4o', false],
    ['gpt-4', 'my-gpt-4', false],
    // regex metacharacters are literal
    ['llama3.1', 'llama3.1', true],
    ['llama3.1', 'llama3x1', false],
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
    ['a?b', 'a?b', true],
    ['a?b', 'b', false],
    ['(x)', '(x)', true],
    ['(x)', 'x', false],
    ['[abc]', '[abc]', true],
    ['[abc]', 'a', false],
    ['^m$', '^m$', true],
    ['^m$', 'm', false],
    ['a|b', 'a|b', true],
    ['a|b', 'a', false],
    ['x{2}', 'x{2}', true],
    ['x{2}', 'xx', false],
    ['back\\slash', 'back\\slash', true],
    ['back\\slash', 'backslash', false],
    ['qwen2.5:7b-*', 'qwen2.5:7b-instruct', true],
    ['qwen2.5:7b-*', 'qwen2x5:7b-instruct', false],
    ['org/model.*', 'org/model.gguf', true],
    ['org/model.*', 'org/modelXgguf', false],
  ])('%j matches %j: %s', (pattern, model, matches) => {
    expect(compilePattern(pattern).test(model)).toBe(matches);
  });

  it('gives a regex without state between tests', () => {
    const re = compilePattern('a*');
    expect([re.test('ab'), re.test('ab'), re.test('ab')]).toEqual([true, true, true]);
  });
});
