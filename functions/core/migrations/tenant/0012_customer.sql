-- The customer API's own state beside the sign-in tables of 0008.

-- A subscriber's portal password (Argon2id PHC string), set after an OTP sign-in
-- (PUT .../v1/me/password). Apart from the PPPoE secret, which RADIUS needs in clear text.
ALTER TABLE subscribers ADD COLUMN portal_password_hash TEXT;
-- What the subscriber sets about themselves (PATCH .../v1/me).
ALTER TABLE subscribers ADD COLUMN email TEXT;
ALTER TABLE subscribers ADD COLUMN language TEXT;

-- Payments claimed by a subscriber from the unmatched inbox (POST .../v1/payments/claim):
-- the payment id is the key, so a claim happens once however often it is sent.
CREATE TABLE IF NOT EXISTS payment_claims (
    payment_id    TEXT PRIMARY KEY REFERENCES payments (id),
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    claimed_at    TEXT NOT NULL
);
