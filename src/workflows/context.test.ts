import { describe, expect, it } from 'vitest';
import type { ModelReply, ModelRequest } from './agent-types.ts';
import { Execution, type InlineSteps } from './context.ts';
import type { HttpRequest } from './http-types.ts';
import type { StepWrite } from './store.ts';

/**
 * The order of an inline tick's writes and calls (role agent-runner): a step's record is written
 * before any side effect that follows it, and a model call's reply only after every step before
 * the call. Each write here waits until the test lets it through, so what starts meanwhile shows.
 */
function harness() {
  const log: string[] = [];
  const pending: { stepId: string; release: () => void }[] = [];
  let turn = 0;
  const reply = (toolCalls: ModelReply['toolCalls'], text = ''): ModelReply => ({
    provider: 'test', model: 'm', text, toolCalls, usage: { inputTokens: 1, outputTokens: 1 }, finishReason: 'stop', durationMs: 1,
  });
  const inline: InlineSteps = {
    ownStep: 'none',
    until: Date.now() + 60_000,
    async model(stepId: string, _request: ModelRequest, ready: Promise<void>) {
      await ready;
      log.push(`call ${stepId}`);
      turn++;
      return turn === 1 ? reply([{ id: 'c1', name: 'fetch', arguments: { q: 'nova' } }]) : reply([], 'done');
    },
    async http(stepId: string, request: HttpRequest) {
      log.push(`${request.method} ${stepId}`);
      return { status: 'completed', output: { status: 200, headers: {}, body: { ok: true } }, error: null, attempt: 1 } as never;
    },
  };
  const exec = new Execution({
    checkpoint: (write: StepWrite) => new Promise<void>((release) => {
      log.push(`write ${write.stepId}`);
      pending.push({ stepId: write.stepId, release: () => (log.push(`stored ${write.stepId}`), release()) });
    }),
    expireWait: async () => ({ output: null }),
    resolveChild: async () => { throw new Error('no children'); },
    inline,
  }, 'run-1', 1, new Map(), undefined);
  /** Lets the oldest write through once it is asked for. */
  const releaseNext = async () => {
    while (pending.length === 0) await new Promise((r) => setImmediate(r));
    pending.shift()!.release();
  };
  const agent = (method: string) => exec.api().agent('a', {
    input: 'Look it up',
    tools: { fetch: { description: 'Fetch', parameters: { type: 'object', properties: { q: { type: 'string' } } }, http: () => ({ url: 'http://127.0.0.1/x', method }) } },
  });
  return { log, agent, releaseNext };
}

describe('an inline agent turn', () => {
  it('sends a GET tool while the reply that asked for it is written, and the next call while the tool result is', async () => {
    const { log, agent, releaseNext } = harness();
    const done = agent('GET');
    await releaseNext(); // the reply of turn 1
    await releaseNext(); // the tool's result
    await done;
    expect(log).toEqual([
      'call a/turn-1/model',
      'write a/turn-1/model', 'GET a/turn-1/tool-1', 'stored a/turn-1/model',
      'write a/turn-1/tool-1', 'call a/turn-2/model', 'stored a/turn-1/tool-1',
    ]);
  });

  it('sends a POST tool only once the reply that asked for it is stored', async () => {
    const { log, agent, releaseNext } = harness();
    const done = agent('POST');
    await releaseNext();
    await releaseNext();
    await done;
    expect(log).toEqual([
      'call a/turn-1/model',
      'write a/turn-1/model', 'stored a/turn-1/model', 'POST a/turn-1/tool-1',
      'write a/turn-1/tool-1', 'call a/turn-2/model', 'stored a/turn-1/tool-1',
    ]);
  });
});
