import { useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api/client.ts';

/** Small pieces every view uses. */

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  // A 401 is answered by the token dialog; repeating it here would say nothing new.
  if (error instanceof ApiError && error.status === 401) return null;
  return <p className="note error" role="alert">{error.message}</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Badge({ kind, children }: { kind: string; children: ReactNode }) {
  return <span className={`badge badge-${kind}`}>{children}</span>;
}

/** A message that goes away by itself: the result of an action. */
export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export function useFlash(ms = 4000): [Flash | undefined, (f: Flash) => void] {
  const [flash, setFlash] = useState<Flash>();
  useEffect(() => {
    if (!flash) return;
    const t = window.setTimeout(() => setFlash(undefined), ms);
    return () => window.clearTimeout(t);
  }, [flash, ms]);
  return [flash, setFlash];
}

export function FlashNote({ flash }: { flash: Flash | undefined }) {
  if (!flash) return null;
  return <p className={`note ${flash.kind}`} role="status">{flash.text}</p>;
}

/** A destructive button that asks once more in place (no window.confirm, which blocks). */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm(): void; disabled?: boolean; title?: string }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const t = window.setTimeout(() => setArmed(false), 3000);
    return () => window.clearTimeout(t);
  }, [armed]);
  return (
    <button
      type="button"
      className={armed ? 'danger armed' : 'danger'}
      disabled={props.disabled}
      title={props.title}
      onClick={() => {
        if (!armed) return setArmed(true);
        setArmed(false);
        props.onConfirm();
      }}
    >
      {armed ? props.confirm : props.label}
    </button>
  );
}
