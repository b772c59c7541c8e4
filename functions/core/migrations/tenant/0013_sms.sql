-- SMS sending through a provider (Africa's Talking): the outbox's delivery state and opt-outs.
-- (Messages are written in subscribers.language, added by 0012, else the tenant's default.)

-- Delivery state of each message. status: queued -> sending -> sent -> delivered | failed
-- ('sending' while a drain holds it; a crash there leaves it to be sent again after claim_expires).
ALTER TABLE sms_outbox ADD COLUMN subscriber_id TEXT;
ALTER TABLE sms_outbox ADD COLUMN dedupe_key TEXT;          -- one message per cause (receipt:<payment>, reminder:...)
ALTER TABLE sms_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sms_outbox ADD COLUMN next_attempt_at TEXT;     -- not before (backoff, promotional hours)
ALTER TABLE sms_outbox ADD COLUMN claimed_until TEXT;       -- a drain's hold on a 'sending' row
ALTER TABLE sms_outbox ADD COLUMN provider_message_id TEXT; -- ATXid_...
ALTER TABLE sms_outbox ADD COLUMN provider_status TEXT;     -- the provider's last word (Success, InvalidPhoneNumber, ...)
ALTER TABLE sms_outbox ADD COLUMN cost_e4 INTEGER;          -- what the provider charged, in 1/10000 KES (KES 0.8000 -> 8000)
ALTER TABLE sms_outbox ADD COLUMN last_error TEXT;
ALTER TABLE sms_outbox ADD COLUMN sent_at TEXT;
ALTER TABLE sms_outbox ADD COLUMN reported_at TEXT;         -- the terminal delivery report's arrival
CREATE UNIQUE INDEX IF NOT EXISTS sms_outbox_dedupe ON sms_outbox (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS sms_outbox_provider_id ON sms_outbox (provider_message_id);

-- Numbers that asked for no promotional messages (transactional ones still go).
CREATE TABLE IF NOT EXISTS sms_optouts (
    msisdn      TEXT PRIMARY KEY,                  -- 2547XXXXXXXX
    source      TEXT NOT NULL,                     -- operator | provider (UserInBlacklist) | subscriber
    created_at  TEXT NOT NULL
);
