/**
 * HTTP calls to the Nova API. The token (NOVA_API_TOKEN on the server) is kept in localStorage;
 * a 401 clears it and asks the person for it (see auth/TokenDialog), after which every view
 * loads again.
 */

const TOKEN_KEY = 'nova.token';

/** An answer outside 2xx, in the API's one error shape. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** `rejected`: the server refused the token it was sent (as opposed to none being sent). */
type AuthState = { token: string | null; needed: boolean; rejected: boolean; version: number };
let auth: AuthState = { token: readToken(), needed: false, rejected: false, version: 0 };
const listeners = new Set<() => void>();

function readToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function setAuth(next: Partial<AuthState>): void {
  auth = { ...auth, ...next };
  listeners.forEach((l) => l());
}

export const authStore = {
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  get: (): AuthState => auth,
  /** Keeps the token and bumps `version`, so views and the socket start again with it. */
  setToken(token: string): void {
    try {
      localStorage.setItem(TOKEN_KEY, token);
    } catch {
      // Private modes may refuse storage: the token then lasts for this page only.
    }
    setAuth({ token, needed: false, rejected: false, version: auth.version + 1 });
  },
};

/** `extra`: headers of this call only (the approvals inbox's `X-User-Token`). */
export async function api<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
  const headers: Record<string, string> = { ...extra };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
  } catch {
    // fetch rejects only when no answer came: the server is down or the network is.
    throw new ApiError(0, 'unreachable', `lost connection to ${location.host}, retrying`);
  }
  const text = await res.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (res.ok) return parsed as T;
  const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
  // A 401 about the caller's personal token (identity_*) is the approvals inbox's to handle: the
  // API token that was sent is fine, so it is kept.
  if (res.status === 401 && !error?.code?.startsWith('identity_')) {
    try {
      localStorage.removeItem(TOKEN_KEY);
    } catch {
      // see setToken
    }
    if (!auth.needed) setAuth({ token: null, needed: true, rejected: auth.token !== null });
  }
  throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? res.statusText);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const get = <T>(path: string) => api<T>('GET', path);
