/**
 * Approval links by email: the workflows domain's link sender (`workflowsDomain({ sendLinks })`),
 * wired in src/domains.ts. The hitl-worker hands each approver their own signed approve/reject
 * links; an approver with an address in NOVA_USERS (`name:token:roles:email`) gets them in one
 * mail through this domain's SMTP relay (NOTIFY_SMTP_URL, or the in-process sink).
 *
 * The mail is sent straight to the relay and stored nowhere: not as a notification, not as a
 * delivery's rendered content. Those are readable with the API token, and a link decides as its
 * approver without their personal token.
 */
import type { ApprovalLinkDelivery } from '../workflows/index.ts';
import type { NotifyDeps } from './deps.ts';

/** The sender, for the notify deps of the process it runs in (undefined: not set up here). */
export function approvalLinkMailer(deps: () => NotifyDeps | undefined) {
  const warned = new Set<string>();
  const warnOnce = (d: NotifyDeps, key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    d.log.warn(message);
  };
  return async (delivery: ApprovalLinkDelivery): Promise<void> => {
    if (!delivery.email) return; // no address: the approver decides in the dashboard, the CLI or the API
    const d = deps();
    if (!d) return;
    const { approve, reject } = delivery.links;
    // A relative link (no APPROVAL_LINK_BASE_URL or NOVA_API_URL) leads nowhere from a mailbox.
    if (![approve, reject].every((l) => l === null || /^https?:\/\//i.test(l))) {
      warnOnce(d, 'base', 'approval links are not mailed: set APPROVAL_LINK_BASE_URL (or NOVA_API_URL) to the address approvers reach the API on');
      return;
    }
    const mail = approvalMail(delivery);
    await d.email.mail({ to: delivery.email, ...mail, headers: { 'X-Nova-Approval': delivery.approval.id } });
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Subject, HTML and text of one approver's mail. */
export function approvalMail(delivery: ApprovalLinkDelivery): { subject: string; html: string; text: string } {
  const { approval, links } = delivery;
  const message = approval.message ?? `Step ${approval.stepId} of run ${approval.runId} waits for your decision.`;
  // One header line: no control characters from the workflow's message.
  const firstLine = message.split('\n', 1)[0]!.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 120);
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
