-- Sessions seen in the RADIUS agent's usage pushes (POST /sync/{realm}/usage), kept after they
-- end, for the subscriber's history (GET .../v1/sessions). A push carries every open session:
-- one missing from a push has ended between last_seen_at and gone_at. The octets are those of
-- the last push that saw it (the final counts are in the day totals, usage_daily).
CREATE TABLE IF NOT EXISTS session_history (
    nas_ip        TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    username      TEXT NOT NULL,
    framed_ip     TEXT,
    started_at    TEXT,                      -- as the NAS reported it (RFC 3339 or unix seconds)
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    gone_at       TEXT,                      -- the first push without it; NULL while open
    input_octets  INTEGER NOT NULL,
    output_octets INTEGER NOT NULL,
    PRIMARY KEY (nas_ip, session_id)
);
CREATE INDEX IF NOT EXISTS session_history_username ON session_history (username, first_seen_at);
CREATE INDEX IF NOT EXISTS session_history_gone ON session_history (gone_at);
