/** The shapes of /api/workflows and /api/runs (src/workflows/api.ts). */
export interface WorkflowSummary {
  name: string;
  kind: 'code' | 'document';
  version: number;
  runs: number;
  active: number;
}

export interface Run {
  id: string;
  workflow: string;
  version: number;
  status: 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' | 'timed_out';
  input: unknown;
  output: unknown;
  error: { name: string; message: string } | null;
  parentRunId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface Step {
  stepId: string;
  kind: string;
  status: string;
  attempt: number;
  input: unknown;
  output: unknown;
  error: { name: string; message: string } | null;
  wakeAt: string | null;
  childRunId: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

export const LIVE = new Set(['queued', 'running', 'waiting']);
