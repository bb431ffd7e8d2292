/**
 * Approval links by email: the workflows domain's link sender (`workflowsDomain({ sendLinks })`),
 * wired in src/domains.ts. The hitl-worker hands each approver their own signed approve/reject
 * links; an approver with an address in NOVA_USERS (`name:token:roles:email`) gets them in one
 * mail through the SMTP relay of NOTIFY_SMTP_URL.
 *
 * The mail goes straight to the relay and is stored nowhere: not as a notification, whose
 * rendered content the API token can read, and never in the in-process SMTP sink of development,
 * whose messages `/api/notify/emulator/smtp` shows to the API token too. A link decides as its
 * approver without their personal token, so the sender mails only when all three are set:
 * NOTIFY_SMTP_URL (a real relay), APPROVAL_LINK_BASE_URL (the address approvers reach the API
 * on; NOVA_API_URL defaults to loopback) and APPROVAL_LINK_SECRET (a link signed with a key the
 * process made up works on no other process). Otherwise it warns once and mails nothing.
 *
 * The transport is its own, one connection per mail with bounded timeouts (approval mails are
 * few; a hung relay must not hold the hitl-worker's slots, which approval timeouts share), so
 * `hitl-worker` processes need no notifications setup.
 */
import type { Services } from '../runtime/domain.ts';
import type { ApprovalLinkDelivery } from '../workflows/index.ts';
import type { WorkflowsConfig } from '../workflows/config.ts';
import { EmailChannel } from './channels/email.ts';
import { PermanentDeliveryError } from './channels/types.ts';
import type { NotifyConfig } from './config.ts';

/** Connect, greeting and idle-socket limits of the approval mail transport. */
const SMTP_TIMEOUT_MS = 15_000;

export function approvalLinkMailer() {
  const transports = new WeakMap<Services, EmailChannel>();
  const warned = new WeakMap<Services, Set<string>>();
  const warnOnce = (services: Services, key: string, message: string) => {
    const seen = warned.get(services) ?? new Set();
    warned.set(services, seen);
    if (seen.has(key)) return;
    seen.add(key);
    services.log.warn(message);
  };
  return async (delivery: ApprovalLinkDelivery, services: Services): Promise<void> => {
    if (!delivery.email) return; // no address: the approver decides in the dashboard, the CLI or the API
    const config = services.config as Partial<NotifyConfig & WorkflowsConfig>;
    const missing = (['NOTIFY_SMTP_URL', 'APPROVAL_LINK_BASE_URL', 'APPROVAL_LINK_SECRET'] as const).filter((k) => !config[k]);
    if (missing.length) {
      warnOnce(services, 'config', `approval links are not mailed: set ${missing.join(', ')} (approvers decide in the dashboard, the CLI or the API)`);
      return;
    }
    let transport = transports.get(services);
    if (!transport) {
      // NOTIFY_EMAIL_FROM has its default wherever NOTIFY_SMTP_URL was read: the notify domain's config.
      transport = new EmailChannel(config.NOTIFY_SMTP_URL!, config.NOTIFY_EMAIL_FROM!, { pooled: false, timeoutMs: SMTP_TIMEOUT_MS });
      transports.set(services, transport);
    }
    try {
      await transport.mail({ to: delivery.email, ...approvalMail(delivery), headers: { 'X-Nova-Approval': delivery.approval.id } });
    } catch (err) {
      // The relay refused this address for good: another try cannot help, and must not mail the
      // other approvers again. A temporary failure throws, and the delivery is tried again.
      if (!(err instanceof PermanentDeliveryError)) throw err;
      services.log.warn('an approval mail was refused', { approval: delivery.approval.id, approver: delivery.approver, error: err.message });
    }
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Subject, HTML and text of one approver's mail. */
export function approvalMail(delivery: ApprovalLinkDelivery): { subject: string; html: string; text: string } {
  const { approval, links } = delivery;
  const message = approval.message?.trim() || `Step ${approval.stepId} of run ${approval.runId} waits for your decision.`;
  // One header line: the message's first line, no control characters, whole characters only.
  const firstLine = Array.from(message.split('\n', 1)[0]!.replace(/[\u0000-\u001f\u007f]/g, ' ').trim()).slice(0, 120).join('');
  const expires = `These links work once and expire at ${links.expiresAt}.`;
  const formNote = 'This request has a form: approve it in the dashboard, with `nova approvals approve`, or through the API.';
  const text = [
    message, '',
    links.approve ? `Approve: ${links.approve}` : formNote,
    `Reject: ${links.reject}`, '', expires,
  ].join('\n');
  const html = [
    `<p>${escapeHtml(message).replace(/\n/g, '<br>')}</p>`,
    `<p>${links.approve ? `<a href="${escapeHtml(links.approve)}">Approve</a> · ` : ''}<a href="${escapeHtml(links.reject)}">Reject</a></p>`,
    links.approve ? '' : `<p>${escapeHtml(formNote)}</p>`,
    `<p>${escapeHtml(expires)}</p>`,
  ].join('\n');
  return { subject: `Approval needed: ${firstLine}`, html, text };
}
