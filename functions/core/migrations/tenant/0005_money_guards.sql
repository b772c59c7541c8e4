-- Money that must never be lost or stuck (issue: late successes, contention, absurd amounts).

-- A payment is recorded on the balance without waiting for the subscriber's version: the
-- renewal it may buy is settled right after (or by the scheduled pass when that lost a race).
-- 1 = money arrived since the last settlement.
ALTER TABLE subscribers ADD COLUMN needs_settle INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS subscribers_needs_settle ON subscribers (needs_settle) WHERE needs_settle = 1;

-- A backstop under the per-tenant bound the use cases apply: no ledger entry can carry more
-- than KES 100,000,000, so no balance can overflow SQLite's SUM and make a subscriber unreadable.
CREATE TRIGGER IF NOT EXISTS ledger_amount_bound BEFORE INSERT ON ledger
WHEN NEW.amount_cents > 10000000000 OR NEW.amount_cents < -10000000000
BEGIN SELECT RAISE(ABORT, 'ledger amount out of range'); END;
