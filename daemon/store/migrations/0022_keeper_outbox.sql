-- The outbox row of a conversation's last follow-up: a follow-up Meta took and then
-- failed (a status webhook) read "sent" for good. No foreign key: history pruning
-- deletes old outbox rows, and a mark outlives them (it then reads as recorded).
ALTER TABLE keeper_marks ADD COLUMN IF NOT EXISTS last_outbox_id bigint;
