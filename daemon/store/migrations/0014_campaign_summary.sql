-- 0014_campaign_summary: a campaign keeps its figures once its message history is pruned.
--
-- Retention (daemon/store/history.py) deletes a campaign's recipients, outbox rows and
-- budget entries once it has been over for [storage.retention] messages_days. Before it
-- deletes any, it freezes here the figures `metad campaign status` counted from them
-- (the same query), and status reads them from then on. NULL: counted from the rows.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS summary jsonb;

-- Deleting an outbox row makes PostgreSQL look for recipients that still name it (the
-- foreign key's check); without an index that is a scan of every recipient of every
-- campaign per message deleted. Partial: a pending recipient names no message yet.
CREATE INDEX IF NOT EXISTS campaign_recipients_outbox_id_idx ON campaign_recipients (outbox_id)
    WHERE outbox_id IS NOT NULL;
