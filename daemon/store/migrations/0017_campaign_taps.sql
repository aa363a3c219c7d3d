-- 0017_campaign_taps: a campaign's taps by index, each recorded once by the database.
--
-- A tap on a campaign's button is an event of the campaign (daemon/campaigns/taps.py),
-- recorded once per message (Meta retries a webhook; the inbox replays after a crash).
-- "Once" was a NOT EXISTS over every tap of every campaign (the events_kind_at_idx
-- prefix), at each tap: a campaign of 100,000 taps read billions of rows. And `campaign
-- status` counted a campaign's taps the same way. This index finds one campaign's taps,
-- and its uniqueness is the "once", also for two daemons recording the same tap.
-- Duplicates that an earlier race let in are dropped first (the oldest stays).
DELETE FROM events e USING events d
WHERE e.kind = 'campaign.tap' AND d.kind = 'campaign.tap'
  AND e.subject = d.subject AND e.data ->> 'wamid' = d.data ->> 'wamid' AND e.id > d.id;
CREATE UNIQUE INDEX IF NOT EXISTS events_campaign_tap_key
    ON events (subject, (data ->> 'wamid')) WHERE kind = 'campaign.tap';
