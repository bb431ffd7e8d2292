import { loadConfig, type Config } from '../config.ts';
import { inspectPidFile, pidFilePath } from './pidfile.ts';

/**
 * The CLI's client of the management API (docs/API.md): NOVA_API_URL, with NOVA_API_TOKEN as a
 * bearer token when set. Every failure ends the command with one line naming what went wrong.
 * With NOVA_API_URL unset, a local process's pid file tells where its API listens (PORT=0, or a
 * port other than the default), and only then the default.
 */
export interface ApiClient {
  readonly url: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/** `command` prefixes error lines (`nova queue: …`). */
export function apiClient(command: string): ApiClient {
  let url: string;
  let token: string | undefined;
  try {
    const config = loadConfig();
    url = resolveApiUrl(config, process.env.NOVA_API_URL);
    token = config.NOVA_API_TOKEN;
  } catch (err) {
    fail(command, err instanceof Error ? err.message : String(err));
  }
  return {
    url,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      // The caller's personal token (NOVA_USERS on the server): who decides approvals.
      if (process.env.NOVA_USER_TOKEN) headers['x-user-token'] = process.env.NOVA_USER_TOKEN;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
      } catch (err) {
        fail(command, `cannot reach the Nova API at ${url} (${describeFetchError(err)}); is a process with the api role running? Set NOVA_API_URL to its address`);
      }
      const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      if (res.status === 401) fail(command, `${method} ${path}: 401 unauthorized: ${token ? 'NOVA_API_TOKEN was refused' : 'the API requires a token; set NOVA_API_TOKEN'}`);
      if (!res.ok) fail(command, `${method} ${path}: ${res.status} ${json.error?.message ?? res.statusText}`);
      return json as T;
    },
  };
}

/** NOVA_API_URL when set, else the API of the running local process, else the default. */
export function resolveApiUrl(config: Config, explicit: string | undefined): string {
  if (explicit) return config.NOVA_API_URL;
  const local = localApiUrl(config);
  return local ?? config.NOVA_API_URL;
}

/** The API URL of the live process named by the pid file, if it serves one. */
export function localApiUrl(config: Pick<Config, 'NOVA_PID_FILE' | 'NOVA_DATA_DIR'>): string | undefined {
  try {
    const state = inspectPidFile(pidFilePath(config));
    return state.kind === 'running' ? (state.record.apiUrl ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

function fail(command: string, message: string): never {
  console.error(`${command}: ${message}`);
  process.exit(1);
}

/** "fetch failed" says nothing: the cause does (ECONNREFUSED 127.0.0.1:4000). */
export function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; address?: string; port?: number; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return `connection refused${cause.address ? ` by ${cause.address}:${cause.port}` : ''}`;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return (err as Error).message ?? String(err);
}
