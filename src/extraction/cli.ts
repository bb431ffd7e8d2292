import type { Command } from 'commander';
import { ConfigError } from '../config.ts';
import type { CommandContext } from '../runtime/domain.ts';
import type { ExtractionConfig } from './config.ts';
import { createExtractor } from './providers/index.ts';
import { EXTRACTION_SCHEMA_VERSION } from './schema.ts';
import { findMessage, listExtractions, saveOutcome } from './store.ts';
import { pickExtraction, presentOutcome } from './routes.ts';
import { extractMessage } from './worker.ts';
import { apiClient, localApiUrl } from '../cli/api-client.ts';
import { exitOnConfigError } from '../cli/exit.ts';
import { RateLimiter } from '../runtime/rate-limit.ts';
import { migrate, openDatabase } from '../storage/index.ts';

/**
 * `nova extract <messageId>`: extracts one message now with the configured provider (LLM_PROVIDER),
 * stores the result as the `extraction` role would, and prints it as JSON. On PostgreSQL, or an
 * embedded database no process holds, it works on the database directly; while a local Nova
 * process owns the embedded database (PGlite has one owner) it asks that process's API instead.
 */
export function registerExtractCommands(program: Command, ctx: CommandContext): void {
  program
    .command('extract')
    .description('extract one message now (Nova id or Nylas message id), store and print the result')
    .argument('<messageId>', 'flux_email_messages.id or nylas_message_id')
    .option('--no-save', 'print the result without storing it')
    .option('--stored', 'print the stored extraction instead of running a new one')
    .action(async (messageId: string, opts: { save: boolean; stored?: boolean }) => {
      const config = ctx.config() as ExtractionConfig;
      const viaApi = config.DATABASE_URL ? undefined : localApiUrl(config);
      if (viaApi) {
        const api = apiClient('nova extract');
        const shown = opts.stored
          ? await api.request<unknown>('GET', `/api/messages/${encodeURIComponent(messageId)}/extraction`)
          : await api.request<{ status: string }>('POST', `/api/messages/${encodeURIComponent(messageId)}/extract`, { save: opts.save });
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        if (!opts.stored && (shown as { status: string }).status !== 'succeeded') process.exitCode = 1;
        return;
      }
      let sql;
      try {
        sql = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.NOVA_DATA_DIR, poolSize: 2 });
      } catch (err) {
        exitOnConfigError(err);
        throw err;
      }
      try {
        await migrate(sql);
        const message = await findMessage(sql, messageId);
        if (!message) {
          process.stderr.write(`no message ${messageId}\n`);
          process.exitCode = 1;
          return;
        }
        if (opts.stored) {
          const shown = pickExtraction(await listExtractions(sql, message.id), EXTRACTION_SCHEMA_VERSION);
          process.stdout.write(`${JSON.stringify(shown ?? { messageId: message.id, status: 'not_queued' }, null, 2)}\n`);
          if (!shown) process.exitCode = 1;
          return;
        }
        const extractor = await createExtractor(config, new RateLimiter(sql));
        const outcome = await extractMessage(message, extractor, config, EXTRACTION_SCHEMA_VERSION);
        if (opts.save) await saveOutcome(sql, message.id, EXTRACTION_SCHEMA_VERSION, outcome);
        const printed = presentOutcome(message.id, outcome);
        process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
        if (outcome.status !== 'succeeded') process.exitCode = 1;
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          process.exitCode = 78;
          return;
        }
        throw err;
      } finally {
        await sql.close();
      }
    });
}
