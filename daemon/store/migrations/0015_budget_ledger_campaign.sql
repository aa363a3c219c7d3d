-- 0015_budget_ledger_campaign: a campaign's budget entries without reading the ledger.
--
-- `metad campaign status` (and the console's progress, every second per running
-- campaign) adds up the campaign's spent and reserved money from its budget entries;
-- with no index on campaign_id that was a scan of the whole journal, every message of
-- every campaign ever, at every call. Partial: entries of no campaign need no entry.
CREATE INDEX IF NOT EXISTS budget_ledger_campaign_id_idx ON budget_ledger (campaign_id, id)
    WHERE campaign_id IS NOT NULL;
