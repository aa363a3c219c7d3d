-- 0013_budget_checkpoints: what a budget coordinator's start reads instead of a month of
-- budget_ledger (Ledger.checkpoint in actors/budget/ledger.py): the totals of the periods
-- current when it was taken, and the reservations then held, as of the journal entry
-- `position` (the ledger held exactly the entries up to it). A start restores the latest
-- one and replays the 8 days of entries before it (for their messages) and every entry
-- after it. Only the last few are kept.
CREATE TABLE budget_checkpoints (
    position  bigint PRIMARY KEY,
    taken_at  timestamptz NOT NULL DEFAULT now(),
    data      jsonb NOT NULL
);
