import { useEffect } from 'react';
import { useLiveStatus } from './api/hooks.ts';
import { ApprovalsPage } from './approvals/ApprovalsPage.tsx';
import { live } from './api/live.ts';
import { JOB_STATES, type JobState } from './api/types.ts';
import { TokenDialog } from './auth/TokenDialog.tsx';
import { BackfillPage } from './backfills/BackfillPage.tsx';
import { BackfillsPage } from './backfills/BackfillsPage.tsx';
import { DealPage, DealsPage } from './deals/DealsPage.tsx';
import { InboxDemoPage, NotificationPage, NotificationsPage } from './notify/NotificationsPage.tsx';
import { InboxPage } from './inbox/InboxPage.tsx';
import { JobPage } from './jobs/JobPage.tsx';
import { JobsPage } from './queues/JobsPage.tsx';
import { QueuesPage } from './queues/QueuesPage.tsx';
import { Link, useLocation } from './router.tsx';
import { SchedulesPage } from './schedules/SchedulesPage.tsx';
import { Empty } from './ui.tsx';
import { WorkersPage } from './workers/WorkersPage.tsx';
import { RunPage } from './workflows/RunPage.tsx';
import { RunsPage } from './workflows/RunsPage.tsx';

const NAV = [
  ['/queues', 'Queues'],
  ['/backfills', 'Backfills'],
  ['/schedules', 'Schedules'],
  ['/workflows', 'Workflows'],
  ['/approvals', 'Approvals'],
  ['/workers', 'Workers'],
  ['/inbox', 'Inbox'],
  ['/deals', 'Deals'],
  ['/notifications', 'Notifications'],
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
      if (parts[2] === 'jobs' && parts[3]) return <JobPage key={parts[3]} queue={parts[1]} id={parts[3]} />;
      const asked = query.get('state');
      const state: JobState = (JOB_STATES as readonly string[]).includes(asked ?? '') ? (asked as JobState) : 'waiting';
      const search = { where: query.get('where') ?? '', error: query.get('error') ?? '', since: query.get('since') ?? '' };
      return <JobsPage key={parts[1]} name={parts[1]} state={state} search={search} />;
    }
    case 'backfills':
      return parts[1] ? <BackfillPage key={parts[1]} configId={parts[1]} /> : <BackfillsPage highlight={query.get('config')} />;
    case 'schedules':
      return <SchedulesPage />;
    case 'workers':
      return <WorkersPage />;
    case 'workflows':
      return parts[1] === 'runs' && parts[2] ? <RunPage key={parts[2]} id={parts[2]} /> : <RunsPage workflow={query.get('workflow')} />;
    case 'approvals':
      return <ApprovalsPage view={query.get('view')} />;
    case 'inbox':
      return <InboxPage inboxId={query.get('inbox')} threadId={query.get('thread')} />;
    case 'deals':
      return parts[1] ? <DealPage key={parts[1]} id={parts[1]} /> : <DealsPage />;
    case 'notifications':
      if (parts[1] === 'inbox') return <InboxDemoPage />;
      return parts[1] ? <NotificationPage key={parts[1]} id={parts[1]} /> : <NotificationsPage />;
    default:
      return <Empty>No page at {path}. <Link to="/queues">Queues</Link></Empty>;
  }
}

/** Whether live updates arrive (the WebSocket is open) or views fall back to polling. */
function LiveIndicator() {
  const status = useLiveStatus();
  useEffect(() => live.ensureOpen(), []);
  const text = status === 'open' ? 'live' : status === 'connecting' ? 'connecting…' : `lost connection to ${location.host}, retrying`;
  return <span className={`live live-${status}`} title="WebSocket /ws" role="status">{text}</span>;
}
