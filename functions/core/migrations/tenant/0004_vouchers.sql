-- Hotspot voucher batches. Codes are not stored: each code carries its batch, serial and a MAC
-- (see domain/voucher.rs), so a batch row is all it takes to print, check or reprint its codes.
CREATE TABLE IF NOT EXISTS voucher_batches (
    id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 16383),  -- the batch number inside codes
    request_id  TEXT NOT NULL UNIQUE,                                  -- finds the row its creator inserted
    plan_id     TEXT NOT NULL REFERENCES plans(id),
    count       INTEGER NOT NULL CHECK (count BETWEEN 1 AND 262144),   -- serials 0 .. count-1
    note        TEXT NOT NULL DEFAULT '',
    valid_until TEXT,                                                  -- unused codes are void after this
    created_at  TEXT NOT NULL
);
