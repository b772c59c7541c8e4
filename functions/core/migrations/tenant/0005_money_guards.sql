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

-- The balance as a column kept by the database itself: every ledger row adds to it in the same
-- statement, so reading a subscriber no longer sums its whole ledger (a hotspot sales account
-- takes thousands of payments a day) and no code path can forget to update it.
ALTER TABLE subscribers ADD COLUMN balance_cents INTEGER NOT NULL DEFAULT 0;
UPDATE subscribers SET balance_cents = (SELECT COALESCE(SUM(l.amount_cents), 0) FROM ledger l WHERE l.subscriber_id = subscribers.id);
CREATE TRIGGER IF NOT EXISTS ledger_keeps_balance AFTER INSERT ON ledger
BEGIN UPDATE subscribers SET balance_cents = balance_cents + NEW.amount_cents WHERE id = NEW.subscriber_id; END;
