-- Collections per day (UTC date of received_at), provider and method, of applied payments
-- (issue 14 point 7): what the dashboard reads instead of scanning 14 days of payments on every
-- view. Kept by the database itself, in the same statement as every payment written or assigned,
-- so no code path can forget it and it commits or rolls back with the payment.
CREATE TABLE IF NOT EXISTS collections_daily (
    day      TEXT NOT NULL,
    provider TEXT NOT NULL,
    method   TEXT NOT NULL,
    cents    INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, provider, method)
);
INSERT INTO collections_daily (day, provider, method, cents, n) SELECT substr(received_at, 1, 10), provider, method, SUM(amount_cents), COUNT(*) FROM payments WHERE status = 'applied' GROUP BY substr(received_at, 1, 10), provider, method;
-- A payment counts while it is applied: added when it is written or becomes applied, taken out
-- when it stops being applied, changes its day, channel or amount, or is deleted.
CREATE TRIGGER IF NOT EXISTS collections_payment_in AFTER INSERT ON payments WHEN NEW.status = 'applied'
BEGIN INSERT INTO collections_daily (day, provider, method, cents, n) SELECT substr(NEW.received_at, 1, 10), NEW.provider, NEW.method, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM collections_daily WHERE day = substr(NEW.received_at, 1, 10) AND provider = NEW.provider AND method = NEW.method); UPDATE collections_daily SET cents = cents + NEW.amount_cents, n = n + 1 WHERE day = substr(NEW.received_at, 1, 10) AND provider = NEW.provider AND method = NEW.method; END;
CREATE TRIGGER IF NOT EXISTS collections_payment_out AFTER UPDATE OF status, amount_cents, received_at, provider, method ON payments WHEN OLD.status = 'applied'
BEGIN UPDATE collections_daily SET cents = cents - OLD.amount_cents, n = n - 1 WHERE day = substr(OLD.received_at, 1, 10) AND provider = OLD.provider AND method = OLD.method; END;
CREATE TRIGGER IF NOT EXISTS collections_payment_moved_in AFTER UPDATE OF status, amount_cents, received_at, provider, method ON payments WHEN NEW.status = 'applied'
BEGIN INSERT INTO collections_daily (day, provider, method, cents, n) SELECT substr(NEW.received_at, 1, 10), NEW.provider, NEW.method, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM collections_daily WHERE day = substr(NEW.received_at, 1, 10) AND provider = NEW.provider AND method = NEW.method); UPDATE collections_daily SET cents = cents + NEW.amount_cents, n = n + 1 WHERE day = substr(NEW.received_at, 1, 10) AND provider = NEW.provider AND method = NEW.method; END;
CREATE TRIGGER IF NOT EXISTS collections_payment_gone AFTER DELETE ON payments WHEN OLD.status = 'applied'
BEGIN UPDATE collections_daily SET cents = cents - OLD.amount_cents, n = n - 1 WHERE day = substr(OLD.received_at, 1, 10) AND provider = OLD.provider AND method = OLD.method; END;
