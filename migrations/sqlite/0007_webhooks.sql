-- Webhook intake: one durable record per delivery, committed before the provider gets
-- its 2xx; a webhook worker routes it and fans it out into jobs later. The unique index
-- on the provider's delivery id makes a redelivery (or a replay) a no-op.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    integration_id TEXT,
    account_id TEXT,
    delivery_id TEXT,
    received_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    state TEXT NOT NULL,
    queued BIGINT NOT NULL DEFAULT 0,
    processed_at BIGINT,
    error TEXT
);
CREATE UNIQUE INDEX webhook_deliveries_delivery ON webhook_deliveries (provider, delivery_id);
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, received_at);
-- The provider's modified time of what the index holds: a webhook fetch that races a
-- walk never replaces newer content with older.
ALTER TABLE synced_resources ADD COLUMN modified_at BIGINT;
-- Webhook registrations made at the provider (`subscribe`), one per integration: renewed
-- before they expire, removed on disconnect, their state shown on the integration.
CREATE TABLE webhook_subscriptions (
    integration_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    subscription_id TEXT,
    callback_url TEXT NOT NULL,
    expires_at BIGINT,
    state TEXT NOT NULL,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0,
    renew_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_renew ON webhook_subscriptions (renew_at);
