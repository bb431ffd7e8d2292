import { describe, expect, it } from 'vitest';
import type { ModelReply, ModelRequest } from './agent-types.ts';
import { Execution, type InlineSteps } from './context.ts';
import type { HttpRequest } from './http-types.ts';
import type { StepWrite } from './store.ts';

/**
 * The order of an inline tick's writes and calls (role agent-runner): a step's record is written
 * before any side effect that depends on it, a model call's reply only after every step before
 * the call. Each write here waits until the test lets it through (or fails it), so what starts
 * meanwhile shows in the log.
 */
function harness(failWrite?: string) {
  const log: string[] = [];
  const pending: { stepId: string; release: () => void }[] = [];
  let turn = 0;
  const reply = (toolCalls: ModelReply['toolCalls'], text = ''): ModelReply => ({
    provider: 'test', model: 'm', text, toolCalls, usage: { inputTokens: 1, outputTokens: 1 }, finishReason: 'stop', durationMs: 1,
  });
  const inline: InlineSteps = {
    ownStep: 'none',
    until: Date.now() + 60_000,
    async model(stepId: string, _request: ModelRequest, ready: () => Promise<void>) {
      await ready(); // the budgets are drawn at once here
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
    checkpoint: (write: StepWrite) => new Promise<void>((release, fail) => {
      log.push(`write ${write.stepId}`);
      pending.push({
        stepId: write.stepId,
        release: () => (write.stepId === failWrite ? (log.push(`lost ${write.stepId}`), fail(new Error('run lost'))) : (log.push(`stored ${write.stepId}`), release())),
      });
    }),
    expireWait: async () => ({ output: null }),
    resolveChild: async () => {
      throw new Error('no children');
    },
    inline,
  }, 'run-1', 1, new Map(), undefined);
  const tick = () => new Promise((r) => setImmediate(r));
  /** Lets the oldest write through once it is asked for. */
  const releaseNext = async () => {
    while (pending.length === 0) await tick();
    pending.shift()!.release();
  };
  let settled = false;
  const agent = (method: string) => {
    const done = exec.api().agent('a', {
      input: 'Look it up',
      tools: { fetch: { description: 'Fetch', parameters: { type: 'object', properties: { q: { type: 'string' } } }, http: () => ({ url: 'http://127.0.0.1/x', method }) } },
    });
    done.then(() => (settled = true), () => (settled = true));
    return done;
  };
  return { log, agent, releaseNext, tick, settled: () => settled };
}

describe('an inline agent turn', () => {
  it('sends a GET tool while the reply that asked for it is written, and the next call while the tool result is; the reply waits for the result', async () => {
    const { log, agent, releaseNext, tick, settled } = harness();
    const done = agent('GET');
    await releaseNext(); // the reply of turn 1
    while (!log.includes('call a/turn-2/model')) await tick();
    for (let i = 0; i < 5; i++) await tick();
    // Turn 2 answered, but its reply is not taken while the tool result it follows is unwritten.
    expect(settled()).toBe(false);
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

  it('sends no model call once a write failed (the run was lost or cancelled)', async () => {
    const { log, agent, releaseNext } = harness('a/turn-1/model');
    const done = agent('POST');
    await releaseNext();
    await expect(done).rejects.toThrow('run lost');
    expect(log).toEqual(['call a/turn-1/model', 'write a/turn-1/model', 'lost a/turn-1/model']);
  });
});
