import { useSyncExternalStore } from 'react';
import { ago, dateTime } from './format.ts';

/**
 * Relative times that tick: one shared timer (every 5 s, only while something shows a time)
 * re-renders every <Ago>, so "12s ago" keeps counting without a fetch.
 */

const TICK_MS = 5000;
const listeners = new Set<() => void>();
let now = Date.now();
let timer: number | undefined;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (timer === undefined) {
    timer = window.setInterval(() => {
      now = Date.now();
      listeners.forEach((l) => l());
    }, TICK_MS);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      window.clearInterval(timer);
      timer = undefined;
    }
  };
}

export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}

/** "3m 12s ago", ticking, with the full date and time on hover. */
export function Ago({ iso }: { iso: string | null | undefined }) {
  const at = useNow();
  return <time dateTime={iso ?? undefined} title={dateTime(iso)}>{ago(iso, Math.max(at, Date.now()))}</time>;
}
