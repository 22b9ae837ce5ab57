import { describe, expect, it } from 'vitest';
import { type Config, parseConfig, type TargetConfig } from '../../src/config.js';
import { ModelNotFoundError, ProxyError, toErrorBody } from '../../src/errors.js';
import { compilePattern, TargetRouter } from '../../src/services/target-router.js';

/**
 * Targets are built by the real config parser from TOML, so they always have the current shape.
 * Each entry is [name, models, extra TOML lines].
 */
function configure(targets: Array<[string, string[]?, string?]>, preamble = ''): Config {
  const toml = targets
    .map(
      ([name, models = [], extra = '']) =>
        `[targets.${name}]\nbase_url = "https://${name}.example/v1"\nmodels = ${JSON.stringify(models)}\n${extra}\n`,
    )
    .join('\n');
  return parseConfig(`${preamble}\n${toml}`, 'router.toml', {});
}

function target(name: string, models: string[] = [], extra = ''): TargetConfig {
  return configure([[name, models, extra]]).targets[0] as TargetConfig;
}

function routerOf(targets: Array<[string, string[]?, string?]>, preamble = ''): TargetRouter {
  const config = configure(targets, preamble);
  return new TargetRouter(config.targets, config.defaultTarget);
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
  it.each([
    'llama3.2',
    'gpt-4o',
    'Qwen/Qwen3-8B',
    'anything:latest',
    '',
    ' spaced name ',
    'constructor',
    'toString',
  ])('sends %j to the only target without declared models', (model) => {
    const only = target('ollama');
    const route = new TargetRouter([only]).route(model);
    expect(route.target).toBe(only);
    expect(route.upstreamModel).toBe(model);
  });

  it.each(['gpt-4o', 'gpt-'])('sends %j to the only target when its patterns match', (model) => {
    expect(routeName(new TargetRouter([target('openai', ['gpt-*'])]), model)).toBe('openai');
  });

  it.each(['llama3', 'claude', ''])(
    'does not send %j to the only target when it declares models that do not match',
    (model) => {
      expect(notFound(new TargetRouter([target('openai', ['gpt-*'])]), model).status).toBe(404);
    },
  );
});

