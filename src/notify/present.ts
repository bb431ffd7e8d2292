/** The JSON shapes of the notifications API (camelCase; the rows keep the original's snake_case). */
import type { InboxRow } from './inbox-store.ts';
import type { DeliveryRow, NotificationRow, WorkflowRow } from './store.ts';
import type { SubscriberRow } from './subscribers-store.ts';

export function present(n: NotificationRow) {
  return {
    id: n.id, name: n.name, description: n.description, status: n.notification_status, publishStatus: n.publish_status,
    enterpriseId: n.enterprise_id, businessId: n.business_id, workflowId: n.notification_workflow_id, ruleId: n.notification_rule_id,
    payload: n.payload, recipients: n.recipients, channels: n.channels, overrides: n.overrides, tags: n.tags, transactionId: n.transaction_id,
    scheduledFor: n.scheduled_for, processedAt: n.processed_at, retractedAt: n.retracted_at, retractionReason: n.retraction_reason,
    errorDetails: n.error_details, workflowVersion: n.workflow_version, dispatchCount: n.dispatch_count, runId: n.run_id,
    createdAt: n.created_at, updatedAt: n.updated_at,
  };
}

export function presentDelivery(d: DeliveryRow) {
  return {
    id: d.id, recipient: d.recipient, channel: d.channel_type, status: d.status, attempts: d.attempts, provider: d.provider,
    providerMessageId: d.provider_message_id, content: d.content, error: d.error, updatedAt: d.updated_at,
  };
}

export function presentWorkflow(w: WorkflowRow) {
  return {
    id: w.id, key: w.workflow_key, name: w.name, type: w.workflow_type, publishStatus: w.publish_status, deactivated: w.deactivated,
    enterpriseId: w.enterprise_id, defaultChannels: w.default_channels, templates: w.template_overrides, critical: w.critical,
    digest: w.digest, throttle: w.throttle, forwardToNovu: w.forward_to_novu,
  };
}

export function presentSubscriber(s: SubscriberRow) {
  return {
    subscriberId: s.subscriber_id, enterpriseId: s.enterprise_id, name: s.name, email: s.email, phone: s.phone, chatWebhookUrl: s.chat_webhook_url,
    pushSubscriptions: s.push_subscriptions, locale: s.locale, timezone: s.timezone, quietHoursStart: s.quiet_hours_start, quietHoursEnd: s.quiet_hours_end,
    data: s.data, createdAt: s.created_at, updatedAt: s.updated_at,
  };
}

export function presentInbox(m: InboxRow) {
  return {
    id: m.id, subscriberId: m.subscriber_id, notificationId: m.notification_id, title: m.title, body: m.body, actionUrl: m.action_url,
    seen: m.seen_at !== null, read: m.read_at !== null, archived: m.archived_at !== null, createdAt: m.created_at,
  };
}
