import { useEffect } from 'react';
import { useLiveStatus } from './api/hooks.ts';
import { live } from './api/live.ts';
import { JOB_STATES, type JobState } from './api/types.ts';
import { TokenDialog } from './auth/TokenDialog.tsx';
import { BackfillsPage } from './backfills/BackfillsPage.tsx';
import { DealPage, DealsPage } from './deals/DealsPage.tsx';
import { InboxPage } from './inbox/InboxPage.tsx';
import { JobsPage } from './queues/JobsPage.tsx';
import { QueuesPage } from './queues/QueuesPage.tsx';
import { Link, useLocation } from './router.tsx';
import { SchedulesPage } from './schedules/SchedulesPage.tsx';
import { Empty } from './ui.tsx';
import { WorkersPage } from './workers/WorkersPage.tsx';

const NAV = [
  ['/queues', 'Queues'],
  ['/backfills', 'Backfills'],
  ['/schedules', 'Schedules'],
  ['/workers', 'Workers'],
  ['/inbox', 'Inbox'],
  ['/deals', 'Deals'],
] as const;

export function App() {
  const { path } = useLocation();
  const section = path === '/' ? '/queues' : `/${path.split('/')[1]}`;
  return (
    <>
      <header className="top">
        <span className="brand">Nova</span>
        <nav aria-label="Sections">
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className={section === to ? 'current' : ''}>{label}</Link>
          ))}
        </nav>
        <LiveIndicator />
      </header>
      <main>
        <Page />
      </main>
      <TokenDialog />
    </>
  );
}

function Page() {
  const { path, query } = useLocation();
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined:
    case 'queues': {
      if (!parts[1]) return <QueuesPage />;
      const asked = query.get('state');
      const state: JobState = (JOB_STATES as readonly string[]).includes(asked ?? '') ? (asked as JobState) : 'waiting';
      return <JobsPage key={parts[1]} name={parts[1]} state={state} />;
    }
    case 'backfills':
      return <BackfillsPage />;
    case 'schedules':
      return <SchedulesPage />;
    case 'workers':
      return <WorkersPage />;
    case 'inbox':
      return <InboxPage inboxId={query.get('inbox')} threadId={query.get('thread')} />;
    case 'deals':
      return parts[1] ? <DealPage key={parts[1]} id={parts[1]} /> : <DealsPage />;
    default:
      return <Empty>No page at {path}. <Link to="/queues">Queues</Link></Empty>;
  }
}

/** Whether live updates arrive (the WebSocket is open) or views fall back to polling. */
function LiveIndicator() {
  const status = useLiveStatus();
  useEffect(() => live.ensureOpen(), []);
  const text = status === 'open' ? 'live' : status === 'connecting' ? 'connecting…' : 'polling';
  return <span className={`live live-${status}`} title="WebSocket /ws">{text}</span>;
}
