import type { ChatModel, ChatRequest } from '../llm.ts';
import { fromSdkError } from '../llm.ts';

export interface OpenAiOptions {
  apiKey: string | undefined;
  /** Any OpenAI-compatible endpoint (vLLM, Ollama, LiteLLM, the LLM emulator). */
  baseUrl: string;
  model: string;
}

const OFFICIAL = /^https:\/\/api\.openai\.com(\/|$)/;

/**
 * OpenAI chat completions in JSON mode through the official SDK. The SDK is loaded on first use,
 * so processes that run the builtin provider never pay for it. Its own retries are off: the
 * extractor retries under the shared rate limit instead.
 */
export async function openAiChatModel(options: OpenAiOptions): Promise<ChatModel> {
  const { default: OpenAI, APIError } = await import('openai');
  const client = new OpenAI({
    // Local servers need no key, but the SDK refuses to start without one.
    apiKey: options.apiKey ?? 'unused',
    baseURL: options.baseUrl,
    // Nova's outbound layer retries and times each try (through the request's signal).
    maxRetries: 0,
  });
  // The official API wants max_completion_tokens (reasoning models refuse max_tokens); compatible
  // servers such as Ollama and older vLLM only know max_tokens.
  const limitField = OFFICIAL.test(options.baseUrl) ? 'max_completion_tokens' : 'max_tokens';
  return {
    provider: 'openai',
    model: options.model,
    async complete(request: ChatRequest) {
      try {
        const res = await client.chat.completions.create(
          {
            model: options.model,
            messages: [{ role: 'system', content: request.system }, ...request.messages],
            response_format: { type: 'json_object' },
            temperature: 0,
            [limitField]: request.maxOutputTokens,
          },
          request.signal ? { signal: request.signal } : {},
        );
        return {
          text: res.choices[0]?.message.content ?? '',
          usage: { inputTokens: res.usage?.prompt_tokens ?? 0, outputTokens: res.usage?.completion_tokens ?? 0 },
        };
      } catch (err) {
        throw fromSdkError('openai', err, APIError);
      }
    },
  };
}
