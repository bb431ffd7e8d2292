import { useState, type FormEvent } from 'react';

const USER_TOKEN_KEY = 'nova.userToken';

/**
 * The person's own token (one of the server's NOVA_USERS), kept in localStorage beside the API
 * token. The API token lets the dashboard in; this one says who is deciding an approval, and is
 * sent only on the approvals inbox's calls (`X-User-Token`).
 */
export const userToken = {
  get(): string | null {
    try {
      return localStorage.getItem(USER_TOKEN_KEY);
    } catch {
      return null;
    }
  },
  set(token: string | null): void {
    try {
      if (token) localStorage.setItem(USER_TOKEN_KEY, token);
      else localStorage.removeItem(USER_TOKEN_KEY);
    } catch {
      // Private modes may refuse storage: the token then lasts for this page only.
    }
  },
  /** The header to send, if a token is kept. */
  headers(token: string | null): Record<string, string> | undefined {
    return token ? { 'x-user-token': token } : undefined;
  },
};

/** Asks for the personal token, as TokenDialog asks for the API token; `problem` says why it is asked again. */
export function UserTokenDialog({ problem, onSave, onCancel }: { problem?: string; onSave(token: string): void; onCancel(): void }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onSave(value.trim());
    setValue('');
  };
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-labelledby="user-token-title">
      <form className="dialog" onSubmit={submit}>
        <h2 id="user-token-title">Your user token</h2>
        {problem && <p className="note error" role="alert">{problem}</p>}
        <p>This server knows its approvers by their personal token (<code>NOVA_USERS</code>); decisions are made as the user it names.</p>
        <input
          type="password"
          name="user-token"
          aria-label="user token"
          autoFocus
          autoComplete="current-password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" className="primary">Sign in</button>{' '}
        <button type="button" onClick={onCancel}>Cancel</button>
      </form>
    </div>
  );
}
