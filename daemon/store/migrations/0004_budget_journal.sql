-- The budget ledger is the budget coordinator's journal: one row per reservation,
-- settlement or release, replayed on restart. ref names the message ("o:<outbox id>");
-- the WABA and campaign say which caps the amount counts against.
ALTER TABLE budget_ledger
    ADD COLUMN ref text NOT NULL DEFAULT '',
    ADD COLUMN waba_id text,
    ADD COLUMN campaign_id text,
    ALTER COLUMN category SET DEFAULT '';
