-- Staff answer tickets from the console (issue 13): the console lists tickets by status, newest
-- change first; a subscriber chooses whether a staff reply also comes by SMS (on unless they say
-- otherwise; the reply is always in the ticket and in GET .../v1/me/notifications when sent).
CREATE INDEX IF NOT EXISTS tickets_status ON tickets (status, updated_at);
ALTER TABLE subscribers ADD COLUMN ticket_reply_sms INTEGER NOT NULL DEFAULT 1;
