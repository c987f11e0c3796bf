-- Accounts, integrations, encrypted credentials, OAuth states, registry, sync records.
-- Booleans are BIGINT 0/1 and times BIGINT ms so one query set serves SQLite and PostgreSQL.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    is_admin BIGINT NOT NULL DEFAULT 0,
    plan TEXT NOT NULL DEFAULT 'free',
    created_at BIGINT NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL DEFAULT 'free',
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE TABLE integration_registry (
    provider TEXT PRIMARY KEY,
    enabled BIGINT NOT NULL DEFAULT 1,
    allowed_plans TEXT NOT NULL DEFAULT '[]',
    default_config TEXT NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    status TEXT NOT NULL,
    storage_strategy TEXT NOT NULL DEFAULT 'FULL_CONTENT',
    sync_frequency TEXT NOT NULL DEFAULT 'HOURLY',
    config TEXT NOT NULL DEFAULT '{}',
    account_id TEXT,
    account_name TEXT,
    last_sync_at BIGINT,
    last_error TEXT,
    webhook_id TEXT,
    connected_by TEXT NOT NULL,
    connected_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (owner_kind, owner_id, provider)
);
CREATE INDEX integrations_status ON integrations (status);

-- Secrets are sealed with XChaCha20-Poly1305; `key_id` names the key, the row's id is
-- bound as associated data, `version` makes refresh-token rotation a compare-and-swap.
CREATE TABLE credentials (
    integration_id TEXT PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    expires_at BIGINT,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE oauth_clients (
    provider TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed_verifier BLOB NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE sync_jobs (
    id TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    mode TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT,
    resources_found BIGINT NOT NULL DEFAULT 0,
    resources_synced BIGINT NOT NULL DEFAULT 0,
    resources_failed BIGINT NOT NULL DEFAULT 0,
    cursor TEXT,
    error_message TEXT,
    error_details TEXT
);
CREATE INDEX sync_jobs_integration ON sync_jobs (integration_id);
CREATE INDEX sync_jobs_status ON sync_jobs (status);

CREATE TABLE synced_resources (
    integration_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    version TEXT,
    vector_ids TEXT NOT NULL DEFAULT '[]',
    last_synced_at BIGINT NOT NULL,
    PRIMARY KEY (integration_id, external_id)
);
