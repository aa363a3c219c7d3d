-- 0011_retention: what pruning needs (daemon/store/retention.py), and nothing more.
--
-- webhook_seen is pruned by age (seen_at) and its only index is the key, so without one
-- each batch of the delete would scan the table. A btree, not BRIN: pruning frees the
-- oldest pages and new keys refill them, so every block range soon spans old and new
-- times and a BRIN index matches the whole table (measured on PostgreSQL 15: after 12
-- prune-and-refill days, finding one day of 20,000 keys read all 1,012 pages). The
-- btree is appended at its right edge (seen_at is the inserting transaction's now()).
--
-- webhook_orphans(inbox_id): deleting an inbox row makes PostgreSQL look for orphans
-- still referring to it (the foreign key), and pruning deletes a body's orphans with
-- it; with no index that is a scan of webhook_orphans per deleted row. Orphans are rare
-- (events of unknown numbers), so this index costs next to nothing to keep.
--
-- The other pruned tables need nothing: webhook_inbox and webhook_handoff are walked
-- along their primary keys (ids grow with time), and budget_alerts holds a few rows a
-- period. (Plain CREATE INDEX: migrations run in a transaction; on a large webhook_seen
-- it holds webhook processing, not webhook intake, for the time of the build.)
CREATE INDEX IF NOT EXISTS webhook_seen_seen_at_idx ON webhook_seen (seen_at);
CREATE INDEX IF NOT EXISTS webhook_orphans_inbox_id_idx ON webhook_orphans (inbox_id);
