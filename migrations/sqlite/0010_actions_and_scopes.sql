-- Actions an admin enabled per provider, and what a pending OAuth connection asked for
-- (its storage strategy and the scopes requested, which conditional scopes decide).
ALTER TABLE integration_registry ADD COLUMN enabled_actions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_states ADD COLUMN storage_strategy TEXT NOT NULL DEFAULT 'FULL_CONTENT';
ALTER TABLE oauth_states ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
