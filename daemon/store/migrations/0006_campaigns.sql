-- 0008_campaigns: what a running campaign needs to survive a crash.
--
-- A campaign row keeps its checked spec (the file as parsed) and why it is paused;
-- each recipient row keeps its place in the file (seq), the fields its template is
-- filled from, and where it is: pending (not yet handed to a chip), handed (a chip has
-- it: the outbox row, unique per campaign and recipient, says the rest), skipped,
-- refused or dropped (with the reason). The outbox's unique (campaign_id, recipient_id)
-- is what makes a second send impossible, whatever crashes in between.
ALTER TABLE campaigns
    ADD COLUMN file       text,
    ADD COLUMN reason     text,
    ADD COLUMN cap_usd    numeric(12, 6),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE campaigns ADD CONSTRAINT campaigns_state_check CHECK (
    state IN ('draft', 'running', 'paused', 'cancelled', 'finished'));

ALTER TABLE campaign_recipients
    ADD COLUMN seq        integer NOT NULL DEFAULT 0,
    ADD COLUMN part       integer NOT NULL DEFAULT 0,
    ADD COLUMN reason     text,
    ADD COLUMN chip       text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_state_check CHECK (
    state IN ('pending', 'handed', 'skipped', 'refused', 'dropped'));
DROP INDEX campaign_recipients_state_idx;
CREATE INDEX campaign_recipients_next_idx ON campaign_recipients (campaign_id, state, seq);
CREATE INDEX outbox_campaign_idx ON outbox (campaign_id, state) WHERE campaign_id IS NOT NULL;
