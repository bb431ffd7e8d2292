/** GET /api/approvals and /api/approvals/:id (docs/API.md). */
export interface Decision {
  by: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  data: unknown;
  channel: string;
  ip: string | null;
  at: string;
}

export interface Approval {
  id: string;
  runId: string;
  stepId: string;
  message: string | null;
  approvers: string[];
  required: number;
  form: FormSchema | null;
  requireReason: boolean;
  onTimeout: 'reject' | 'approve' | 'fail';
  timeoutAt: string | null;
  status: 'pending' | 'approved' | 'rejected' | 'timed_out' | 'cancelled';
  startedBy: string;
  createdAt: string;
  resolvedAt: string | null;
  decisions?: Decision[];
}

/** The part of JSON Schema the inbox renders as fields; anything else is edited as JSON. */
export interface FormSchema {
  type?: string;
  properties?: Record<string, { type?: string; title?: string; description?: string; enum?: unknown[] }>;
  required?: string[];
  [k: string]: unknown;
}
