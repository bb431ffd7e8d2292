/**
 * Templates: Liquid (liquidjs) per channel, as the original's engine (strict filters, unknown
 * variables render empty). Rendering either yields every field of a channel's message or throws
 * TemplateError: a delivery never sends a half-rendered message. Parse and render are bounded
 * (template size, render time, memory) so an untrusted template cannot hold a worker.
 */
import { Liquid, type Template } from 'liquidjs';
import type { ChannelType, TemplateRow } from './store.ts';

/** What a channel sends: email uses subject + body (HTML); in-app/push title + body (+ action); SMS/chat body. */
export interface Rendered {
  subject: string | null;
  body: string;
  actionUrl: string | null;
}

export class TemplateError extends Error {
  constructor(readonly templateKey: string | null, readonly channel: ChannelType, cause: unknown) {
    super(`template ${templateKey ?? '(inline)'} for ${channel} failed to render: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'TemplateError';
  }
}

/** Template source of a channel: a stored template, or inline content from the notification's overrides. */
export interface TemplateSource {
  key: string | null;
  subject: string | null;
  body: string;
  actionUrl?: string | null;
  /** The bound template does not exist (or is not published): rendering fails. */
  missing?: boolean;
}

const MAX_TEMPLATE = 100_000;

export function createLiquid(): Liquid {
  return new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    cache: 200,
    parseLimit: MAX_TEMPLATE,
    renderLimit: 1000,
    memoryLimit: 10_000_000,
  });
}

/**
 * Liquid with its parsed templates kept per process, keyed by the template's text (so an edited
 * template is parsed anew, and nothing goes stale): liquidjs parses a string on every
 * parseAndRender, which a delivery path rendering the same few templates thousands of times a
 * second need not pay. At most `max` texts are kept; the oldest goes first.
 */
export class CompiledTemplates {
  private readonly parsed = new Map<string, Template[]>();

  constructor(readonly liquid: Liquid, private readonly max = 500) {}

  async render(text: string, scope: Record<string, unknown>): Promise<string> {
    let tpl = this.parsed.get(text);
    if (!tpl) {
      tpl = this.liquid.parse(text);
      // A long text (a preview, a rare large template) is parsed each time rather than kept.
      if (text.length > 20_000) return this.liquid.render(tpl, scope);
      if (this.parsed.size >= this.max) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(text, tpl);
    }
    return this.liquid.render(tpl, scope);
  }
}

/** Renders every field of a channel's message, or throws TemplateError naming the template. */
export async function renderMessage(templates: CompiledTemplates, channel: ChannelType, source: TemplateSource, scope: Record<string, unknown>): Promise<Rendered> {
  try {
    if (source.missing) throw new Error('no published template with this key');
    if (source.body.length > MAX_TEMPLATE || (source.subject?.length ?? 0) > MAX_TEMPLATE) throw new Error(`template longer than ${MAX_TEMPLATE} characters`);
    const [subject, body, actionUrl] = await Promise.all([
      source.subject ? templates.render(source.subject, scope) : Promise.resolve(null),
      templates.render(source.body, scope),
      source.actionUrl ? templates.render(source.actionUrl, scope) : Promise.resolve(null),
    ]);
    if (!String(body).trim()) throw new Error('the body rendered empty');
    if (channel === 'SMS' && body.length > 1600) throw new Error(`SMS body is ${body.length} characters (at most 1600)`);
    return { subject: subject === null ? null : String(subject).trim(), body: String(body), actionUrl: actionUrl === null ? null : String(actionUrl).trim() };
  } catch (err) {
    throw new TemplateError(source.key, channel, err);
  }
}

/**
 * Where a channel's template comes from: `overrides.channels.<CHANNEL>` inline content first,
 * then the workflow's template binding (`template_overrides.<CHANNEL>` = template_key).
 */
export function sourceFor(
  channel: ChannelType,
  overrides: Record<string, unknown> | null,
  binding: Partial<Record<ChannelType, string>> | null,
  templates: TemplateRow[],
): TemplateSource | undefined {
  const inline = (overrides?.channels as Record<string, { subject?: string; body?: string; actionUrl?: string }> | undefined)?.[channel];
  if (inline && typeof inline.body === 'string') return { key: null, subject: inline.subject ?? null, body: inline.body, actionUrl: inline.actionUrl ?? null };
  const key = binding?.[channel];
  if (!key) return undefined;
  const t = templates.find((x) => x.template_key === key);
  if (!t) return { key, subject: null, body: '', missing: true };
  return { key, subject: t.subject_template, body: t.body_template, actionUrl: t.action_template };
}

/** The variables a template sees: the payload's fields, plus `payload`, `subscriber` and `notification`. */
export function scopeFor(payload: Record<string, unknown>, subscriber: Record<string, unknown>, notification: { id: number; name: string; transactionId: string | null }): Record<string, unknown> {
  return { ...payload, payload, subscriber, notification, currentYear: new Date().getUTCFullYear() };
}
