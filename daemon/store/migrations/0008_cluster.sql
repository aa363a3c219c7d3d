-- 0008_cluster: several daemons on one PostgreSQL.
--
-- Chip leases are session advisory locks (no table: see daemon/cluster/leases.py), so
-- the only schema change is the wake-up of the node that owns a webhook's chip: a body
-- stored by any node notifies 'metad_inbox' (once per statement, after commit), and
-- every node's processor looks at the pending rows of the chips it holds. The inbox
-- table stays the truth; a lost notification only delays a row to the next poll.
CREATE FUNCTION metad_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('metad_inbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_inbox_notify AFTER INSERT ON webhook_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION metad_inbox_notify();
