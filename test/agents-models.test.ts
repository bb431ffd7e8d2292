import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmEmulator } from '../src/emulators/llm/index.ts';
import { createAgentModel, parseModelName } from '../src/workflows/agent-models.ts';
import type { AgentMessage, ModelRequest } from '../src/workflows/agent-types.ts';

/** The agent models against the LLM emulator: both wire formats, through the official SDKs. */
describe('agent models on the LLM emulator', () => {
  const emulator = new LlmEmulator({ apiKey: 'sk-emulator' });
  let url = '';
  beforeAll(async () => {
    url = await emulator.start();
  });
  afterAll(() => emulator.stop());

  const request = (messages: AgentMessage[]): ModelRequest => ({
    model: null, system: 'Be brief.', messages, maxOutputTokens: 200,
    tools: [{ name: 'lookup', description: 'Look a word up', parameters: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] } }],
    outputSchema: { type: 'object', properties: { answer: { type: 'string' }, score: { type: 'integer', minimum: 3 } }, required: ['answer', 'score'] },
  });

  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: a tool call, its result back in the provider's format, then an answer satisfying the schema`, async () => {
      const model = await createAgentModel(`${provider}:emu-${provider}`, provider === 'openai'
        ? { OPENAI_BASE_URL: url, OPENAI_API_KEY: 'sk-emulator' }
        : { ANTHROPIC_BASE_URL: url.replace(/\/v1$/, ''), ANTHROPIC_API_KEY: 'sk-emulator' });
      const tokens: string[] = [];
      const first = await model.call(request([{ role: 'user', content: 'What is a nova?' }]), (t) => tokens.push(t), AbortSignal.timeout(10_000));
      expect(first.toolCalls).toEqual([{ id: expect.any(String), name: 'lookup', arguments: { word: 'What is a nova?' } }]);
      expect(first.usage.inputTokens).toBeGreaterThan(0);
      // Both stream piece by piece (OpenAI chunks, Anthropic text_delta events).
      expect(tokens.join('')).toBe(first.text);
      expect(tokens.length).toBeGreaterThan(1);

      const answer: string[] = [];
      const second = await model.call(request([
        { role: 'user', content: 'What is a nova?' },
        { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: first.toolCalls[0]!.id, name: 'lookup', content: '{"error":"dictionary offline"}', isError: true },
      ]), (t) => answer.push(t), AbortSignal.timeout(10_000));
      expect(second.toolCalls).toEqual([]);
      // The structured answer streams too (Anthropic: the final_answer tool's input_json_delta).
      expect(answer.join('')).toBe(second.text);
      expect(JSON.parse(second.text)).toEqual({ answer: expect.stringContaining('dictionary offline'), score: 3 });
      const seen = emulator.agentRequests.at(-1)!;
      expect(seen.api).toBe(provider);
      expect(seen.messages.at(-1)).toMatchObject({ role: 'tool', name: 'lookup', content: '{"error":"dictionary offline"}' });
    });
  }

  it('streams an Anthropic turn in the Messages API event format: named events, text and input JSON deltas', async () => {
    const res = await fetch(`${url}/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-emulator', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'emu', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Define nova' }],
        tools: [{ name: 'lookup', description: 'Look a word up', input_schema: { type: 'object', properties: { word: { type: 'string' } } } }],
      }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = (await res.text()).trim().split('\n\n').map((frame) => {
      const [event, data] = frame.split('\n');
      return { event: event!.replace(/^event: /, ''), data: JSON.parse(data!.replace(/^data: /, '')) };
    });
    for (const e of events) expect(e.data.type).toBe(e.event);
    const names = events.map((e) => e.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta);
    expect(deltas.filter((d) => d.type === 'text_delta').map((d) => d.text).join('')).toBe('I will use lookup.');
    expect(JSON.parse(deltas.filter((d) => d.type === 'input_json_delta').map((d) => d.partial_json).join(''))).toEqual({ word: 'Define nova' });
    expect(events.find((e) => e.event === 'content_block_start' && e.data.index === 1)!.data.content_block).toMatchObject({ type: 'tool_use', name: 'lookup', input: {} });
    expect(events.at(-2)!.data).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: expect.any(Number) } });
  });

  it('names the provider and model, and refuses an unknown provider or a missing key', async () => {
    expect(parseModelName('openai:gpt-4o', {})).toEqual({ provider: 'openai', model: 'gpt-4o' });
    expect(parseModelName(null, {})).toEqual({ provider: 'builtin', model: 'builtin' });
    expect(parseModelName(null, { ANTHROPIC_API_KEY: 'k' })).toEqual({ provider: 'anthropic', model: 'claude-haiku-4-5' });
    expect(() => parseModelName('mistral:large', {})).toThrow(/unknown model provider "mistral"/);
    await expect(createAgentModel('openai', {})).rejects.toThrow(/OPENAI_API_KEY/);
  });
});
