-- 0019_shift_reoffer: offering a shift again no longer erases the contact's answer.
--
-- A re-offer overwrote the row (new nonce, state 'pending', answered_at NULL) before the
-- chip decided: a resend erased a confirmation, even one the chip then refused. Now the
-- new message's nonce is stored as pending_nonce before the send (a tap on it counts even
-- if the daemon dies right after the POST) and replaces the offer only once the message
-- left; a refused one is forgotten. A first offer's row has no nonce until then.
ALTER TABLE shift_confirmations
    ALTER COLUMN nonce DROP NOT NULL,
    ADD COLUMN pending_nonce text,
    ADD CONSTRAINT shift_confirmations_some_nonce CHECK (
        nonce IS NOT NULL OR pending_nonce IS NOT NULL);
