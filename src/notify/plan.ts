/**
 * Who gets what on which channel, decided once per dispatch (the `plan` step of a delivery run):
 * recipients × channels, minus opt-outs (unless the workflow is critical), deliveries already
 * SENT by an earlier dispatch, and recipients a channel cannot reach; quiet hours in the
 * subscriber's zone delay non-critical deliveries. Pure functions over loaded rows.
 */
import type { ChannelType, DeliveryRow, NotificationRow, WorkflowRow } from './store.ts';
import type { PreferenceRow, SubscriberRow } from './subscribers-store.ts';

export interface PlannedDelivery {
  recipient: string;
  channel: ChannelType;
  /** send; skip (with reason); done (sent by an earlier dispatch); digest (gathered into a digest bucket). */
  action: 'send' | 'skip' | 'done' | 'digest';
  reason?: string;
  /** ISO time before which it must not go out (quiet hours). */
  notBefore?: string;
}

/** The channels a notification goes out on: its own list, else the workflow's defaults, else in-app. */
export function channelsOf(n: NotificationRow, wf: WorkflowRow | undefined): ChannelType[] {
  const list = n.channels?.length ? n.channels : wf?.default_channels?.length ? wf.default_channels : ['IN_APP' as const];
  return [...new Set(list)];
}

/** Whether a subscriber opted out of a channel for this workflow (a workflow-specific row wins over the general one). */
export function optedOut(prefs: PreferenceRow[], subscriberId: string, workflowId: number | null, channel: ChannelType): boolean {
  const mine = prefs.filter((p) => p.subscriber_id === subscriberId && p.channel_type === channel);
  const specific = mine.find((p) => workflowId !== null && p.notification_workflow_id === workflowId);
  const general = mine.find((p) => p.notification_workflow_id === null);
  return (specific ?? general)?.enabled === false;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes since local midnight of `at` in `timeZone`. */
function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const h = Number(parts.find((p) => p.type === 'hour')?.value);
  const m = Number(parts.find((p) => p.type === 'minute')?.value);
  return h * 60 + m;
}

/**
 * When the subscriber's quiet hours end, if `now` falls inside them; null otherwise. A window
 * may wrap midnight (22:00 → 07:00). Precise to the minute; a DST change inside the window may
 * shift the end by the change.
 */
export function quietUntil(now: Date, sub: Pick<SubscriberRow, 'timezone' | 'quiet_hours_start' | 'quiet_hours_end'>): Date | null {
  const s = HHMM.exec(sub.quiet_hours_start ?? '');
  const e = HHMM.exec(sub.quiet_hours_end ?? '');
  if (!s || !e) return null;
  const start = Number(s[1]) * 60 + Number(s[2]);
  const end = Number(e[1]) * 60 + Number(e[2]);
  if (start === end) return null;
  let local: number;
  try {
    local = localMinutes(now, sub.timezone || 'UTC');
  } catch {
    local = localMinutes(now, 'UTC');
  }
  const inside = start < end ? local >= start && local < end : local >= start || local < end;
  if (!inside) return null;
  const minutesLeft = (end - local + 1440) % 1440;
  const at = new Date(now.getTime() + minutesLeft * 60_000);
  at.setUTCSeconds(0, 0);
  return at;
}

export interface PlanInput {
  notification: NotificationRow;
  workflow: WorkflowRow | undefined;
  subscribers: SubscriberRow[];
  preferences: PreferenceRow[];
  previous: Pick<DeliveryRow, 'recipient' | 'channel_type' | 'status'>[];
  /** Why a channel cannot reach a subscriber, or null. */
  unreachable: (channel: ChannelType, sub: SubscriberRow) => string | null;
  now: Date;
}

export function planDeliveries(p: PlanInput): PlannedDelivery[] {
  const critical = p.workflow?.critical ?? false;
  const workflowId = p.notification.notification_workflow_id;
  const out: PlannedDelivery[] = [];
  for (const recipient of [...new Set(p.notification.recipients)]) {
    const sub = p.subscribers.find((s) => s.subscriber_id === recipient);
    const quiet = sub && !critical ? quietUntil(p.now, sub) : null;
    for (const channel of channelsOf(p.notification, p.workflow)) {
      const before = p.previous.find((d) => d.recipient === recipient && d.channel_type === channel);
      if (before?.status === 'SENT') {
        out.push({ recipient, channel, action: 'done' });
        continue;
      }
      if (!sub) {
        // An unknown recipient still has an inbox; other channels need an address.
        if (channel !== 'IN_APP') out.push({ recipient, channel, action: 'skip', reason: 'no subscriber with this id' });
        else out.push({ recipient, channel, action: 'send', ...(quiet && { notBefore: quiet.toISOString() }) });
        continue;
      }
      if (!critical && optedOut(p.preferences, recipient, workflowId, channel)) {
        out.push({ recipient, channel, action: 'skip', reason: 'opted out' });
        continue;
      }
      const why = p.unreachable(channel, sub);
      if (why) {
        out.push({ recipient, channel, action: 'skip', reason: why });
        continue;
      }
      out.push({ recipient, channel, action: 'send', ...(quiet && { notBefore: quiet.toISOString() }) });
    }
  }
  return out;
}
