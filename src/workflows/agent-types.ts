/**
 * The shapes of `step.agent`: its options and tools, the provider-neutral conversation a model
 * sub-step carries to role `agent-runner`, and what a model call returns. Stored in run_steps as
 * JSON, so everything here is plain data.
 */
import { z } from 'zod';
import type { ZodType } from 'zod';
import type { StepRetry, Workflow } from './define.ts';
import type { HttpRequest, HttpStepOptions } from './http-types.ts';

/** The model-call queue, served by role `agent-runner`. */
export const AGENT_QUEUE = 'workflow.agent';

/** A tool's arguments: a zod schema (validated with it) or a JSON Schema (validated with Ajv). */
export type ToolParameters = ZodType<any> | Record<string, unknown>;

interface ToolBase {
  description: string;
  /** What the model must pass; default: any object. Bad arguments go back to the model as an error result. */
  parameters?: ToolParameters;
}

/** A tool run as a `step.http` by role `agent-runner` in the turn's job, with http-worker's attempt (SSRF guard, retries, Idempotency-Key). */
export interface HttpTool extends ToolBase {
  http: (args: any) => HttpRequest;
  options?: HttpStepOptions;
}

/** A tool run as a child workflow (`step.invoke`); its output is the tool's result. */
export interface WorkflowTool extends ToolBase {
  workflow: Workflow<any, any> | string;
  /** The child's input from the arguments; default the arguments themselves. */
  input?: (args: any) => unknown;
}

/** A tool run inline by the workflow runner (`step.run`); default one attempt, so an error reaches the model at once. */
export interface CodeTool extends ToolBase {
  run: (args: any, signal: AbortSignal) => unknown;
  retry?: Partial<StepRetry>;
  timeoutMs?: number;
}

export type AgentTool = HttpTool | WorkflowTool | CodeTool;

/** What `step.agent` is given (see docs/API.md). */
export interface AgentOptions {
  /** `builtin`, `openai:<model>`, `anthropic:<model>`, or a bare provider; default: the configured LLM_PROVIDER. */
  model?: string;
  system?: string;
  /** The task: a string, or any JSON (sent as JSON). */
  input: unknown;
  tools?: Record<string, AgentTool>;
  /** Model calls at most (turns); default 10. Running out fails the step with AgentMaxTurns. */
  maxTurns?: number;
  /** Input plus output tokens of all model calls; going over fails the step with AgentTokenBudgetExceeded. Default 100,000. */
  tokenBudget?: number;
  /** Output tokens per model call; default 1,024 (never more than what is left of the budget). */
  maxOutputTokens?: number;
  /** The final answer must be JSON satisfying this (zod or JSON Schema); an invalid answer goes back to the model while turns remain. */
  output?: ToolParameters;
  /**
   * Offer the `patch_workflow` tool: JSON Patch operations on the running workflow document, applied
   * for the run's next tick within AGENT_MAX_RUN_PATCHES / AGENT_MAX_AGENT_NODES (documents only).
   */
  allowPatches?: boolean;
}

export interface ToolCall {
  id: string;
  name: string;
  /** The parsed arguments (a string when the model sent JSON that does not parse). */
  arguments: unknown;
}

export type AgentMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };

export interface ToolDeclaration {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** One model call, as the agent-runner job carries it. */
export const modelRequestSchema = z.object({
  model: z.string().nullable(),
  system: z.string(),
  messages: z.array(z.any()),
  tools: z.array(z.object({ name: z.string(), description: z.string(), parameters: z.record(z.string(), z.unknown()) })),
  outputSchema: z.record(z.string(), z.unknown()).nullable(),
  maxOutputTokens: z.number().int().positive(),
});
export type ModelRequest = Omit<z.infer<typeof modelRequestSchema>, 'messages'> & { messages: AgentMessage[] };

export const agentJob = z.object({ runId: z.uuid(), stepId: z.string(), request: modelRequestSchema });
export type AgentJob = z.infer<typeof agentJob>;

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** A model sub-step's stored output. */
export interface ModelReply {
  provider: string;
  model: string;
  text: string;
  toolCalls: ToolCall[];
  usage: Usage;
  finishReason: string;
  durationMs: number;
}

/** What `step.agent` returns. */
export interface AgentResult<O = unknown> {
  /** The validated answer (parsed JSON with an output schema, else the final text). */
  output: O;
  text: string;
  turns: number;
  usage: Usage;
  toolCalls: { turn: number; name: string; arguments: unknown; isError: boolean }[];
}
