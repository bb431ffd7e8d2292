import { z } from 'zod';
import { jsonIn, type ChatMessage, type ChatModel } from '../extraction/index.ts';
import { Outbound } from '../runtime/outbound.ts';
import type { RateLimit, RateLimiter } from '../runtime/rate-limit.ts';
import {
  BuiltinAnalyzer, briefNarrative, classifyOutput, emailOutput, risksOutput, summaryOutput,
  type BriefFacts, type DealAnalyzer, type DocumentInput, type EmailInput,
} from './analysis.ts';
import { narrativeOf, type Sections } from './brief.ts';

/**
 * The deal analyses by an LLM (LLM_PROVIDER openai or anthropic, the extraction domain's
 * providers and variables). Each task has a prompt and a zod schema; the answer is parsed
 * against it, with one repair round that sends the validation errors back, as the extractor does.
 * Calls share the extraction's per-provider requests/min and tokens/min buckets, so deals and
 * extraction together stay under one provider budget across every process.
 */

/** The model answered outside the task's schema twice: the job fails this attempt (and retries). */
export class LlmOutputError extends Error {
  override name = 'LlmOutputError';
}

export const DEAL_TASKS = ['summarize', 'extract_risks', 'classify', 'analyze_email', 'write_brief'] as const;
export type DealTask = (typeof DEAL_TASKS)[number];

const TASKS: Record<DealTask, { schema: z.ZodType; instruction: string }> = {
  summarize: { schema: summaryOutput, instruction: 'Summarize the document for an M&A deal team in two or three sentences: what it is and what matters for the deal.' },
  extract_risks: {
    schema: risksOutput,
    instruction: 'List up to 5 risks the document shows for the deal. citation quotes the document; severity is low, medium or high. No risk: an empty list.',
  },
  classify: {
    schema: classifyOutput,
    instruction: 'Assign the document to one workstream (Legal, HR, Finance, IT, Ops); confidence is 0-100; reasoning is one sentence.',
  },
  analyze_email: {
    schema: emailOutput,
    instruction: 'Judge the email for a deal team: sentiment is positive, neutral, risk or blocker; isBlocker is true only when something stops progress until someone acts.',
  },
  write_brief: {
    schema: briefNarrative,
    instruction: 'Write the opening of the daily brief from the facts given: a headline of one line and a summary of at most five sentences. Use only the facts.',
  },
};

const TEXT_MARKER = '--- text ---';
let schemas: Partial<Record<DealTask, Record<string, unknown>>> = {};
const jsonSchema = (task: DealTask) => (schemas[task] ??= z.toJSONSchema(TASKS[task].schema, { io: 'input' }) as Record<string, unknown>);

export function dealSystemPrompt(task: DealTask): string {
  return [
    `Task: ${task}`,
    TASKS[task].instruction,
    'Answer with one JSON object and nothing else.',
    `JSON Schema of the answer: ${JSON.stringify(jsonSchema(task))}`,
  ].join('\n');
}

/** The user message: headers, then the text after a marker line (the emulator reads it back). */
export function dealUserPrompt(headers: Record<string, string>, text: string): string {
  return [...Object.entries(headers).map(([k, v]) => `${k}: ${v.replace(/\s+/g, ' ')}`), TEXT_MARKER, text].join('\n');
}

export interface LlmAnalyzerOptions {
  model: ChatModel;
  rateLimiter?: RateLimiter | undefined;
  limits: { requestsPerMinute: number; tokensPerMinute: number };
  maxOutputTokens: number;
  maxRetries: number;
  timeoutMs: number;
  /** Document text sent to the model, in characters (the original sent 8,000). */
  maxInputChars: number;
}

export class LlmDealAnalyzer implements DealAnalyzer {
  readonly provider: string;
  private readonly requests: RateLimit;
  private readonly tokens: RateLimit;
  private readonly outbound: Outbound;

  constructor(private readonly options: LlmAnalyzerOptions) {
    this.provider = options.model.provider;
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = options.limits;
    this.requests = { capacity: rpm, perSecond: rpm / 60 };
    this.tokens = { capacity: tpm, perSecond: tpm / 60 };
    this.outbound = new Outbound({
      provider: options.model.provider, rateLimiter: options.rateLimiter, timeoutMs: options.timeoutMs, maxRetries: options.maxRetries,
      backoff: { baseDelayMs: 500, maxDelayMs: 20_000 },
    });
  }

