import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { extractionConfig, type ExtractionConfig } from '../config.ts';
import { checkProviderConfig } from './index.ts';

const problems = (env: Record<string, string>) => checkProviderConfig(loadConfig(env, [extractionConfig]) as ExtractionConfig);

describe('checkProviderConfig', () => {
  it('names the missing key of a chosen provider', () => {
    expect(problems({ LLM_PROVIDER: 'openai' })).toEqual([{ variable: 'OPENAI_API_KEY', message: expect.stringContaining('LLM_PROVIDER=openai') }]);
    expect(problems({ LLM_PROVIDER: 'anthropic' })).toEqual([{ variable: 'ANTHROPIC_API_KEY', message: expect.stringContaining('LLM_PROVIDER=anthropic') }]);
    // The key of the other provider does not help.
    expect(problems({ LLM_PROVIDER: 'anthropic', OPENAI_API_KEY: 'sk-x' })).toHaveLength(1);
  });

  it('accepts a configured key, a local OpenAI-compatible server or an Anthropic gateway without one', () => {
    expect(problems({ LLM_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-x' })).toEqual([]);
    expect(problems({ LLM_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' })).toEqual([]);
    expect(problems({ LLM_PROVIDER: 'anthropic', ANTHROPIC_BASE_URL: 'http://gateway.internal' })).toEqual([]);
  });

  it('has nothing to say about the builtin provider, chosen or by default', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ LLM_PROVIDER: 'builtin' })).toEqual([]);
  });
});
