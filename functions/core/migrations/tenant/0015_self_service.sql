-- The customer API's self-service state: a plan change at renewal, a pause, devices, support
-- tickets and the operator's network notices.

-- A plan change the subscriber asked for at the end of the paid time (POST .../v1/subscription/
-- plan-change with "when": "at_renewal"); the scheduled pass makes it when expires_at passes.
ALTER TABLE subscribers ADD COLUMN pending_plan_id TEXT;
-- A pause the subscriber chose (POST .../v1/subscription/pause): the account is suspended, the
-- paid time left is banked and given back at resume (by the subscriber, or at paused_until).
ALTER TABLE subscribers ADD COLUMN paused_at TEXT;
ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
ALTER TABLE subscribers ADD COLUMN paused_seconds_left INTEGER;

-- The subscriber's own devices (GET/POST/DELETE .../v1/devices): a MAC and a name.
CREATE TABLE IF NOT EXISTS subscriber_devices (
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    mac           TEXT NOT NULL,             -- AA:BB:CC:DD:EE:FF
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, mac)
);

-- Support tickets and their messages (.../v1/tickets).
CREATE TABLE IF NOT EXISTS tickets (
    id            TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    subject       TEXT NOT NULL,
    status        TEXT NOT NULL,             -- open | answered | closed
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_subscriber ON tickets (subscriber_id, updated_at);
CREATE TABLE IF NOT EXISTS ticket_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    author     TEXT NOT NULL,                -- subscriber | staff
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- Outages and maintenance the operator announces (GET .../v1/network/status), for one site or
-- (site NULL) for everyone.
CREATE TABLE IF NOT EXISTS network_notices (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,                -- outage | maintenance
    site       TEXT,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT,
    created_at TEXT NOT NULL
);
