-- Usage summarised from RADIUS accounting by the reconciler, per subscriber per day (Nairobi days).
-- Values are absolute totals for the day, so a re-sent summary replaces rather than adds.
CREATE TABLE IF NOT EXISTS usage_daily (
    username       TEXT NOT NULL,
    day            TEXT NOT NULL,
    input_octets   INTEGER NOT NULL,   -- from the subscriber (upload)
    output_octets  INTEGER NOT NULL,   -- to the subscriber (download)
    online_seconds INTEGER NOT NULL,
    sessions       INTEGER NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (username, day)
);

-- Who is online, as last reported (replaced whole on each report).
CREATE TABLE IF NOT EXISTS online_sessions (
    nas_ip        TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    username      TEXT NOT NULL,
    framed_ip     TEXT,
    started_at    TEXT,
    input_octets  INTEGER NOT NULL,
    output_octets INTEGER NOT NULL,
    reported_at   TEXT NOT NULL,
    PRIMARY KEY (nas_ip, session_id)
);
CREATE INDEX IF NOT EXISTS online_sessions_username ON online_sessions (username);
