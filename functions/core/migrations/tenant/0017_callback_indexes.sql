-- Fewer scattered index pages written per payment callback (issue 9's benchmark: every dirtied
-- page is written whole to the log and fsynced before the callback is answered).

-- Nothing reads the callback log by reference (it is listed newest first, by outcome, and the
-- health summary scans it): the index cost one page at a random place per callback, duplicates
-- included, and bought nothing.
DROP INDEX IF EXISTS callback_log_ref;

-- Only the sweep looks pushes up by status, and only pending ones: a partial index drops a push
-- when it resolves instead of moving it to a 'paid'/'failed' section nobody reads.
DROP INDEX IF EXISTS stk_requests_pending;
CREATE INDEX IF NOT EXISTS stk_requests_pending ON stk_requests (created_at) WHERE status = 'pending';
