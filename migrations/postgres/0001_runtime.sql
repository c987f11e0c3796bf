-- Plugin runtime: per-integration key/value store, plugin file registry, provider settings.
CREATE TABLE plugin_kv (
    integration_id TEXT NOT NULL,
    key BYTEA NOT NULL,
    value BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (integration_id, key)
);

CREATE TABLE plugin_files (
    file_name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    provider_id TEXT,
    version TEXT,
    status TEXT NOT NULL,
    error TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE provider_settings (
    provider_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