describe('TargetRouter with several targets', () => {
  const router = routerOf([
    ['openai', ['gpt-*', 'o1', 'o3-*']],
    ['vllm', ['Qwen/*', 'meta-llama/*-Instruct']],
    ['catchall-mistral', ['*mistral*']],
    ['none'],
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

  it('never routes to a target without patterns when there are several', () => {
    const r = routerOf([['a', ['x']], ['b']]);
    expect(notFound(r, 'y')).toBeInstanceOf(ModelNotFoundError);
    expect(routeName(r, 'x')).toBe('a');
  });

  it.each([
    ['gpt-4o', 'first'],
    ['gpt-3.5', 'first'],
    ['other', 'second'],
  ])('the first matching target wins: %j -> %s', (model, name) => {
    const r = routerOf([
      ['first', ['gpt-*']],
      ['second', ['*']],
      ['third', ['*']],
    ]);
    expect(routeName(r, model)).toBe(name);
  });

  it('checks targets in order, not the most specific pattern', () => {
    const r = routerOf([
      ['broad', ['*']],
      ['exact', ['gpt-4o']],
    ]);
    expect(routeName(r, 'gpt-4o')).toBe('broad');
  });

  it('returns the configured target object', () => {
    const config = configure([
      ['a', ['a*']],
      ['b', ['b*']],
    ]);
    const route = new TargetRouter(config.targets).route('bee');
    expect(route).toStrictEqual({ target: config.targets[1], upstreamModel: 'bee', model: 'bee' });
    expect(route.target).toBe(config.targets[1]);
  });

  it('routes nothing when there is no target', () => {
    expect(notFound(new TargetRouter([]), 'x').status).toBe(404);
  });
});

describe('TargetRouter: explicit NAME/model', () => {
  const router = routerOf([
    ['openai', ['gpt-*'], 'model_map = { "gpt-4o" = "gpt-4o-2024-08-06" }'],
    ['vllm', ['Qwen/*']],
    ['local'],
  ]);

  it.each([
    ['vllm/gpt-4o', 'vllm', 'gpt-4o'],
    ['local/llama3.2:latest', 'local', 'llama3.2:latest'],
    ['openai/o1', 'openai', 'o1'],
    ['local/Qwen/Qwen3-8B', 'local', 'Qwen/Qwen3-8B'],
    ['vllm/', 'vllm', ''],
  ])('%j goes to %s as %j', (model, name, upstream) => {
    const route = router.route(model);
    expect({ target: route.target.name, upstreamModel: route.upstreamModel }).toEqual({
      target: name,
      upstreamModel: upstream,
    });
  });

  it('sends the rest as written, without the model_map lookup', () => {
    expect(router.route('openai/gpt-4o').upstreamModel).toBe('gpt-4o');
    expect(router.route('gpt-4o').upstreamModel).toBe('gpt-4o-2024-08-06');
  });

  it('beats a pattern that matches the whole name', () => {
    const r = routerOf([['first', ['*']], ['second']]);
    expect(r.route('second/x').target.name).toBe('second');
    expect(r.route('second/x').upstreamModel).toBe('x');
  });

  it.each([
    ['Qwen/Qwen3-8B', 'vllm', 'a prefix that is no target name is part of the model name'],
    ['unknown/gpt-4o', null, 'an unknown prefix does not match gpt-*'],
    ['/gpt-4o', null, 'an empty prefix names no target'],
    ['OPENAI/gpt-4o', null, 'target names are case-sensitive'],
  ] as Array<[string, string | null, string]>)('%j -> %s (%s)', (model, name) => {
    if (name === null) expect(notFound(router, model).status).toBe(404);
    else expect(routeName(router, model)).toBe(name);
  });
});

describe('TargetRouter: model_map', () => {
  const router = routerOf([
    ['openai', ['gpt-*'], 'model_map = { "smart" = "gpt-4o", "gpt-4" = "gpt-4-0613" }'],
    ['vllm', [], 'model_map = { "qwen" = "Qwen/Qwen3-8B", "smart" = "never-reached" }'],
  ]);

  it.each([
    ['smart', 'openai', 'gpt-4o', 'a model_map key routes and is renamed'],
    ['gpt-4', 'openai', 'gpt-4-0613', 'a key that also matches a pattern is renamed'],
    ['gpt-4o', 'openai', 'gpt-4o', 'a pattern match without a key keeps the name'],
    ['qwen', 'vllm', 'Qwen/Qwen3-8B', 'a later target is reached by its key'],
  ])('%j -> %s as %j (%s)', (model, name, upstream) => {
    const route = router.route(model);
    expect([route.target.name, route.upstreamModel]).toEqual([name, upstream]);
  });

  it('does not route an upstream name that is only a model_map value', () => {
    expect(notFound(router, 'Qwen/Qwen3-8B').code).toBe('model_not_found');
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'treats %j as a model name, not an object property',
    (model) => {
      const only = target('only');
      expect(new TargetRouter([only]).route(model).upstreamModel).toBe(model);
      expect(notFound(router, model).status).toBe(404);
    },
  );

  it('routeTo renames on the target it is given (fallbacks)', () => {
    const config = configure([
      ['a', ['smart'], 'model_map = { "smart" = "a-model" }'],
      ['b', [], 'model_map = { "smart" = "b-model" }'],
    ]);
    const r = new TargetRouter(config.targets);
    const b = r.target('b') as TargetConfig;
    expect(r.routeTo(b, 'smart')).toStrictEqual({ target: b, upstreamModel: 'b-model', model: 'smart' });
    expect(r.routeTo(b, 'other').upstreamModel).toBe('other');
    expect(r.target('nope')).toBeUndefined();
  });
});

describe('TargetRouter: [defaults] target', () => {
  const targets: Array<[string, string[]?, string?]> = [
    ['openai', ['gpt-*']],
    ['local', [], 'model_map = { "small" = "llama3.2:1b" }'],
  ];

  it('takes every model no target matches', () => {
    const r = routerOf(targets, '[defaults]\ntarget = "local"\n');
    expect(routeName(r, 'llama3')).toBe('local');
    expect(routeName(r, 'gpt-4o')).toBe('openai');
    expect(r.route('small').upstreamModel).toBe('llama3.2:1b');
  });

  it('may be a target with patterns of its own', () => {
    const r = routerOf(targets, '[defaults]\ntarget = "openai"\n');
    expect(routeName(r, 'claude')).toBe('openai');
  });

  it('is 404 without it', () => {
    expect(notFound(routerOf(targets), 'llama3').status).toBe(404);
  });

  it('wins over the single-target rule', () => {
    const r = routerOf([['only', ['gpt-*']]], '[defaults]\ntarget = "only"\n');
    expect(routeName(r, 'llama3')).toBe('only');
  });
});

describe('TargetRouter.listModels', () => {
  it('lists model_map keys and models without wildcards, once, with the first target owning them', () => {
    const r = routerOf([
      ['openai', ['gpt-*', 'o1', 'gpt-4o'], 'model_map = { "smart" = "gpt-4o" }'],
      ['vllm', ['Qwen/Qwen3-8B', 'o1', '*'], 'model_map = { "smart" = "x", "qwen" = "Qwen/Qwen3-8B" }'],
      ['empty'],
    ]);
    expect(r.listModels()).toStrictEqual([
      { id: 'smart', target: 'openai' },
      { id: 'o1', target: 'openai' },
      { id: 'gpt-4o', target: 'openai' },
      { id: 'qwen', target: 'vllm' },
      { id: 'Qwen/Qwen3-8B', target: 'vllm' },
    ]);
  });

  it('is empty when only patterns are configured', () => {
    expect(routerOf([['a', ['a*']], ['b']]).listModels()).toStrictEqual([]);
  });
});

describe('ModelNotFoundError from the router', () => {
  it('is a 404 model_not_found on param model', () => {
    const err = notFound(
      routerOf([
        ['a', ['a*']],
        ['b', ['b*']],
      ]),
      'zeta',
    );
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
