-- The operator's console: staff accounts, named API keys, the audit log of every change.
-- Staff sign in with an e-mail-like login and an Argon2id password (PHC string). `session_gen`
-- is in every signed session cookie: raising it (sign out everywhere, role change, deactivation)
-- ends every session of that user at once.
CREATE TABLE IF NOT EXISTS staff_users (
    id            TEXT PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'agent', 'readonly')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    session_gen   INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    last_login_at TEXT
);

-- Named, revocable API keys for the admin API; only the SHA-256 of the key is kept. Each key has
-- a role from the same role table as the pages.
CREATE TABLE IF NOT EXISTS api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'agent', 'readonly')),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);

-- Every change a user makes: who, what, when, before and after (JSON text).
CREATE TABLE IF NOT EXISTS audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    before    TEXT,
    after     TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS subscribers_name ON subscribers (name);
