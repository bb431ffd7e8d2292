import type { Command } from 'commander';
import { apiClient } from '../cli/api-client.ts';
import { DOCUMENT_OPERATIONS } from './queues.ts';

/**
 * `nova deals brief|sync|process`: queues deals work through the API server (NOVA_API_URL, with
 * NOVA_API_TOKEN when set), so it works the same against `npm start` and a cluster.
 */
export function registerDealsCommands(program: Command): void {
  const deals = program.command('deals').description('daily briefs, source syncs and document processing of deals (through the API server)');

  deals
    .command('brief')
    .description("queue a deal's daily brief, or every active deal's with --all")
    .argument('[dealId]', 'the deal')
    .option('--date <YYYY-MM-DD>', "the brief's day (default today, UTC)")
    .option('--all', 'every active deal (as the 8:00 schedule does)')
    .action(async (dealId: string | undefined, opts: { date?: string; all?: boolean }) => {
      const api = apiClient('nova deals');
      if (opts.all) {
        const r = await api.request<{ message: string }>('POST', '/api/queue/trigger-daily-briefs');
        console.log(r.message);
        return;
      }
      if (!dealId) throw new Error('give a deal id, or --all');
      const r = await api.request<{ jobId: number }>('POST', `/api/deals/${dealId}/briefs`, opts.date ? { date: opts.date } : {});
      console.log(`brief of deal ${dealId} queued as job ${r.jobId}`);
    });

  deals
    .command('sync')
    .description("queue a sync of a deal's source")
    .argument('<dealId>', 'the deal')
    .option('--source <type>', 'gdrive, sharepoint, gmail or outlook', 'gdrive')
    .option('--full', 'list the whole folder instead of following the changes feed')
    .action(async (dealId: string, opts: { source: string; full?: boolean }) => {
      const api = apiClient('nova deals');
      const r = await api.request<{ jobId: number }>('POST', `/api/deals/${dealId}/sync`, { sourceType: opts.source, syncType: opts.full ? 'full' : 'incremental' });
      console.log(`${opts.full ? 'full' : 'incremental'} ${opts.source} sync of deal ${dealId} queued as job ${r.jobId}`);
    });

  deals
    .command('process')
    .description('queue processing of a document')
    .argument('<documentId>', 'the document')
    .option('--op <operation>', DOCUMENT_OPERATIONS.join(', '), 'summarize')
    .action(async (documentId: string, opts: { op: string }) => {
      const api = apiClient('nova deals');
      const r = await api.request<{ jobId: number }>('POST', `/api/documents/${documentId}/process`, { operation: opts.op });
      console.log(`${opts.op} of document ${documentId} queued as job ${r.jobId}`);
    });
}
