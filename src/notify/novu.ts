import { z } from 'zod';
import { parseAnswer } from '../runtime/outbound.ts';
import { channelHttp } from './channels/http.ts';

const triggerAnswer = z.object({
  data: z.object({ acknowledged: z.boolean(), status: z.string(), transactionId: z.string().optional() }),
});

/**
 * Novu forwarding (the original's delivery path): `POST <NOVU_API_URL>/v1/events/trigger` with
 * `Authorization: ApiKey <NOVU_SECRET_KEY>` and `{name: workflow_key, to: {subscriberId},
 * payload, overrides, transactionId}`. Unlike the original, a transaction id is always sent
 * (per notification and recipient), so a retried dispatch is deduplicated by Novu.
 */
export class NovuClient {
  private readonly http;

  constructor(private readonly apiUrl: string, private readonly secretKey: string, timeoutMs: number) {
    this.http = channelHttp('novu', timeoutMs, { describeError: (text) => ({ message: (JSON.parse(text) as { message?: string }).message }) });
  }

  async trigger(
    t: { workflowKey: string; subscriberId: string; payload: unknown; overrides: unknown; transactionId: string },
    signal: AbortSignal,
  ): Promise<{ transactionId: string | null; status: string }> {
    const answer = await this.http(`${this.apiUrl}/v1/events/trigger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${this.secretKey}` },
      body: JSON.stringify({ name: t.workflowKey, to: { subscriberId: t.subscriberId }, payload: t.payload ?? {}, overrides: t.overrides ?? {}, transactionId: t.transactionId }),
    }, signal);
    const parsed = parseAnswer('novu', triggerAnswer, answer, 'trigger response');
    return { transactionId: parsed.data.transactionId ?? null, status: parsed.data.status };
  }
}
