/** The shapes of docs/API.md that the dashboard reads. */

export const JOB_STATES = ['waiting', 'scheduled', 'active', 'dead', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueStats {
  name: string;
  waiting: number;
  /** Not due yet: delayed, or waiting for a retry. */
  scheduled: number;
  scheduledReasons: { delayed: number; retry: number };
  active: number;
  /** Completed jobs kept by retention (the newest `retention.completed`). */
  completed: number;
  dead: number;
  retention: { completed: number; dead: number; maxAgeHours: number };
  processed: { lastHour: number; lastDay: number };
  throughputPerMinute: number;
  oldestWaitingMs: number | null;
}

export interface ErrorView {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: ErrorView;
}

/** One attempt of a job, once the API records attempt history. */
export interface Attempt {
  attempt: number;
  startedAt: string | null;
  finishedAt?: string | null;
  durationMs: number | null;
  worker: string | null;
  /** retry | dead | lease-expired | interrupted (cut short after a checkpoint; not charged) | running | completed */
  outcome?: string;
  error: ErrorView | null;
}

export interface JobView {
  id: number;
  queue: string;
  state: JobState;
  scheduledReason: 'delayed' | 'retry' | null;
  payload: unknown;
  /** What the handler returned, when the engine stores it. */
  result?: unknown;
  priority: number;
  /** The attempts made; an array of them once the API returns attempt history. */
  attempts: number | Attempt[];
  attemptHistory?: Attempt[];
  maxAttempts: number;
  groupKey: string | null;
  dedupKey: string | null;
  createdAt: string;
  runAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  lastError: ErrorView | null;
  /** False when running it again cannot help (its payload fails the queue's schema). */
  retryable?: boolean;
  progress: unknown;
}

export interface HistoryPoint {
  at: string;
  processed: number;
  failed: number;
  waiting: number | null;
  scheduled: number | null;
  active: number | null;
}

export interface Worker {
  id: string;
  host: string;
  pid: number;
  version: string;
  roles: string[];
  startedAt: string;
  heartbeatAt: string;
  alive: boolean;
  healthPort: number | null;
  apiPort: number | null;
}

export type BackfillStatus = 'pending' | 'discovering' | 'thread_sync' | 'completed' | 'failed';

/** A row of get_sync_progress (numbers may arrive as strings: bigint and numeric columns). */
export interface Progress {
  configId: string;
  grantId?: string;
  email?: string | null;
  backfillStatus: BackfillStatus;
  backfillSince: string | null;
  backfillUntil: string | null;
  backfillStartedAt: string | null;
  backfillCompletedAt: string | null;
  threadsTotal: number | string;
  threadsQueued: number | string;
  threadsProcessing: number | string;
  threadsCompleted: number | string;
  threadsFailed: number | string;
  messagesSynced: number | string;
  percentComplete: number | string;
  backfillError: string | null;
  /** The run these counts belong to (1 for the first backfill of the inbox). */
  run?: number;
  /** Threads (and their messages) discovery listed but did not fetch: stored already. */
  threadsAlreadySynced?: number;
  messagesAlreadySynced?: number;
}

/** One run of a backfill as GET /api/backfill-runs lists it (counts null where not recorded). */
export interface BackfillRun {
  configId: string;
  run: number;
  inboxId: string;
  grantId: string;
  email: string | null;
  current: boolean;
  status: BackfillStatus | 'unknown';
  outcome: string;
  since: string | null;
  until: string | null;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  threadsListed: number | null;
  threadsAlreadySynced: number | null;
  messagesAlreadySynced: number | null;
  threadsTotal: number | null;
  threadsCompleted: number | null;
  threadsFailed: number | null;
  messagesSynced: number | null;
}

export interface FailedThread {
  threadId: string;
  subject: string | null;
  error: string | null;
  attempts: number;
  failedAt: string | null;
  deadJobId: number | null;
}

export interface Inbox {
  id: string;
  grantId: string;
  email: string | null;
  provider: string | null;
  status: string;
  configId: string | null;
  backfillStatus: BackfillStatus | null;
}

export interface Participant {
  name?: string | null;
  email: string;
}

export interface Thread {
  id: string;
  nylasThreadId: string;
  subject: string | null;
  snippet: string | null;
  participants: Participant[] | null;
  messageIds: string[] | null;
  unread: boolean;
  starred: boolean;
  latestMessageReceivedDate: string | null;
}

export interface Message {
  id: string;
  nylasMessageId: string;
  subject: string | null;
  fromParticipants: Participant[] | null;
  toParticipants: Participant[] | null;
  date: string | null;
  snippet: string | null;
  body: string | null;
  unread: boolean;
  starred: boolean;
  folders: string[] | null;
}

export interface Extraction {
  messageId: string;
  status: string;
  stale: boolean;
  schemaVersion: number;
  extraction: ExtractionResult | null;
  error: string | null;
  provider: string | null;
  model: string | null;
  extractedAt: string | null;
}

export interface ExtractionResult {
  summary: string;
  intent: string;
  category: string;
  sentiment: { label: string; score: number };
  actionItems: { text: string; owner: string | null; dueDate: string | null }[];
  dates: { text: string; date: string | null; kind: string }[];
  people: { name: string | null; email: string | null; organization: string | null }[];
  organizations: { name: string; domain: string | null }[];
  amounts: { text: string; value: number; currency: string | null }[];
  blocker: { isBlocker: boolean; reason: string | null };
  language: string;
}

/** An event of the WebSocket fan-out. */
export interface NovaEvent {
  type: string;
  queue?: string;
  ids?: number[];
  topic?: string;
  data?: unknown;
  error?: unknown;
  at: number;
}

/** The data of a `backfill.progress` event. */
export interface BackfillProgressData {
  configId: string;
  status: BackfillStatus;
  discovered?: number;
  queued?: number;
  completed?: number;
  failed?: number;
  messages?: number;
  error?: string;
}
