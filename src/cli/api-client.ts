import { loadConfig } from '../config.ts';

/**
 * The CLI's client of the management API (docs/API.md): NOVA_API_URL, with NOVA_API_TOKEN as a
 * bearer token when set. Every failure ends the command with one line naming what went wrong.
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
    url = config.NOVA_API_URL;
    token = config.NOVA_API_TOKEN;
  } catch (err) {
    fail(command, err instanceof Error ? err.message : String(err));
  }
  return {
    url,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
      } catch (err) {
        fail(command, `cannot reach the Nova API at ${url} (${String((err as Error).cause ?? (err as Error).message)}); is a process with the api role running? (NOVA_API_URL)`);
      }
      const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      if (res.status === 401) fail(command, `${method} ${path}: 401 unauthorized: ${token ? 'NOVA_API_TOKEN was refused' : 'the API requires a token; set NOVA_API_TOKEN'}`);
      if (!res.ok) fail(command, `${method} ${path}: ${res.status} ${json.error?.message ?? res.statusText}`);
      return json as T;
    },
  };
}

function fail(command: string, message: string): never {
  console.error(`${command}: ${message}`);
  process.exit(1);
}
