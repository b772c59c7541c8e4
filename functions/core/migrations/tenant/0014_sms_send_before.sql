-- A message that is worthless after a moment (a sign-in code) says until when it may go out; a drain
-- that finds it later (SMS turned on only now, the provider down for a while) marks it failed instead.
ALTER TABLE sms_outbox ADD COLUMN send_before TEXT;
