import { useState } from 'react';
import { useLive } from '../api/hooks.ts';
import { compactJson, duration } from '../format.ts';
import { Badge } from '../ui.tsx';
import type { Step } from './types.ts';

interface ToolCall {
  id: string;
  name: string;
  arguments: unknown;
}

interface ModelOutput {
  text: string;
  toolCalls: ToolCall[];
  usage: { inputTokens: number; outputTokens: number };
  durationMs: number;
}

const SUB = /^(.*)\/turn-(\d+)\/(model|tool-(\d+))$/;

/** The agent steps of a run: `<agent>/turn-<n>/model` and `<agent>/turn-<n>/tool-<k>`, grouped by agent and turn. */
export function agentsOf(steps: Step[]): Map<string, Map<number, { model?: Step; tools: Map<number, Step> }>> {
  const agents = new Map<string, Map<number, { model?: Step; tools: Map<number, Step> }>>();
  for (const s of steps) {
    const m = SUB.exec(s.stepId);
    if (!m) continue;
    const turns = agents.get(m[1]!) ?? new Map();
    agents.set(m[1]!, turns);
    const turn = turns.get(Number(m[2])) ?? { tools: new Map() };
    turns.set(Number(m[2]), turn);
    if (m[3] === 'model') turn.model = s;
    else turn.tools.set(Number(m[4]), s);
  }
  return agents;
}

/**
 * An agent step's turns, live: each model call's text (streamed token by token from `agent.token`
 * events on `run:<id>` while it runs, the stored reply once it is done), the tool calls it made
 * with their arguments, and each tool's result or error.
 */
export function AgentPanel({ runId, steps }: { runId: string; steps: Step[] }) {
  const [streamed, setStreamed] = useState<Record<string, string>>({});
  useLive([`run:${runId}`], (event) => {
    if (event.type !== 'agent.token') return;
    const { stepId, text } = event.data as { stepId: string; text: string };
    setStreamed((prev) => ({ ...prev, [stepId]: (prev[stepId] ?? '') + text }));
  });
  const agents = agentsOf(steps);
  if (agents.size === 0) return null;
  return (
    <>
      {[...agents].map(([agent, turns]) => {
        const summary = steps.find((s) => s.stepId === agent && s.kind === 'agent');
        return (
          <div key={agent} className="agent" data-agent={agent}>
            <h2>
              Agent {agent} {summary ? <Badge kind={summary.status}>{summary.status}</Badge> : <Badge kind="running">running</Badge>}
            </h2>
            {summary?.error && <p className="note error">{summary.error.name}: {summary.error.message}</p>}
            <ol>
              {[...turns].sort(([a], [b]) => a - b).map(([n, turn]) => {
                const out = turn.model?.output as ModelOutput | null | undefined;
                const text = out?.text ?? (turn.model ? streamed[turn.model.stepId] : undefined) ?? '';
                return (
                  <li key={n} data-turn={n}>
                    <div className="small">
                      turn {n}{out && <> · {out.usage.inputTokens + out.usage.outputTokens} tokens · {duration(out.durationMs)}</>}
                      {turn.model && !out && <> · <Badge kind={turn.model.status}>{turn.model.status === 'waiting' ? 'thinking' : turn.model.status}</Badge></>}
                    </div>
                    {text && <p className="agent-text" data-live={out ? undefined : 'true'}>{text}</p>}
                    {(out?.toolCalls ?? []).map((call, k) => {
                      const tool = turn.tools.get(k + 1);
                      return (
                        <div key={call.id} className="small" data-tool={call.name}>
                          tool <b>{call.name}</b> <code>{compactJson(call.arguments, 200)}</code> →{' '}
                          {!tool ? 'not run' : tool.error ? <span className="error-text">{tool.error.message}</span>
                            : tool.status !== 'completed' ? <Badge kind={tool.status}>{tool.status}</Badge> : <code>{compactJson(tool.output, 200)}</code>}
                        </div>
                      );
                    })}
                  </li>
                );
              })}
            </ol>
          </div>
        );
      })}
    </>
  );
}
