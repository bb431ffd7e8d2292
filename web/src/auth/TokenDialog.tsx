import { useState, type FormEvent } from 'react';
import { authStore } from '../api/client.ts';
import { useAuth } from '../api/hooks.ts';

/** Asks for NOVA_API_TOKEN after the API answered 401; the token is kept in localStorage. */
export function TokenDialog() {
  const { needed, rejected } = useAuth();
  const [value, setValue] = useState('');
  if (!needed) return null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) authStore.setToken(value.trim());
    setValue('');
  };
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-labelledby="token-title">
      <form className="dialog" onSubmit={submit}>
        <h2 id="token-title">API token</h2>
        {rejected && <p className="note error" role="alert">Token rejected: the server does not accept the token that was saved.</p>}
        <p>This Nova server requires its API token (<code>NOVA_API_TOKEN</code>).</p>
        <input
          type="password"
          name="token"
          aria-label="API token"
          autoFocus
          autoComplete="current-password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" className="primary">Continue</button>
      </form>
    </div>
  );
}
