-- The same windowed counters as in tenant databases, for what has no tenant yet (the platform
-- console's sign-in).
CREATE TABLE throttle (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
