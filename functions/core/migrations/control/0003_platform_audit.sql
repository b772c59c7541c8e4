-- The platform operator's audit log (issue 14): who created, suspended or resumed which tenant,
-- and when. Written by the platform console; read on /platform/tenants.
CREATE TABLE platform_audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    realm  TEXT NOT NULL
);
CREATE INDEX platform_audit_at ON platform_audit (at);
