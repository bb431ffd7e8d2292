/**
 * Workflow events (`step.waitForEvent`): the statements that store an event and end the waits it
 * matches, end new waits with events stored before them, and prune old events. An advisory lock
 * per event name orders a send against a wait registering at the same moment.
 */
import type { Queryable } from '../storage/index.ts';
import { json, type TickEnqueue } from './store.ts';

/** Advisory lock key of an event name: sending takes it exclusively, registering waits shared. */
const EVENT_LOCK = `hashtext('nova.workflow-event:' || $1)`;

/**
 * Stores an event (for waits that register later, see deliverStoredEvents) and completes every
 * step waiting for it whose match the data contains. Returns the runs to wake. Takes the event
 * name's lock first: a wait registering meanwhile either is seen here or sees the stored event.
 */
export async function deliverEvent(
  db: Queryable, name: string, data: unknown, ticks?: { queue: string; enqueue: TickEnqueue },
): Promise<{ runs: string[]; jobIds: number[] }> {
  await db.query(
    `with l as (select pg_advisory_xact_lock(${EVENT_LOCK}))
     insert into workflow_events (name, data) select $1, $2::text::jsonb from l`,
    [name, json(data ?? {})],
  );
  // A statement of its own: its snapshot is taken after the lock was granted. Given `ticks`, a
  // tick of each run woken is queued in the same statement.
  const queued = ticks
    ? `, ticks as (select distinct run_id from woken), ${ticks.enqueue('ticks', `jsonb_build_object('runId', ticks.run_id)`, '$3', 'null::timestamptz')}`
    : '';
  const rows = await db.query<{ run_id: string; jobs: number[] | null }>(
    `with woken as (
       update run_steps set status = 'completed', output = $2::text::jsonb, finished_at = clock_timestamp()
       where event_name = $1 and status = 'waiting' and kind = 'waitForEvent'
         and $2::text::jsonb @> coalesce(event_match, '{}'::jsonb)
       returning run_id, step_id
     )${queued}
     select distinct run_id${ticks ? `, (select array_agg(id) from enqueued) as jobs` : ''} from woken`,
    [name, json(data ?? {}), ...(ticks ? [ticks.queue] : [])],
  );
  return { runs: rows.map((r) => r.run_id), jobIds: rows[0]?.jobs ?? [] };
}

/** Takes the shared lock of each event name (sorted) before waits on them are registered. */
export async function lockEventNames(db: Queryable, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await db.query(
    `select count(pg_advisory_xact_lock_shared(hashtext('nova.workflow-event:' || n)))
     from (select distinct n from unnest($1::text[]) n order by n) x`,
    [[...names]],
  );
}

/**
 * Completes waits just registered ($1 jsonb array of {runId, stepId}) with the oldest stored
 * event that matches and was sent after the run started, after the previous step of the run
 * began (an event sent while that step ran, e.g. a webhook answering its call, counts), and
 * after every earlier event wait of the run ended (the event that ended one does not end the
 * next).
 * Call after lockEventNames, in the registering transaction. Returns the runs whose step ended.
 */
export async function deliverStoredEvents(db: Queryable, waits: readonly { runId: string; stepId: string }[]): Promise<string[]> {
  if (waits.length === 0) return [];
  const rows = await db.query<{ run_id: string }>(
    `with x as (
       select (e->>'runId')::uuid as run_id, e->>'stepId' as step_id from jsonb_array_elements($1::text::jsonb) e
     ), m as (
       select s.run_id, s.step_id, (
         select ev.data from workflow_events ev
         where ev.name = s.event_name and ev.data @> coalesce(s.event_match, '{}'::jsonb)
           and ev.created_at > greatest(r.created_at, (
             select max(p.finished_at) from run_steps p
             where p.run_id = s.run_id and p.step_id <> s.step_id and p.kind = 'waitForEvent'))
           -- At or after: a step's start and an event its body sends can share a timestamp (PGlite's
           -- clock ticks in milliseconds), and that event was still sent while the step ran.
           and ev.created_at >= coalesce((
             select max(p.started_at) from run_steps p
             where p.run_id = s.run_id and p.step_id <> s.step_id and p.kind <> 'waitForEvent' and p.started_at <= s.started_at),
             '-infinity')
         order by ev.created_at, ev.id limit 1
       ) as data
       from x join run_steps s on s.run_id = x.run_id and s.step_id = x.step_id join runs r on r.id = s.run_id
       where s.status = 'waiting' and s.kind = 'waitForEvent'
     )
     update run_steps s set status = 'completed', output = m.data, finished_at = clock_timestamp()
     from m where s.run_id = m.run_id and s.step_id = m.step_id and m.data is not null and s.status = 'waiting'
     returning s.run_id`,
    [JSON.stringify(waits)],
  );
  return [...new Set(rows.map((r) => r.run_id))];
}

/** Deletes stored events older than `retentionMs`, at most `limit` of them; returns how many. */
export async function pruneEvents(db: Queryable, retentionMs: number, limit = 10_000): Promise<number> {
  const rows = await db.query(
    `delete from workflow_events where id in (
       select id from workflow_events where created_at < now() - make_interval(secs => $1::float8 / 1000) order by created_at limit $2)
     returning id`,
    [retentionMs, limit],
  );
  return rows.length;
}
