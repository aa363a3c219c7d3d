-- 0018_otp_pending: a passcode is the contact's only once its send left.
--
-- A code was stored as the current one before the chip decided, and voided when the
-- chip refused it: a refusal killed the code the contact already held and counted toward
-- the hourly limit (five refusals locked the contact out for an hour). Now a drawn code
-- is stored as pending (its hash is durable before the POST, so a crash after it can
-- still verify) and becomes the current one when the chip accepted it or is in doubt;
-- a refused one is forgotten. A row may hold only a pending code (no code sent yet):
-- the current code's columns become optional, together.
ALTER TABLE otp_codes
    ALTER COLUMN salt DROP NOT NULL,
    ALTER COLUMN code_hash DROP NOT NULL,
    ALTER COLUMN issued_at DROP NOT NULL,
    ALTER COLUMN expires_at DROP NOT NULL,
    ALTER COLUMN window_sends SET DEFAULT 0,
    ADD COLUMN pending_salt bytea,
    ADD COLUMN pending_hash bytea,
    ADD COLUMN pending_issued_at timestamptz,
    ADD COLUMN pending_expires_at timestamptz,
    ADD CONSTRAINT otp_codes_code_whole CHECK (
        num_nulls(salt, code_hash, issued_at, expires_at) IN (0, 4)),
    ADD CONSTRAINT otp_codes_pending_whole CHECK (
        num_nulls(pending_salt, pending_hash, pending_issued_at, pending_expires_at) IN (0, 4));
