/** Every SQL statement on notify.ent_notification_rule. */
import type { Queryable } from '../storage/index.ts';

export interface RuleRow {
  id: number;
  name: string;
  enterprise_id: string | null;
  business_id: string | null;
  notification_workflow_id: number;
  trigger_type: string;
  trigger_config: { cron?: string; timezone?: string; enabled?: boolean; event?: string } | null;
  rule_payload: Record<string, unknown> | null;
  publish_status: string;
  deactivated: boolean;
  updated_at: Date;
}

const R = `r.id, r.name, r.enterprise_id::text as enterprise_id, r.business_id::text as business_id, r.notification_workflow_id, r.trigger_type,
  r.trigger_config, r.rule_payload, r.publish_status::text as publish_status, r.deactivated, r.updated_at`;

export async function insertRule(
  db: Queryable,
  r: { name: string; enterpriseId: string | null; workflowId: number; triggerType: 'CRON' | 'EVENT'; triggerConfig: Record<string, unknown>; rulePayload: Record<string, unknown>; publish: boolean },
): Promise<RuleRow | undefined> {
  const [row] = await db.query<RuleRow>(
    `insert into notify.ent_notification_rule as r (name, enterprise_id, notification_workflow_id, trigger_type, trigger_config, rule_payload, publish_status)
     values ($1, $2::uuid, $3, $4, $5::text::jsonb, $6::text::jsonb, $7::notify.publish_status)
     on conflict (name, enterprise_id) do nothing returning ${R}`,
    [r.name, r.enterpriseId, r.workflowId, r.triggerType, JSON.stringify(r.triggerConfig), JSON.stringify(r.rulePayload), r.publish ? 'PUBLISH' : 'DRAFT'],
  );
  return row;
}

export async function setRuleActive(db: Queryable, id: number, active: boolean): Promise<RuleRow | undefined> {
  const [row] = await db.query<RuleRow>(
    `update notify.ent_notification_rule r set deactivated = not $2, updated_at = now() where r.id = $1 returning ${R}`,
    [id, active],
  );
  return row;
}

export async function deleteRule(db: Queryable, id: number): Promise<boolean> {
  return (await db.query(`delete from notify.ent_notification_rule where id = $1 returning id`, [id])).length > 0;
}

export async function getRule(db: Queryable, id: number): Promise<RuleRow | undefined> {
  const [row] = await db.query<RuleRow>(`select ${R} from notify.ent_notification_rule r where r.id = $1`, [id]);
  return row;
}

export async function listRules(db: Queryable): Promise<RuleRow[]> {
  return db.query<RuleRow>(`select ${R} from notify.ent_notification_rule r order by r.id`);
}

/** Active rules of a trigger type: rule and workflow published and not deactivated (the original's test). */
export async function activeRules(db: Queryable, triggerType: 'CRON' | 'EVENT'): Promise<RuleRow[]> {
  return db.query<RuleRow>(
    `select ${R} from notify.ent_notification_rule r
     join notify.ent_notification_workflow w on w.id = r.notification_workflow_id
     where r.trigger_type = $1 and r.publish_status = 'PUBLISH' and not r.deactivated
       and w.publish_status = 'PUBLISH' and not w.deactivated
       and coalesce((r.trigger_config ->> 'enabled')::boolean, true)
     order by r.id`,
    [triggerType],
  );
}
