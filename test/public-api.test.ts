import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as nova from '../src/index.ts';

/**
 * Pins what `import … from 'nova'` offers. A name added to src/index.ts fails here until it is
 * added below on purpose (an internal must not leak by an `export *` or a stray line); a name
 * removed fails too, since users' code breaks with it.
 */

const VALUES = [
  'ChildRunFailed', 'ConfigError', 'DAILY_BRIEF_QUEUE', 'DOCUMENT_QUEUE', 'Defer', 'EMAIL_QUEUE', 'GdriveEmulator',
  'SOURCE_SYNC_QUEUE', 'createDealsDomain', 'dealsDomain', 'queueAllDailyBriefs', 'queueDailyBrief',
  'queueDocumentProcessing', 'queueEmailProcessing', 'queueSourceSync', 'EventHub', 'HttpError', 'InvalidPayload', 'JobCancelled', 'Lease',
  'LeaseLost', 'Outbound', 'Park', 'PermanentFailure', 'ProviderError', 'QueueClient', 'RateLimiter', 'RetryLater',
  'Runtime', 'StepFailed', 'VERSION', 'cancelRun', 'createLogger', 'defineDomain', 'defineQueue', 'defineWorkflow',
  'fetchAnswer', 'loadConfig', 'loadDomainConfig', 'migrate', 'openDatabase', 'openPglite', 'openPostgres',
  'parseAnswer', 'parseRetryAfter', 'rerunFromFailure', 'sendEvent', 'silentLogger', 'startRun', 'toJobControl',
  'workflowsDomain',
];

const TYPES = [
  'Attempt', 'Budget', 'CallOptions', 'ClaimOptions', 'CommandContext', 'Config', 'DealsConfig', 'DatabaseConfig', 'DeadContext', 'Domain', 'DomainDefinition',
  'Job', 'JobCatalog', 'JobContext', 'JobHandler', 'JobRecord', 'LogLevel', 'Logger', 'LoopContext', 'LoopDefinition',
  'MissedPolicy', 'NovaEvent', 'OutboundOptions', 'Queryable', 'QueueDefinition', 'QueueMetrics', 'RateLimit', 'RetryPolicy', 'RuntimeOptions',
  'ScheduleDefinition', 'SendItem', 'SendOptions', 'Services', 'Sql', 'StepApi', 'StoredError', 'Wake', 'Workflow',
  'WorkflowEngine', 'WorkflowsDomain',
];

const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** Every name src/index.ts exports, types included, as the compiler sees them. */
function exportedNames(file: string): string[] {
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true, types: [],
  });
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  return checker.getExportsOfModule(symbol).map((s) => s.getName()).sort();
}

describe('the public API (src/index.ts)', () => {
  it('exports exactly the listed values', () => {
    expect(Object.keys(nova).sort()).toEqual([...VALUES].sort());
  });

  it('exports exactly the listed values and types', () => {
    expect(exportedNames(INDEX)).toEqual([...VALUES, ...TYPES].sort());
  });

  it('offers the control-flow errors a handler throws, as classes users can construct', () => {
    expect(new nova.Defer(1000).delayMs).toBe(1000);
    expect(new nova.JobCancelled(7).jobId).toBe(7);
    expect(new nova.RetryLater(50)).toBeInstanceOf(Error);
  });
});
