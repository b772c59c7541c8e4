-- Control database: the tenant registry. Holds no subscriber data.
CREATE TABLE IF NOT EXISTS tenants (
    realm            TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- Where the tenant's billing database lives: a file stem natively, a D1 binding on Workers,
    -- a database label in Spin.
    db_key           TEXT NOT NULL UNIQUE,
    -- SHA-256 (hex) of the tenant admin bearer token.
    admin_token_hash TEXT NOT NULL,
    -- Secret path segment of this tenant's payment callback URLs.
    callback_token   TEXT NOT NULL UNIQUE,
    -- Per-tenant key for the reconciler's signed sync API.
    sync_key         TEXT NOT NULL,
    -- JSON: billing settings (grace, sweep ages, C2B validation policy).
    settings         TEXT NOT NULL DEFAULT '{}',
    -- JSON: Daraja credentials and shortcode (secrets; never logged).
    daraja           TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL
);
