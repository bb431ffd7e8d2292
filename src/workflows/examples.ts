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

export const exampleWorkflows = [onboarding];
