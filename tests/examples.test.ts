import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const EXAMPLES = readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.toml'));

/** Every variable the examples reference, set to a dummy value. */
const ENV = {
  DEEPSEEK_API_KEY: 'sk-deepseek-dummy',
  GROQ_API_KEY: 'gsk-dummy',
  OPENROUTER_API_KEY: 'sk-or-dummy',
  AZURE_OPENAI_RESOURCE: 'my-resource',
  AZURE_OPENAI_API_KEY: 'azure-dummy-key',
  OPENAI_API_KEY: 'sk-openai-dummy',
  LLM_PROXY_API_KEYS: 'team-key-1,team-key-2',
};

describe('configuration files shipped with the repo', () => {
  it('has an example per well-known upstream', () => {
    expect(EXAMPLES.sort()).toEqual(
      [
        'azure-openai.toml',
        'deepseek.toml',
        'groq.toml',
        'llama-cpp.toml',
        'lm-studio.toml',
        'multi-target.toml',
        'ollama.toml',
        'openai.toml',
        'openrouter.toml',
        'vllm.toml',
      ].sort(),
    );
  });

  it.each(EXAMPLES)('examples/%s is valid', (file) => {
    const config = loadConfig(`${ROOT}examples/${file}`, ENV);
    expect(config.targets.length).toBeGreaterThan(0);
  });

  it('the repo llm-proxy.toml is valid and targets a local Ollama', () => {
    const config = loadConfig(`${ROOT}llm-proxy.toml`, {});
    expect(config.targets.map((t) => t.baseUrls)).toEqual([['http://127.0.0.1:11434/v1']]);
  });

  it('expands env references in the Azure example and keeps the key a secret', () => {
    const azure = loadConfig(`${ROOT}examples/azure-openai.toml`, ENV).targets[0];
    expect(azure?.baseUrls).toEqual(['https://my-resource.openai.azure.com/openai/v1']);
    expect(azure?.headers['api-key']).toBe('azure-dummy-key');
    expect(azure?.secrets).toContain('azure-dummy-key');
  });
});
