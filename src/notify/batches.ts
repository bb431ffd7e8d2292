/**
 * The per-notification statements of the delivery path, gathered across the notifications this
 * process handles at once (runtime/batcher.ts): a dispatch's claim and its run id, what a plan
 * reads, the delivery rows and digest events it writes, a send's retraction check and its
 * recorded outcome, a run's final status. Each is a per-row statement (the same conditions, one
 * row each), so sending many together changes no outcome. It turns about eight commits per
 * notification into a share of one per batch: at a few hundred notifications a second the
 * PostgreSQL server's WAL flush (one per commit), not Nova's CPU, was what each notification
 * waited on.
 */
import { Batcher } from '../runtime/batcher.ts';
import type { Sql } from '../storage/index.ts';
import type { NotifyConfig } from './config.ts';
import { addDigestEvents, type DigestEvent } from './digest-store.ts';
import * as store from './store.ts';

export interface NotifyBatches {
  open: Batcher<store.OpenedDeliveries, void>;
  claim: Batcher<number, { dispatch: number; claimed: boolean } | undefined>;
  plan: Batcher<number, store.PlanRead | undefined>;
  setRun: Batcher<{ id: number; runId: string }, void>;
  status: Batcher<number, store.NotificationStatus | undefined>;
  record: Batcher<store.DeliveryRecord, void>;
  finish: Batcher<{ id: number; status: 'SENT' | 'FAILED'; details: unknown }, boolean>;
  digest: Batcher<DigestEvent, void>;
}

const key = (d: store.DeliveryRecord) => `${d.notificationId}:${d.recipient}:${d.channel}`;

/** Splits a batch so no key appears twice in one statement; the parts run in order. */
function byUniqueKey<T>(items: T[], keyOf: (t: T) => string): T[][] {
  const parts: { keys: Set<string>; items: T[] }[] = [];
  for (const item of items) {
    const k = keyOf(item);
    // The first part after the last one holding this key keeps their order.
    let at = parts.length;
    while (at > 0 && !parts[at - 1]!.keys.has(k)) at--;
    const part = parts[at] ?? (parts[at] = { keys: new Set(), items: [] });
    part.keys.add(k);
    part.items.push(item);
  }
  return parts.map((p) => p.items);
}

export function createBatches(sql: Sql, config: NotifyConfig): NotifyBatches {
  return {
    open: new Batcher(async (list) => {
      for (const part of byUniqueKey(list, (o) => String(o.notificationId))) await store.openPlannedDeliveries(sql, part);
      return list.map(() => undefined);
    }, 200, 1, (o) => store.openPlannedDeliveries(sql, [o])),
    claim: new Batcher(async (ids) => {
      const got = await store.claimManyForDispatch(sql, [...new Set(ids)], config.NOTIFY_MAX_DISPATCHES, config.NOTIFY_REDISPATCH_BASE_MS);
      // As if asked one after another: a row asked for twice in a batch is claimed by the first.
      const seen = new Set<number>();
      return ids.map((id) => {
        const c = got.get(id);
        if (c && seen.has(id)) return { dispatch: c.dispatch, claimed: false };
        seen.add(id);
        return c;
      });
    }, 500),
    plan: new Batcher(async (ids) => {
      const got = await store.readPlans(sql, [...new Set(ids)]);
      return ids.map((id) => got.get(id));
    }, 200),
    setRun: new Batcher(async (runs) => {
      for (const part of byUniqueKey(runs, (r) => String(r.id))) await store.setRuns(sql, part);
      return runs.map(() => undefined);
    }, 500, 1, async (r) => store.setRun(sql, r.id, r.runId)),
    status: new Batcher(async (ids) => {
      const got = await store.statusesOf(sql, [...new Set(ids)]);
      return ids.map((id) => got.get(id));
    }, 1000),
    record: new Batcher(async (list) => {
      for (const part of byUniqueKey(list, key)) await store.recordDeliveries(sql, part);
      return list.map(() => undefined);
    }, 500, 1, async (d) => store.recordDelivery(sql, d)),
    finish: new Batcher(async (list) => {
      const out: boolean[] = [];
      for (const part of byUniqueKey(list, (f) => String(f.id))) {
        const done = await store.finishNotifications(sql, part);
        // A row repeated in a later part was finished by the earlier one (it is no longer PROCESSING).
        for (const f of part) out[list.indexOf(f)] = done.has(f.id);
      }
      return out;
    }, 500),
    // An event added twice (a plan run again) is kept once by the table's unique key.
    digest: new Batcher<DigestEvent, void>(async (events) => {
      await addDigestEvents(sql, events);
      return events.map(() => undefined);
    }, 500, 1, (e) => addDigestEvents(sql, [e])),
  };
}
