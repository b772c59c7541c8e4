-- What the reconciler saw and did on each router pass.
CREATE TABLE IF NOT EXISTS sync_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    router      TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    outcome     TEXT NOT NULL,
    drift_found INTEGER NOT NULL DEFAULT 0,
    drift_fixed INTEGER NOT NULL DEFAULT 0,
    report      TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_reports_router ON sync_reports (router, id);
