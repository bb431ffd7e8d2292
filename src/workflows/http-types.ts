import { z } from 'zod';

/** The request of a step.http (and of a document's `http` node), as stored with the step. */
export const httpRequestSchema = z.object({
  url: z.string().min(1),
  method: z.string().regex(/^[A-Za-z]+$/).default('GET'),
  headers: z.record(z.string(), z.string()).optional(),
  /** A string is sent as is; anything else as JSON. */
  body: z.unknown().optional(),
});
export type HttpRequest = z.input<typeof httpRequestSchema>;

export const httpOptionsSchema = z.object({
  /** Per attempt; default HTTP_STEP_TIMEOUT_MS. */
  timeoutMs: z.number().int().positive().optional(),
  /** Attempts in all, counting retries after 5xx, 429 and network errors; default 3. */
  maxAttempts: z.number().int().min(1).max(20).optional(),
  /** Delay before the first retry when the server sends no Retry-After; doubles each time. */
  backoffMs: z.number().int().min(0).optional(),
  /**
   * A final status at or above this fails the step (true = 400, false = never). Documents use
   * 500: like the original, a 4xx is a result their conditions can branch on.
   */
  failOnStatus: z.union([z.boolean(), z.number().int()]).optional(),
});
export type HttpStepOptions = z.infer<typeof httpOptionsSchema>;

/** What a step.http returns (the original's http result, in camelCase plus its own fields). */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the response says JSON, else the text. */
  body: unknown;
  durationMs: number;
  url: string;
  method: string;
  attempts: number;
}
