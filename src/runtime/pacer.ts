import { setTimeout as delay } from 'node:timers/promises';

/**
 * A minimum gap between successive starts of something in this process (the seeds' fixed
 * delays: API_DELAY_MS, THREAD_DELAY_MS, MESSAGE_DELAY_MS). Callers that arrive together are
 * spaced out in arrival order. A gap of 0 never waits. Rate limits shared between processes
 * belong to RateLimiter; this is only the optional local spacing some teams still want.
 */
export class Pacer {
  private next = 0;

  constructor(private readonly gapMs: number) {}

  async wait(signal?: AbortSignal): Promise<void> {
    if (this.gapMs <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.gapMs;
    if (at > now) await delay(at - now, undefined, signal ? { signal } : {});
  }
}
