/**
 * The workflows Nova declares out of the box, so that the dashboard has something to start in
 * the demo default. `examples/workflows/` has a document to start from and a README.
 */
import { z } from 'zod';
import { defineWorkflow } from './define.ts';

/** Three steps and a sleep: start it from the dashboard's Workflows page and watch the timeline. */
export const onboarding = defineWorkflow(
  { name: 'demo.onboarding', version: 1, input: z.object({ name: z.string().min(1).default('newcomer') }).default({ name: 'newcomer' }) },
  async ({ input, step }) => {
    const greeting = await step.run('compose-welcome', () => `Welcome to Nova, ${input.name}!`);
    await step.sleep('let-it-sink-in', '2s');
    const tips = await step.run('pick-tips', () => ['runs survive crashes', 'waits hold no worker', 'steps run once']);
    return { greeting, tips };
  },
);

/** The smallest durable workflow: three memoized steps (and what bench:workflows measures). */
export const threeSteps = defineWorkflow({ name: 'demo.three-steps', version: 1 }, async ({ step }) => {
  const a = await step.run('one', () => 1);
  const b = await step.run('two', () => a + 1);
  return step.run('three', () => b + 1);
});

/** One HTTP step executed by the `http-worker` role (SSRF rules apply to `url`). */
export const fetchUrl = defineWorkflow(
  { name: 'demo.fetch', version: 1, input: z.object({ url: z.url() }) },
  async ({ input, step }) => {
    const res = await step.http('get', { url: input.url });
    return { status: res.status, durationMs: res.durationMs };
  },
);

/** Sleeps until `until`: a sleeping run holds no worker slot and no active job. */
export const napUntil = defineWorkflow(
  { name: 'demo.nap', version: 1, input: z.object({ until: z.iso.datetime({ offset: true }) }) },
  async ({ input, step }) => {
    await step.sleepUntil('nap', input.until);
    return step.run('wake', () => 'rested');
  },
);

/**
 * An expense approval: one of `approvers` approves with a form (amount, cost centre), within a
 * day, else it is rejected. Decide in the dashboard's Approvals page or with `nova approvals`.
 */
export const expenseApproval = defineWorkflow(
  {
    name: 'demo.expense', version: 1,
    input: z.object({
      amount: z.number().positive().default(120), approvers: z.array(z.string().min(1)).min(1).default(['manager', 'finance']),
      timeoutMs: z.number().int().positive().default(86_400_000),
    }).default({ amount: 120, approvers: ['manager', 'finance'], timeoutMs: 86_400_000 }),
  },
  async ({ input, step }) => {
    const decision = await step.approval('manager-approval', {
      approvers: input.approvers, message: `Approve an expense of ${input.amount}?`, timeoutMs: input.timeoutMs, onTimeout: 'reject',
      form: {
        type: 'object', required: ['amount', 'costCentre'], additionalProperties: false,
        properties: { amount: { type: 'number', maximum: input.amount }, costCentre: { type: 'string', enum: ['ops', 'sales', 'rnd'] } },
      },
    });
    if (!decision.approved) return { paid: false, status: decision.status };
    return step.run('pay', () => ({ paid: true, ...(decision.data as object) }));
  },
);

/**
 * An expense approval that escalates: the manager has `timeoutMs` to decide (with the form);
 * undecided, the finance director joins and has as long again, after which it is rejected.
 */
export const expenseEscalation = defineWorkflow(
  {
    name: 'demo.expense-escalation', version: 1,
    input: z.object({
      amount: z.number().positive().default(2400),
      approvers: z.array(z.string().min(1)).min(1).default(['manager']),
      escalateTo: z.array(z.string().min(1)).min(1).default(['finance-director']),
      timeoutMs: z.number().int().positive().default(3_600_000),
    }).default({ amount: 2400, approvers: ['manager'], escalateTo: ['finance-director'], timeoutMs: 3_600_000 }),
  },
  async ({ input, step }) => {
    const decision = await step.approval('approve-expense', {
      approvers: input.approvers, message: `Approve an expense of ${input.amount}?`,
      timeoutMs: input.timeoutMs, onTimeout: 'escalate', escalation: { to: input.escalateTo, onTimeout: 'reject' },
      form: {
        type: 'object', required: ['amount', 'costCentre'], additionalProperties: false,
        properties: { amount: { type: 'number', exclusiveMinimum: 0, maximum: input.amount }, costCentre: { type: 'string', enum: ['ops', 'sales', 'rnd'] } },
      },
    });
    if (!decision.approved) return { paid: false, status: decision.status, by: decision.decisions.map((d) => d.by) };
    return step.run('pay', () => ({ paid: true, ...(decision.data as object), by: decision.decisions.map((d) => d.by) }));
  },
);

/**
 * The search tool's arguments. Schemas live at module level, made once: a workflow's code runs
 * again on every tick, and a schema made inside it is converted and compiled again each time.
 */
export const searchQuery = z.object({ query: z.string().min(1).max(200) });

/** What the research agent must answer (validated; an invalid answer goes back to the model). */
export const researchSummary = z.object({
  summary: z.string().min(1).max(2000),
  sources: z.array(z.string()).max(10),
  confidence: z.enum(['low', 'medium', 'high']),
});

/**
 * A research agent (role `agent-runner`): it searches with an HTTP tool (run by the agent-runner
 * itself, SSRF rules apply) and answers with a summary validated by `researchSummary`. With no LLM key it runs
 * the builtin model; offline, the search's error reaches the model as the tool's result and the
 * answer still comes back valid.
 */
export const researchAgent = defineWorkflow(
  {
    name: 'demo.research', version: 1,
    input: z.object({
      topic: z.string().min(1).max(500).default('durable workflow engines'),
      searchUrl: z.string().default('https://en.wikipedia.org/w/api.php?action=opensearch&format=json&limit=3&search={query}'),
      model: z.string().optional(),
    }).default({ topic: 'durable workflow engines', searchUrl: 'https://en.wikipedia.org/w/api.php?action=opensearch&format=json&limit=3&search={query}' }),
  },
  async ({ input, step }) => {
    const research = await step.agent<z.infer<typeof researchSummary>>('research', {
      ...(input.model && { model: input.model }),
      system: 'You research a topic: search for it, then summarize what the results say and list their URLs.',
      input: `Research: ${input.topic}`,
      tools: {
        search: {
          description: 'Search the web; returns titles and URLs.',
          parameters: searchQuery,
          http: (args: { query: string }) => ({ url: input.searchUrl.replace('{query}', encodeURIComponent(args.query)) }),
          options: { timeoutMs: 10_000, maxAttempts: 2 },
        },
      },
      output: researchSummary,
      maxTurns: 6,
      tokenBudget: 20_000,
    });
    return { ...research.output, turns: research.turns, tokens: research.usage.inputTokens + research.usage.outputTokens };
  },
);

export const exampleWorkflows = [onboarding, threeSteps, fetchUrl, napUntil, expenseApproval, expenseEscalation, researchAgent];
