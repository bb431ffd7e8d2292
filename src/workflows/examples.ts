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
    input: z.object({ amount: z.number().positive().default(120), approvers: z.array(z.string().min(1)).min(1).default(['manager', 'finance']) })
      .default({ amount: 120, approvers: ['manager', 'finance'] }),
  },
  async ({ input, step }) => {
    const decision = await step.approval('manager-approval', {
      approvers: input.approvers, message: `Approve an expense of ${input.amount}?`, timeoutMs: '1d', onTimeout: 'reject',
      form: {
        type: 'object', required: ['amount', 'costCentre'], additionalProperties: false,
        properties: { amount: { type: 'number', maximum: input.amount }, costCentre: { type: 'string', enum: ['ops', 'sales', 'rnd'] } },
      },
    });
    if (!decision.approved) return { paid: false, status: decision.status };
    return step.run('pay', () => ({ paid: true, ...(decision.data as object) }));
  },
);

export const exampleWorkflows = [onboarding, threeSteps, fetchUrl, napUntil, expenseApproval];