  summarize(doc: DocumentInput, signal?: AbortSignal) {
    return this.ask('summarize', this.documentPrompt(doc), signal);
  }

  extractRisks(doc: DocumentInput, signal?: AbortSignal) {
    return this.ask('extract_risks', this.documentPrompt(doc), signal);
  }

  classify(doc: DocumentInput, signal?: AbortSignal) {
    return this.ask('classify', dealUserPrompt({ Document: doc.name }, doc.text.slice(0, 2000)), signal);
  }

  analyzeEmail(email: EmailInput, signal?: AbortSignal) {
    return this.ask('analyze_email', dealUserPrompt({ Subject: email.subject, From: email.sender }, email.body.slice(0, 2000)), signal);
  }

  narrateBrief(facts: BriefFacts, signal?: AbortSignal) {
    return this.ask('write_brief', dealUserPrompt({ Deal: facts.dealName, Date: facts.date }, JSON.stringify(facts.sections)), signal);
  }

  private documentPrompt(doc: DocumentInput): string {
    return dealUserPrompt({ Document: doc.name }, doc.text.slice(0, this.options.maxInputChars));
  }

  /** One task: the answer parsed by its schema, after at most one repair round. */
  private async ask(task: DealTask, user: string, signal?: AbortSignal): Promise<unknown> {
    const { schema } = TASKS[task];
    const system = dealSystemPrompt(task);
    const messages: ChatMessage[] = [{ role: 'user', content: user }];
    let issues = '';
    for (let round = 0; round < 2; round++) {
      const answer = await this.call(task, system, messages, signal);
      try {
        const parsed = schema.safeParse(jsonIn(answer));
        if (parsed.success) return parsed.data;
        issues = parsed.error.issues.map((i) => `- ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
      } catch (err) {
        issues = `- (root): not valid JSON (${err instanceof Error ? err.message : String(err)})`;
      }
      messages.push({ role: 'assistant', content: answer }, {
        role: 'user', content: `Your answer did not match the required JSON Schema:\n${issues}\nAnswer again with the complete, corrected JSON object and nothing else.`,
      });
    }
    throw new LlmOutputError(`${this.provider} answered ${task} outside its schema after a repair attempt:\n${issues}`.slice(0, 2000));
  }

  private async call(task: DealTask, system: string, messages: ChatMessage[], signal?: AbortSignal): Promise<string> {
    const { model, maxOutputTokens } = this.options;
    const prefix = `llm:${model.provider}:${model.model}`;
    const chars = system.length + messages.reduce((n, m) => n + m.content.length, 0);
    const cost = Math.min(this.tokens.capacity, Math.ceil(chars / 4) + maxOutputTokens);
    const output = { name: `record_${task}`, description: `Record the ${task.replace('_', ' ')} result.`, schema: jsonSchema(task) };
    const answer = await this.outbound.call((trySignal) => model.complete({ system, messages, maxOutputTokens, signal: trySignal, output }), {
      signal,
      budgets: [
        { key: `${prefix}:requests`, limit: this.requests },
        { key: `${prefix}:tokens`, limit: this.tokens, cost },
      ],
    });
    return answer.text;
  }
}

/**
 * What the LLM emulator answers to a deals prompt: the builtin analysis of the text in it, so
 * `nova emulator llm` and the tests serve schema-valid answers. Undefined for other prompts.
 */
export async function answerDealPrompt(system: string, user: string): Promise<unknown> {
  const task = /^Task: (\w+)/.exec(system)?.[1] as DealTask | undefined;
  if (!task || !DEAL_TASKS.includes(task)) return undefined;
  const at = user.indexOf(`\n${TEXT_MARKER}\n`);
  if (at < 0) return undefined;
  const headers = new Map(user.slice(0, at).split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
  const text = user.slice(at + TEXT_MARKER.length + 2);
  const builtin = new BuiltinAnalyzer();
  const doc = { name: headers.get('Document') ?? '', text };
  switch (task) {
    case 'summarize': return builtin.summarize(doc);
    case 'extract_risks': return builtin.extractRisks(doc);
    case 'classify': return builtin.classify(doc);
    case 'analyze_email': return builtin.analyzeEmail({ subject: headers.get('Subject') ?? '', sender: headers.get('From') ?? '', body: text });
    case 'write_brief': return narrativeOf(headers.get('Deal') ?? '', JSON.parse(text) as Sections);
  }
}
