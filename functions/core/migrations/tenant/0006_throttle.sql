-- Windowed counters for throttling (failed voucher guesses, OTP sends, logins): one row per key and
-- window start; old windows are deleted by the scheduled pass. Keys name what is counted
-- (`voucher-fail:mac:AA:BB:..`, `login:ip:1.2.3.4`), so one table serves every limit.
CREATE TABLE throttle (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
