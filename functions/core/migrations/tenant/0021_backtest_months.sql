-- The dashboard's back-test of a whole past month, kept once its outcome is known (the month's
-- end plus grace has passed: no later period can change which of its ends were renewed, nor the
-- histories before it). Keyed by the grace it was computed with; emptied by a summaries rebuild.
CREATE TABLE IF NOT EXISTS backtest_months (
    month         TEXT NOT NULL,
    grace_seconds INTEGER NOT NULL,
    ended         INTEGER NOT NULL,
    predicted     TEXT NOT NULL,    -- f64 as Rust prints it (exact round trip)
    actual        INTEGER NOT NULL,
    PRIMARY KEY (month, grace_seconds)
);
