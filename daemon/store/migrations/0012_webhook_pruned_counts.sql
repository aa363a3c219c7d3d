-- 0012_webhook_pruned_counts: what `metad webhooks stats` counted in the inbox rows that
-- retention (0011, daemon/store/retention.py) deleted.
--
-- Why: stats() counts the rows of webhook_inbox, so once processed bodies were pruned
-- the counts fell back to the last ~8 days, while operators read them as everything
-- ever received. The statement that deletes inbox rows adds what they counted here, in
-- the same statement (so in the same commit: no count is lost or doubled, whichever of
-- two overlapping pruners deletes a row), and stats() reads these plus the rows kept in
-- one snapshot.
--
-- One row per counted outcome (the InboxStats field names: received, duplicates, parsed,
-- unparsed, unknown_number, rejected_signature; pending never, an unprocessed body is
-- never deleted). A handful of rows, written once per prune batch and never by intake,
-- so they cost nothing to keep and never contend with webhook traffic. Counts from
-- rows pruned before this migration are gone; they cannot be recovered.
CREATE TABLE webhook_pruned_counts (
    outcome text PRIMARY KEY,
    n       bigint NOT NULL CHECK (n >= 0)
);
