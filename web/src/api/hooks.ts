import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { authStore, get } from './client.ts';
import { live, type EventHandler, type LiveStatus } from './live.ts';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Loads again now (answers that arrive out of order are dropped). */
  reload(): void;
}

/**
 * GETs `path` (nothing while it is null), again when the token changes, and every `pollMs`:
 * `pollMs.live` while the socket is open (events do the work), `pollMs.offline` otherwise.
 */
export function useResource<T>(path: string | null, pollMs: { live: number; offline: number } | null = null): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; path: string | null }>({ loading: path !== null, path });
  const { version } = useAuth();
  const status = useLiveStatus();
  const seq = useRef(0);

  const reload = useCallback(() => {
    if (path === null) return;
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    get<T>(path).then(
      (data) => mine === seq.current && setState({ data, loading: false, path }),
      (error: Error) => mine === seq.current && setState((s) => ({ ...s, error, loading: false, path })),
    );
  }, [path]);

  useEffect(() => {
    setState({ loading: path !== null, path });
    reload();
  }, [reload, version]);

  const every = pollMs && (status === 'open' ? pollMs.live : pollMs.offline);
  useEffect(() => {
    if (!every) return;
    const timer = window.setInterval(reload, every);
    return () => window.clearInterval(timer);
  }, [reload, every]);

  // Data of another path is never shown under this one.
  const same = state.path === path;
  return { data: same ? state.data : undefined, error: same ? state.error : undefined, loading: state.loading, reload };
}

export function useAuth() {
  return useSyncExternalStore(authStore.subscribe, authStore.get);
}

export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore(live.onStatus, live.getStatus);
}

/**
 * Calls `handler` for every event on `topics` while the component is mounted; `userToken`: the
 * personal token those topics need (an approver's own topics on a server with NOVA_USERS).
 */
export function useLive(topics: readonly string[], handler: EventHandler, userToken?: string | null): void {
  const ref = useRef(handler);
  ref.current = handler;
  const key = topics.join('\n');
  useEffect(() => {
    if (!key) return;
    return live.subscribe(key.split('\n'), (event, topic) => ref.current(event, topic), userToken);
  }, [key, userToken]);
}

/** `fn` at most once per `ms`, the last call always honoured (trailing). */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const timer = useRef<number | undefined>(undefined);
  const last = useRef(0);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    const wait = Math.max(0, last.current + ms - Date.now());
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      ref.current();
    }, wait);
  }, [ms]);
}
