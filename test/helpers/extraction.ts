import { silentLogger } from '../../src/log.ts';
import type { LoopContext, Services } from '../../src/runtime/domain.ts';
import type { Queryable } from '../../src/storage/index.ts';

/** Inserts a message the way the email domain stores one (own SQL: tests must not depend on its internals). */
export async function insertMessage(
  db: Queryable,
  m: { subject?: string; body?: string; from?: { name: string | null; email: string }[]; to?: { name: string | null; email: string }[]; date?: Date; grant?: string },
): Promise<string> {
  const grant = m.grant ?? 'grant-extraction';
  const [inbox] = await db.query<{ id: string }>(
    `insert into flux_inboxes (grant_id) values ($1) on conflict (grant_id) do update set updated_at = now() returning id`,
    [grant],
  );
  const [row] = await db.query<{ id: string }>(
    `insert into flux_email_messages (inbox_id, grant_id, nylas_message_id, nylas_thread_id, subject, body,
       from_participants, to_participants, date)
     values ($1, $2, gen_random_uuid()::text, gen_random_uuid()::text, $3, $4, $5::text::jsonb, $6::text::jsonb, $7)
     returning id`,
    [
      inbox!.id, grant, m.subject ?? 'Hello', m.body ?? 'Could you send the report by Friday?',
      JSON.stringify(m.from ?? [{ name: 'Ana Lee', email: 'ana@initech.io' }]),
      JSON.stringify(m.to ?? [{ name: 'Sam Carter', email: 'sam@globex.com' }]),
      m.date ?? new Date('2025-03-10T15:00:00Z'),
    ],
  );
  return row!.id;
}

/** A loop context for calling a loop body directly, as the lease holder. */
export function loopContext(services: Services): LoopContext {
  return { signal: new AbortController().signal, log: silentLogger, leaseToken: 1, confirmLease: async () => true, services, deps: undefined };
}

export interface StoredRow {
  message_id: string;
  schema_version: number;
  status: string;
  result: any;
  raw_output: string | null;
  error: string | null;
  provider: string | null;
  calls: number;
  input_tokens: number | null;
  output_tokens: number | null;
}

export async function extractionRows(db: Queryable, messageId: string): Promise<StoredRow[]> {
  return db.query<StoredRow>('select * from email_extractions where message_id = $1 order by schema_version', [messageId]);
}
