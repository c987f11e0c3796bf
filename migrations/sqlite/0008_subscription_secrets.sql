-- WIT 0.2.0: the provider's handle besides the subscription id (Drive resourceId) and a
-- per-subscription secret, sealed like tokens (key id + nonce‖ciphertext‖tag).
ALTER TABLE webhook_subscriptions ADD COLUMN resource_handle TEXT;
ALTER TABLE webhook_subscriptions ADD COLUMN secret_key_id TEXT;
ALTER TABLE webhook_subscriptions ADD COLUMN secret_sealed BLOB;
