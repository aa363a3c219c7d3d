-- 0020_shift_delivery: a shift offer Meta could not deliver says so.
--
-- Meta accepts a message and reports later, on a status webhook, that it failed (131026:
-- the number is not on WhatsApp). The outbox learnt it; the offer stayed 'pending' for
-- ever. Now the status sink finds the offer by its message's outbox id and marks it
-- 'failed' with Meta's error code. The index is what every failed status looks up (it
-- only holds offers awaiting an answer).
ALTER TABLE shift_confirmations ADD COLUMN error_code integer;
CREATE INDEX shift_confirmations_pending_outbox_idx ON shift_confirmations (outbox_id)
    WHERE state = 'pending' AND outbox_id IS NOT NULL;
