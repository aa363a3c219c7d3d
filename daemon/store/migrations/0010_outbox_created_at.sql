-- 0010_outbox_created_at: today's outbox rows without reading the whole outbox.
--
-- The console's daily figures (sends and cost per chip since local midnight) and the
-- report's time ranges filter the outbox by created_at; with no index on it, each of
-- them was a sequential scan of every message ever sent. The ledger side of the daily
-- figures needs nothing new: budget_ledger_outbox_id_idx finds a row's settlement.
-- (A plain CREATE INDEX: migrations run in a transaction. On a big outbox it holds
-- writes to the outbox while it builds; create it CONCURRENTLY by hand beforehand, under
-- this name, and this migration finds it there.)
CREATE INDEX IF NOT EXISTS outbox_created_at_idx ON outbox (created_at);
