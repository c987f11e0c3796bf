-- Ingestion: a resource synced but not indexed (unsupported type, no text) keeps the
-- reason; NULL means its chunks are in the vector store.
ALTER TABLE synced_resources ADD COLUMN skip_reason TEXT;
