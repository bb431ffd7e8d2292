import type { Extraction } from '../api/types.ts';
import { dateTime } from '../format.ts';
import { Badge } from '../ui.tsx';

/** The structured facts extracted from one message (src/extraction/schema.ts). */
export function ExtractionPanel({ value }: { value: Extraction }) {
  const x = value.extraction;
  return (
    <section className="extraction" aria-label="Extraction">
      <header>
        <h3>Extraction</h3>
        <Badge kind={value.status}>{value.status}</Badge>
        {value.stale && <Badge kind="stale">older schema</Badge>}
        <span className="meta">{value.provider} {value.model} · {dateTime(value.extractedAt)}</span>
      </header>
      {value.error && <p className="error-text">{value.error}</p>}
      {x && (
        <dl>
          <dt>summary</dt>
          <dd>{x.summary}</dd>
          <dt>intent</dt>
          <dd>{x.intent} <span className="chip">{x.category}</span></dd>
          <dt>sentiment</dt>
          <dd>{x.sentiment.label} ({x.sentiment.score.toFixed(2)})</dd>
          {x.blocker.isBlocker && (
            <>
              <dt>blocker</dt>
              <dd className="error-text">{x.blocker.reason ?? 'yes'}</dd>
            </>
          )}
          <Items title="action items" items={x.actionItems.map((a) => [a.text, a.owner && `owner ${a.owner}`, a.dueDate && `due ${a.dueDate}`])} />
          <Items title="dates" items={x.dates.map((d) => [d.text, d.kind, d.date])} />
          <Items title="amounts" items={x.amounts.map((a) => [a.text, a.currency ? `${a.value} ${a.currency}` : String(a.value)])} />
          <Items title="people" items={x.people.map((p) => [p.name, p.email, p.organization])} />
          <Items title="organisations" items={x.organizations.map((o) => [o.name, o.domain])} />
        </dl>
      )}
    </section>
  );
}

function Items({ title, items }: { title: string; items: (string | null | undefined)[][] }) {
  if (items.length === 0) return null;
  return (
    <>
      <dt>{title}</dt>
      <dd>
        <ul>
          {items.map((parts, i) => <li key={i}>{parts.filter(Boolean).join(' · ')}</li>)}
        </ul>
      </dd>
    </>
  );
}
