-- Dashboard summaries (issue 14 point 7): kept in the same batch as every new paid period
-- (store::summaries::refresh, appended by usecases::credit::outcome_statements), rebuilt whole
-- when the grace they were computed with changes or a plan's period is edited.

-- The grace the summaries were computed with. No row: not built yet (the next dashboard view or
-- scheduled pass builds them); per-subscriber refreshes are no-ops until then.
CREATE TABLE IF NOT EXISTS summary_meta (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    grace_seconds INTEGER NOT NULL,
    built_at      TEXT NOT NULL
);

-- One subscriber's contribution to one month's MRR and movements, measured at the month's end
-- (the first instant of the next month). Rows only where the subscriber paid at that month's end
-- or the one before. plan_id/site: the paid period's plan (the previous one for churn) and the
-- subscriber's site when the row was written ('' when none).
CREATE TABLE IF NOT EXISTS mrr_moves (
    subscriber_id TEXT NOT NULL,
    month         TEXT NOT NULL,
    plan_id       TEXT NOT NULL,
    site          TEXT NOT NULL,
    mrr           INTEGER NOT NULL,
    paying        INTEGER NOT NULL,
    new           INTEGER NOT NULL,
    reactivation  INTEGER NOT NULL,
    expansion     INTEGER NOT NULL,
    contraction   INTEGER NOT NULL,
    churn         INTEGER NOT NULL,
    PRIMARY KEY (subscriber_id, month)
);
CREATE INDEX IF NOT EXISTS mrr_moves_month ON mrr_moves (month, subscriber_id);

-- The sums of mrr_moves by month, plan and site: what the dashboard reads for closed months.
CREATE TABLE IF NOT EXISTS mrr_months (
    month         TEXT NOT NULL,
    plan_id       TEXT NOT NULL,
    site          TEXT NOT NULL,
    mrr           INTEGER NOT NULL,
    paying        INTEGER NOT NULL,
    new           INTEGER NOT NULL,
    reactivation  INTEGER NOT NULL,
    expansion     INTEGER NOT NULL,
    contraction   INTEGER NOT NULL,
    churn         INTEGER NOT NULL,
    PRIMARY KEY (month, plan_id, site)
);

-- How each paid period's end went: renewed on time (the next period starts by its end), late
-- (within grace) or lapsed; decided_at is when that became known (the next period's start, or
-- the end of grace); lapse_at = ends_at + grace.
CREATE TABLE IF NOT EXISTS renewal_outcomes (
    subscription_id TEXT PRIMARY KEY,
    subscriber_id   TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    lapse_at        TEXT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('on_time', 'late', 'lapsed')),
    decided_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS renewal_outcomes_subscriber ON renewal_outcomes (subscriber_id, decided_at);
CREATE INDEX IF NOT EXISTS renewal_outcomes_ends ON renewal_outcomes (ends_at);

-- The paid periods running now (MRR of the current month, measured at the page view).
CREATE INDEX IF NOT EXISTS subscriptions_ends ON subscriptions (ends_at);
-- Collections per day read a bounded range of received_at.
CREATE INDEX IF NOT EXISTS payments_received ON payments (received_at);
