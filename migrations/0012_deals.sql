-- Deal intelligence (seed 003, DealPulse): deals, their documents and communications, the daily
-- briefs made from them, and the sources they sync from. Owned by src/deals (store.ts).
--
-- Table and column names follow the original's Supabase migrations so its queries read the same;
-- the added columns fix its known gaps (see docs/MIGRATING.md, Seed 003): document content and
-- processing results are stored, a unique source id per deal stops duplicate inserts under
-- concurrent syncs, and each source keeps its Drive page token (the original kept no cursor).
-- Users, members and OAuth tables are not created: Nova's API is guarded by its bearer token.

create table deals (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  -- active / closed / paused; only active deals get a daily brief.
  status text not null default 'active',
  -- Optional IANA zone of the deal's team: the brief date of a scheduled run is read in it.
  timezone text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table workstreams (
  id uuid primary key default gen_random_uuid(),
  deal_id uuid not null references deals (id) on delete cascade,
  name text not null,
  description text,
  status text default 'active',
  created_at timestamptz not null default now(),
  unique (deal_id, name)
);

create table documents (
  id uuid primary key default gen_random_uuid(),
  deal_id uuid not null references deals (id) on delete cascade,
  name text not null,
  source_id text,
  source_url text,
  source_type text not null,
  workstream_id uuid references workstreams (id),
  summary text,
  -- new / updated / reviewed (the original's), or deleted when the source removed the file.
  status text default 'new',
  mime_type text,
  -- The file's text as stored or fetched; the processors read it (the original summarized a placeholder).
  content text,
  -- An uploaded file not yet read (PDF, DOCX): the first processing job extracts `content` from it.
  file_data bytea,
  -- The source's own modification time: change detection compares it, never updated_at.
  source_modified_at timestamptz,
  risks jsonb,
  classification jsonb,
  -- The last processing failure (an onDead hook writes it), cleared by the next success.
  error text,
  failed_at timestamptz,
  last_ingested_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- One row per file of a source: concurrent syncs upsert instead of inserting duplicates.
create unique index documents_source on documents (deal_id, source_type, source_id) where source_id is not null;
create index documents_deal on documents (deal_id, updated_at desc);

create table communications (
  id uuid primary key default gen_random_uuid(),
  deal_id uuid not null references deals (id) on delete cascade,
  type text not null default 'email',
  subject text not null,
  sender text not null,
  recipients text[] not null default '{}',
  body text,
  thread_id text,
  source_id text,
  -- gmail / outlook as in the original, or nylas for mail synced by Nova's email domain.
  source_type text check (source_type in ('gmail', 'outlook', 'nylas')),
  -- The flux_email_messages id when the mail came through Nova's email sync: its extraction is reused.
  message_id uuid,
  sentiment text,
  is_blocker boolean default false,
  analysis jsonb,
  status text default 'new',
  error text,
  received_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index communications_deal on communications (deal_id, received_at desc);
create index communications_source on communications (source_id);

create table briefs (
  id uuid primary key default gen_random_uuid(),
  deal_id uuid not null references deals (id) on delete cascade,
  brief_date date not null,
  progress_snapshot jsonb,
  changes jsonb,
  blockers jsonb,
  risks jsonb,
  communications jsonb,
  -- The same brief as Markdown, for mail and the dashboard.
  markdown text,
  -- draft / published, or failed when every attempt failed (error says why).
  status text default 'draft',
  error text,
  created_at timestamptz not null default now(),
  published_at timestamptz,
  unique (deal_id, brief_date)
);
create index briefs_deal_date on briefs (deal_id, brief_date desc);

create table source_connections (
  id uuid primary key default gen_random_uuid(),
  deal_id uuid not null references deals (id) on delete cascade,
  source_type text not null check (source_type in ('gdrive', 'sharepoint', 'gmail', 'outlook')),
  folder_id text,
  configuration jsonb,
  is_active boolean default true,
  -- Drive changes API cursor: saved in the same transaction as the documents a page produced.
  page_token text,
  -- Drive push channel: notifications carrying this token start an incremental sync.
  channel_id text,
  channel_token text,
  last_synced_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (deal_id, source_type)
);
create unique index source_connections_channel on source_connections (channel_token) where channel_token is not null;
