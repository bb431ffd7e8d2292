import { useState } from 'react';
import { api } from '../api/client.ts';
import { useResource } from '../api/hooks.ts';
import { ago } from '../format.ts';
import { Link } from '../router.tsx';
import { Badge, Empty, ErrorNote } from '../ui.tsx';
import { Markdown } from './markdown.ts';

/** The deals routes' shapes (docs/API.md, Deals), as far as these pages read them. */
interface Deal { id: string; name: string; status: string; timezone: string | null; createdAt: string }
interface DocumentRisk { title: string; severity: string; citation?: string }
interface DealDocument { id: string; name: string; sourceType: string; status: string; workstream: string | null; summary: string | null; risks: DocumentRisk[] | null; error: string | null; updatedAt: string }
interface Communication { id: string; subject: string; sender: string; sentiment: string | null; isBlocker: boolean; error: string | null; receivedAt: string }
interface Brief { id: string; briefDate: string; status: string; error: string | null; markdown: string | null; publishedAt: string | null }
interface Source { id: string; sourceType: string; folderId: string | null; isActive: boolean; hasCursor: boolean; lastSyncedAt: string | null; lastError: string | null }
interface DealDetail { deal: Deal; documents: DealDocument[]; communications: Communication[]; briefs: Brief[]; sources: Source[] }

/** Every deal, with a button that queues today's briefs (the 8:00 job, now). */
export function DealsPage() {
  const list = useResource<{ deals: Deal[] }>('/api/deals', { live: 10_000, offline: 5_000 });
  const [note, setNote] = useState<string>();
  const trigger = async () => {
    const r = await api<{ message: string }>('POST', '/api/queue/trigger-daily-briefs');
    setNote(r.message);
  };
  const deals = list.data?.deals ?? [];
  return (
    <section>
      <h1>Deals</h1>
      <p><button type="button" onClick={() => void trigger()}>Queue today's briefs</button> {note && <span className="small">{note}</span>}</p>
      <ErrorNote error={list.error} />
      {list.data && deals.length === 0 && <Empty>No deal yet.</Empty>}
      {deals.length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Deals">
          <thead><tr><th>deal</th><th>status</th><th>time zone</th><th>created</th></tr></thead>
          <tbody>
            {deals.map((d) => (
              <tr key={d.id}>
                <td><Link to={`/deals/${d.id}`}>{d.name}</Link></td>
                <td><Badge kind={d.status}>{d.status}</Badge></td>
                <td>{d.timezone ?? 'default'}</td>
                <td>{ago(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

/** One deal: its briefs (latest first, Markdown rendered), documents, emails and sources. */
export function DealPage({ id }: { id: string }) {
  const detail = useResource<DealDetail>(`/api/deals/${id}`, { live: 5_000, offline: 5_000 });
  const d = detail.data;
  const [latest, ...older] = d?.briefs ?? [];
  return (
    <section>
      <p><Link to="/deals">Deals</Link></p>
      <h1>{d?.deal.name ?? 'Deal'}</h1>
      <ErrorNote error={detail.error} />
      {d && (
        <>
          <h2>Latest brief {latest && <small>{latest.briefDate}</small>}</h2>
          {latest ? <BriefView brief={latest} label="Latest brief" /> : <Empty>No brief yet.</Empty>}
          {older.length > 0 && (
            <>
              <h2>Earlier briefs</h2>
              {older.map((b) => (
                <details key={b.id} className="brief-older">
                  <summary>{b.briefDate} <Badge kind={b.status}>{b.status}</Badge> {b.publishedAt && <span className="small">published {ago(b.publishedAt)}</span>}</summary>
                  <BriefView brief={b} label={`Brief of ${b.briefDate}`} />
                </details>
              ))}
            </>
          )}
          <h2>Documents</h2>
          {d.documents.length === 0 ? <Empty>No document yet.</Empty> : (
            <div className="scroll" tabIndex={0}>
            <table className="grid" aria-label="Documents">
              <thead><tr><th>name</th><th>source</th><th>status</th><th>workstream</th><th className="wide">summary</th><th>risks</th><th>updated</th></tr></thead>
              <tbody>{d.documents.map((doc) => (
                <tr key={doc.id}>
                  <td>{doc.name}</td><td>{doc.sourceType}</td><td><Badge kind={doc.status}>{doc.status}</Badge></td><td>{doc.workstream ?? '—'}</td>
                  <td>{doc.summary ?? '—'}{doc.error && <div className="error-text small">{doc.error}</div>}</td>
                  <td><Risks risks={doc.risks} /></td>
                  <td>{ago(doc.updatedAt)}</td>
                </tr>
              ))}</tbody>
            </table>
            </div>
          )}
          <h2>Emails</h2>
          {d.communications.length === 0 ? <Empty>No email yet.</Empty> : (
            <div className="scroll" tabIndex={0}>
            <table className="grid" aria-label="Emails">
              <thead><tr><th>subject</th><th>from</th><th>sentiment</th><th>received</th></tr></thead>
              <tbody>{d.communications.map((c) => (
                <tr key={c.id}><td>{c.subject}{c.error && <div className="error-text small">{c.error}</div>}</td><td>{c.sender}</td><td>{c.sentiment ? <Badge kind={c.isBlocker ? 'failed' : c.sentiment}>{c.isBlocker && c.sentiment !== 'blocker' ? `${c.sentiment}, blocker` : c.sentiment}</Badge> : '—'}</td><td>{ago(c.receivedAt)}</td></tr>
              ))}</tbody>
            </table>
            </div>
          )}
          <h2>Sources</h2>
          {d.sources.length === 0 ? <Empty>No source connected.</Empty> : (
            <div className="scroll" tabIndex={0}>
            <table className="grid" aria-label="Sources">
              <thead><tr><th>type</th><th>folder or drive</th><th>active</th><th>cursor</th><th>last sync</th><th>last error</th></tr></thead>
              <tbody>{d.sources.map((s) => (
                <tr key={s.id}>
                  <td>{s.sourceType}</td><td>{s.folderId ?? '—'}</td><td>{s.isActive ? 'yes' : 'no'}</td>
                  <td>{s.hasCursor ? 'saved (next sync is incremental)' : 'none (next sync lists everything)'}</td>
                  <td>{s.lastSyncedAt ? ago(s.lastSyncedAt) : 'never'}</td>
                  <td>{s.lastError ? <span className="error-text">{s.lastError}</span> : '—'}</td>
                </tr>
              ))}</tbody>
            </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

/** One brief: its failure if it has one, else its Markdown (the LLM's narrative opens it when there is one). */
function BriefView({ brief, label }: { brief: Brief; label: string }) {
  return (
    <article className="brief" aria-label={label} data-brief-date={brief.briefDate}>
      {brief.error && <p className="error-text">{brief.error}</p>}
      {brief.markdown ? <Markdown source={brief.markdown} /> : !brief.error && <Empty>This brief has no text.</Empty>}
    </article>
  );
}

/** A document's stored risks (extract_risks), most severe first. */
function Risks({ risks }: { risks: DocumentRisk[] | null }) {
  if (!risks) return <span className="small">not extracted</span>;
  if (risks.length === 0) return <span className="small">none</span>;
  const order = ['high', 'medium', 'low'];
  const sorted = [...risks].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
  return (
    <ul className="risks">
      {sorted.map((r, i) => <li key={i}><Badge kind={r.severity === 'high' ? 'failed' : r.severity}>{r.severity}</Badge> {r.title}{r.citation && <div className="small">“{r.citation}”</div>}</li>)}
    </ul>
  );
}
