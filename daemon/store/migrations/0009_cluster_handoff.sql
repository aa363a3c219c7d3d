-- 0009_cluster_handoff: the gaps of several daemons on one PostgreSQL.
--
-- webhook_handoff: a webhook body may name chips of several nodes. The node that
-- processes the inbox row applies the events of the chips it runs and leaves one row
-- here per other chip the body names; whoever runs that chip (now, or after a takeover)
-- applies that chip's events from the inbox body and sets done_at, in the transaction
-- that records their keys in webhook_seen. An insert notifies 'metad_inbox' like a
-- stored body; the table is the truth, the notification only wakes the owner early.
CREATE TABLE webhook_handoff (
    inbox_id   bigint NOT NULL REFERENCES webhook_inbox (id),
    chip       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at    timestamptz,
    PRIMARY KEY (inbox_id, chip)
);
CREATE INDEX webhook_handoff_pending ON webhook_handoff (chip, inbox_id)
    WHERE done_at IS NULL;
CREATE TRIGGER webhook_handoff_notify AFTER INSERT ON webhook_handoff
    FOR EACH STATEMENT EXECUTE FUNCTION metad_inbox_notify();

-- budget_alerts: a budget alert fires once per (scope, period, threshold) in the whole
-- fleet. The daemon that sees a crossing claims it here first (INSERT ... ON CONFLICT
-- DO NOTHING); only the one whose insert went in announces it. Durable, so neither a
-- restart nor a new leader nor two daemons booking at once repeat an alert.
CREATE TABLE budget_alerts (
    scope      text NOT NULL,
    period_key text NOT NULL,
    threshold  numeric NOT NULL,
    node       text,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, period_key, threshold)
);
