-- 0023_otp_previous: a code whose message failed after Meta took it gives the contact
-- back the code it replaced.
--
-- Meta answers 200 with a wamid and reports later, on a status webhook, that the message
-- failed (131026: undeliverable). The code still counted toward max_sends_per_hour, and
-- the code it replaced (which the contact still holds) was gone. Now the replaced code
-- is kept as previous_* with its attempts and its use, and the outbox id of each code's
-- message (outbox_id, previous_outbox_id) names the code a failed status is about: the
-- failed code stops counting and stops verifying, the previous one verifies again.
-- failed_outbox_id keeps the failed message for otp.verify's "not delivered" detail
-- until another code is sent. No foreign keys: history pruning deletes outbox rows.
ALTER TABLE otp_codes
    ADD COLUMN previous_salt bytea,
    ADD COLUMN previous_hash bytea,
    ADD COLUMN previous_issued_at timestamptz,
    ADD COLUMN previous_expires_at timestamptz,
    ADD COLUMN previous_outbox_id bigint,
    ADD COLUMN previous_attempts integer NOT NULL DEFAULT 0 CHECK (previous_attempts >= 0),
    ADD COLUMN previous_consumed boolean NOT NULL DEFAULT false,
    ADD COLUMN failed_outbox_id bigint,
    ADD CONSTRAINT otp_codes_previous_whole CHECK (
        num_nulls(previous_salt, previous_hash, previous_issued_at, previous_expires_at)
        IN (0, 4));
