/**
 * `nova approvals list|approve|reject`, through the API server (NOVA_API_URL, with
 * NOVA_API_TOKEN when set). The deciding user is `--as`, else NOVA_USER, else the login name;
 * with NOVA_USER_TOKEN (a personal token of the server's NOVA_USERS) the server takes it from the token.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { apiClient } from '../cli/api-client.ts';
import { ago, table } from '../cli/format.ts';

interface ApprovalJson {
  id: string;
  runId: string;
  stepId: string;
  message: string | null;
  approvers: string[];
  required: number;
  status: string;
  timeoutAt: string | null;
  createdAt: string;
  form: unknown;
  decisions?: { by: string; decision: string }[];
}

const me = (as?: string) => as ?? process.env.NOVA_USER ?? userInfo().username;

export function registerApprovalCommands(program: Command): void {
  const cmd = program.command('approvals').description('human approvals of workflow runs: list, approve, reject (through NOVA_API_URL)');

  cmd.command('list')
    .description('approvals, newest first (default: pending ones you may decide)')
    .option('--status <status>', 'pending, approved, rejected, timed_out or cancelled', 'pending')
    .option('--as <user>', 'whose inbox (default NOVA_USER, else your login)')
    .option('--all', 'every approver, not only you')
    .action(async (opts: { status: string; as?: string; all?: boolean }) => {
      const q = new URLSearchParams({ status: opts.status, ...(!opts.all && { approver: me(opts.as) }) });
      const { approvals } = await apiClient('nova approvals').request<{ approvals: ApprovalJson[] }>('GET', `/api/approvals?${q}`);
      if (approvals.length === 0) return console.log(`no ${opts.status} approvals`);
      console.log(table([['APPROVAL', 'RUN', 'STEP', 'APPROVED', 'STATUS', 'ASKED', 'MESSAGE'], ...approvals.map((a) => [
        a.id, a.runId, a.stepId, `${(a.decisions ?? []).filter((d) => d.decision === 'approve').length}/${a.required}`, a.status, ago(a.createdAt), a.message ?? '',
      ])]));
    });

  for (const decision of ['approve', 'reject'] as const) {
    cmd.command(decision)
      .description(`${decision} an approval${decision === 'reject' ? ' (a reason is required)' : ''}`)
      .argument('<approvalId>')
      .option('--reason <text>', 'why (required to reject)')
      .option('--data <json>', 'the form data, as JSON (required when the approval has a form)')
      .option('--as <user>', 'decide as this user (default NOVA_USER, else your login)')
      .action(async (id: string, opts: { reason?: string; data?: string; as?: string }) => {
        let data: unknown;
        if (opts.data !== undefined) {
          try {
            data = JSON.parse(opts.data);
          } catch {
            console.error('nova approvals: --data is not valid JSON');
            process.exit(1);
          }
        }
        const r = await apiClient('nova approvals').request<{ status: string }>('POST', `/api/approvals/${encodeURIComponent(id)}/decision`, {
          // With a personal token (NOVA_USER_TOKEN) the server knows who decides; `by` only for --as.
          decision, ...((opts.as || !process.env.NOVA_USER_TOKEN) && { by: me(opts.as) }), ...(opts.reason && { reason: opts.reason }), ...(data !== undefined && { data }),
        });
        console.log(`${decision === 'approve' ? 'approved' : 'rejected'} as ${me(opts.as)}: approval ${id} is now ${r.status}`);
      });
  }
}
