import type { ExtractionOutput, ProviderName } from './schema.ts';
import type { Participant } from './store.ts';

/** What every extractor reads: the message's headers and its prepared text (see text.ts). */
export interface ExtractionInput {
  subject: string;
  from: Participant[];
  to: Participant[];
  cc: Participant[];
  /** When the message was sent; relative dates ("next Friday") are resolved against it. */
  date: Date | null;
  /** Body as text: HTML converted, quotes and signature trimmed, cut to the token budget. */
  text: string;
  truncated: boolean;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** The result of one extraction: a validated output, or a failure kept as data. */
export type ExtractOutcome =
  | {
      ok: true;
      output: ExtractionOutput;
      usage: Usage;
      calls: number;
      /** Entities dropped to make the output valid, one line each (stored in `meta.notes`). */
      notes?: string[];
    }
  | {
      ok: false;
      /** Why the output was refused (validation issues of the last attempt). */
      error: string;
      /** The provider's last output, as text, for diagnosis. */
      rawOutput: string;
      usage: Usage;
      calls: number;
    };

/** One way of turning a message into an extraction: the rule-based builtin, or an LLM. */
export interface Extractor {
  readonly provider: ProviderName;
  readonly model: string;
  /** The prompt version for LLMs; the rule set's version for builtin. */
  readonly promptVersion: string;
  extract(input: ExtractionInput, signal?: AbortSignal): Promise<ExtractOutcome>;
}
