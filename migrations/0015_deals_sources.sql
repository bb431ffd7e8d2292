-- Deals, second part (issue 17): the LLM-written opening of a brief, and what the Microsoft Graph
-- and Nylas sources need. Owned by src/deals (store.ts, sources-store.ts).
--
-- briefs.narrative: {headline, summary} written by the LLM from the computed sections (null with
-- the builtin analyzer, whose brief is the sections alone).
alter table briefs add column narrative jsonb;

-- Gmail and Outlook sources (through the deal inbox's Nylas grant) store each message once per
-- deal: a sync that lists a window again after a failure skips what it already has.
create unique index communications_source_message on communications (deal_id, source_type, source_id) where source_id is not null;
