-- Every pause a subscriber starts (issue 13): the tenant's pause_max_per_year counts them over the
-- last 365 days, so pausing, resuming and pausing again cannot stretch pause_max_days without end.
CREATE TABLE IF NOT EXISTS subscriber_pauses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    started_at    TEXT NOT NULL,
    until         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriber_pauses_subscriber ON subscriber_pauses (subscriber_id, started_at);
