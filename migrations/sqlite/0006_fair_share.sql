-- Fair share and runaway walks: a walk's pages are counted across its slices (the page
-- ceiling), and rate-limit waits that refunded an attempt are counted so a plugin that
-- always says "rate limited" cannot keep a job alive for ever.
ALTER TABLE sync_jobs ADD COLUMN pages BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_jobs ADD COLUMN rate_waits BIGINT NOT NULL DEFAULT 0;
-- When the settings that decide what is synced last changed: a walk that started before
-- then walked the old scope and must not become the base of incremental walks.
ALTER TABLE integrations ADD COLUMN config_changed_at BIGINT;
-- The process that owns the embedded vector index of a database: a second replica with
-- its own embedded index would split the index silently, so it is refused at start.
CREATE TABLE embedded_index_owner (
    id INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
