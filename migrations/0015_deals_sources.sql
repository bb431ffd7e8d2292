-- Deals, second part (issue 17): the LLM-written opening of a brief, and what the Microsoft Graph
-- and Nylas sources need. Owned by src/deals (store.ts, sources-store.ts).
--
-- briefs.narrative: {headline, summary} written by the LLM from the computed sections (null with
-- the builtin analyzer, whose brief is the sections alone).
alter table briefs add column narrative jsonb;
