-- 0016_budget_settlement_basis: a settlement says what it replaces.
--
-- A message's second price (Meta re-prices it, or a late status carries another) replaces
-- its first. A start used to replay the 8 days of journal before its checkpoint only so
-- that such a settlement found the message it adjusts. Now the settlement carries it:
-- booked_at is when the message was booked (the periods it counts in) and prev_usd the
-- price it replaces (NULL for a first price), so a ledger that does not hold the message
-- applies the difference. Rows written before this migration have neither.
ALTER TABLE budget_ledger
    ADD COLUMN IF NOT EXISTS prev_usd numeric(12, 6) CHECK (prev_usd >= 0),
    ADD COLUMN IF NOT EXISTS booked_at timestamptz;
