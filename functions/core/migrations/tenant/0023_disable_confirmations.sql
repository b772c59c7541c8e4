-- Operators' confirmations of the disables the reconciler's mass-disable guard holds on a
-- router (console routers page, admin API): the desired state carries the latest of each
-- router back to the reconciler, which releases only the hold it names (hold_id).
CREATE TABLE IF NOT EXISTS disable_confirmations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    router       TEXT NOT NULL,
    hold_id      INTEGER NOT NULL,
    disables     INTEGER NOT NULL,
    confirmed_at TEXT NOT NULL,
    confirmed_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS disable_confirmations_router ON disable_confirmations (router, id);
