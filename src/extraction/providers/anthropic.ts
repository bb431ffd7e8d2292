import type { ChatModel, ChatRequest } from '../llm.ts';
import { fromSdkError } from '../llm.ts';
import { outputJsonSchema } from '../schema.ts';

export interface AnthropicOptions {
  apiKey: string | undefined;
  /** Unset: the SDK's default (the Anthropic API). */
  baseUrl: string | undefined;
  model: string;
}

const TOOL = 'record_extraction';

/**
 * Anthropic Messages through the official SDK. Claude has no JSON mode; a forced tool call whose
 * input schema is the extraction schema is its structured-output path, so the answer is the
 * tool's input (serialized back to text for the common validation).
 */
export async function anthropicChatModel(options: AnthropicOptions): Promise<ChatModel> {
  const { default: Anthropic, APIError } = await import('@anthropic-ai/sdk');
  const client = new Anthropic({
    // A gateway or the emulator may need no key; the SDK refuses to start with none at all.
    apiKey: options.apiKey ?? 'unused',
    ...(options.baseUrl && { baseURL: options.baseUrl }),
    // Nova's outbound layer retries and times each try (through the request's signal).
    maxRetries: 0,
  });
  const inputSchema = { ...outputJsonSchema(), type: 'object' as const };
  return {
    provider: 'anthropic',
    model: options.model,
    async complete(request: ChatRequest) {
      const tool = request.output
        ? { name: request.output.name, description: request.output.description, input_schema: { ...request.output.schema, type: 'object' as const } }
        : { name: TOOL, description: 'Record the facts extracted from the email.', input_schema: inputSchema };
      try {
        const res = await client.messages.create(
          {
            model: options.model,
            max_tokens: request.maxOutputTokens,
            system: request.system,
            messages: request.messages,
            tools: [tool],
            tool_choice: { type: 'tool', name: tool.name },
          },
          request.signal ? { signal: request.signal } : {},
        );
        let text = '';
        for (const block of res.content) {
          if (block.type === 'tool_use' && block.name === tool.name) text = JSON.stringify(block.input);
          else if (block.type === 'text' && !text) text = block.text;
        }
        return { text, usage: { inputTokens: res.usage.input_tokens, outputTokens: res.usage.output_tokens } };
      } catch (err) {
        throw fromSdkError('anthropic', err, APIError);
      }
    },
  };
}
