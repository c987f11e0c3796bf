//! The Qdrant server backend (`QDRANT_URL`, gRPC): one collection shared by every host
//! process. Writes wait for the server's acknowledgement (`wait=true`) so the engine
//! never records a resource as indexed that is not; a server that is down or slow is an
//! [`Unavailable`] error, which sync jobs wait out.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use qdrant_client::qdrant::{
    CollectionExistsRequest, CountPoints, FacetCounts, GetCollectionInfoRequest, ScrollPoints,
    UpdateBatchPoints, UpdateStatus, WriteOrdering,
};
use qdrant_client::{Qdrant, QdrantError};

use super::ServerConfig;
use super::server_req::{self, Shape};
use super::{
    ChunkPoint, ExportPage, Hit, Query, Unavailable, VectorStore, integration_conds,
    resources_conds,
};

/// Points per write request: a page of big chunks with dense vectors stays far below
/// the server's request size limit.
const WRITE_BATCH: usize = 256;
/// Points per scroll page when listing resource ids (small answers).
const SCROLL_PAGE: u32 = 1_000;
/// Points per page when exporting: vectors and text stay well under the 4 MiB a gRPC
/// answer may carry by default.
const EXPORT_PAGE: usize = 128;

/// A collection on a Qdrant server.
pub struct QdrantStore {
    client: Qdrant,
    collection: String,
    dense: Option<usize>,
    ordering: WriteOrdering,
    /// For messages: the URL without credentials.
    name: String,
}

impl QdrantStore {
    /// Connect, make the collection and its payload indexes unless they exist (another
    /// process making them at the same time is fine), and check that the collection holds
    /// dense vectors of size `dense`.
    pub async fn open(config: &ServerConfig, dense: Option<usize>) -> anyhow::Result<Self> {
        let mut store = Self::connect(config).await?;
        store.dense = dense;
        store
            .ensure_collection(&Shape {
                collection: config.collection.clone(),
                dense,
                shards: config.shards,
                replication: config.replication,
                write_consistency: config.write_consistency,
            })
            .await?;
        Ok(store)
    }

    async fn connect(config: &ServerConfig) -> anyhow::Result<Self> {
        url::Url::parse(&config.url)
            .with_context(|| format!("QDRANT_URL={}: not a URL", super::redacted(&config.url)))?;
        let name = format!("Qdrant server at {}", super::redacted(&config.url));
        let client = Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .with_context(|| format!("connecting to the {name}"))?;
        let store = Self {
            client,
            collection: config.collection.clone(),
            dense: None,
            ordering: server_req::ordering(&config.ordering)?,
            name,
        };
        let reply = store
            .client
            .health_check()
            .await
            .map_err(|e| store.error(e))?;
        tracing::info!(server = %store.name, version = %reply.version, "Qdrant server answers");
        Ok(store)
    }

    /// Connect to an existing collection, whatever dense size it holds (to copy it).
    pub async fn open_as_is(config: &ServerConfig) -> anyhow::Result<Self> {
        let mut store = Self::connect(config).await?;
        let info = store.info(&config.collection).await?;
        store.dense = server_req::dense_size(&info);
        Ok(store)
    }

    async fn info(
        &self,
        collection: &str,
    ) -> anyhow::Result<qdrant_client::qdrant::CollectionInfo> {
        self.client
            .collection_info(GetCollectionInfoRequest {
                collection_name: collection.to_string(),
            })
            .await
            .map_err(|e| self.error(e))?
            .result
            .with_context(|| format!("the {} sent no collection info", self.name))
    }

    async fn exists(&self, collection: &str) -> anyhow::Result<bool> {
        self.client
            .collection_exists(CollectionExistsRequest {
                collection_name: collection.to_string(),
            })
            .await
            .map_err(|e| self.error(e))
    }

    async fn ensure_collection(&self, shape: &Shape) -> anyhow::Result<()> {
        if !self.exists(&shape.collection).await?
            && let Err(e) = self
                .client
                .create_collection(server_req::create_collection(shape))
                .await
            // Another host process made it first: the check decides.
            && !self.exists(&shape.collection).await?
        {
            return Err(self.error(e)).context("creating the collection");
        }
        let info = self.info(&shape.collection).await?;
        if let Some(why) = server_req::shape_mismatch(shape, &info) {
            anyhow::bail!("{why} ({})", self.name);
        }
        for index in server_req::field_indexes(&shape.collection) {
            if info.payload_schema.contains_key(&index.field_name) {
                continue;
            }
            // Creating an index that another process just made is accepted by the server.
            self.client
                .create_field_index(index)
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Drop the collection (tests and benches clean up with it).
    pub async fn drop_collection(&self) -> anyhow::Result<()> {
        self.client
            .delete_collection(self.collection.as_str())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    fn error(&self, e: QdrantError) -> anyhow::Error {
        server_req::classify(&self.name, e)
    }

    /// Apply operations in order and wait until the server has applied them.
    async fn batch(
        &self,
        operations: Vec<qdrant_client::qdrant::PointsUpdateOperation>,
    ) -> anyhow::Result<()> {
        if operations.is_empty() {
            return Ok(());
        }
        let answer = self
            .client
            .update_points_batch(UpdateBatchPoints {
                collection_name: self.collection.clone(),
                wait: Some(true),
                operations,
                ordering: Some(self.ordering),
                timeout: None,
            })
            .await
            .map_err(|e| self.error(e))?;
        for result in answer.result {
            if result.status != UpdateStatus::Completed as i32 {
                // Accepted but not applied within the wait: not durable yet, so not done.
                return Err(anyhow::Error::new(Unavailable {
                    store: self.name.clone(),
                    reason: format!(
                        "a write was not applied in time (status {:?})",
                        UpdateStatus::try_from(result.status)
                            .unwrap_or(UpdateStatus::UnknownUpdateStatus)
                    ),
                    retry_after: None,
                }));
            }
        }
        Ok(())
    }

    /// Upserts in batches; `first` goes before the first batch in the same request.
    async fn write(
        &self,
        first: Option<qdrant_client::qdrant::PointsUpdateOperation>,
        points: Vec<ChunkPoint>,
    ) -> anyhow::Result<()> {
        let mut first = first;
        let mut points = points.into_iter().peekable();
        loop {
            let mut ops: Vec<_> = first.take().into_iter().collect();
            let batch: Vec<_> = points.by_ref().take(WRITE_BATCH).collect();
            if !batch.is_empty() {
                let batch = batch
                    .into_iter()
                    .map(server_req::point)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                ops.push(server_req::upsert_op(batch));
            }
            self.batch(ops).await?;
            if points.peek().is_none() {
                return Ok(());
            }
        }
    }

    /// External ids of an integration's points: scrolled page by page (an integration
    /// can hold millions of resources, more than one answer may carry).
    async fn external_ids(&self, integration_id: &str) -> anyhow::Result<HashSet<String>> {
        let filter = server_req::filter(&integration_conds(integration_id));
        let mut ids = HashSet::new();
        let mut offset = None;
        loop {
            let answer = self
                .client
                .scroll(ScrollPoints {
                    collection_name: self.collection.clone(),
                    filter: Some(filter.clone()),
                    offset: offset.take(),
                    limit: Some(SCROLL_PAGE),
                    with_payload: Some(vec!["external_id"].into()),
                    with_vectors: Some(false.into()),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.error(e))?;
            for p in answer.result {
                if let Some(qdrant_client::qdrant::Value {
                    kind: Some(qdrant_client::qdrant::value::Kind::StringValue(id)),
                }) = p.payload.get("external_id")
                {
                    ids.insert(id.clone());
                }
            }
            match answer.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(ids),
            }
        }
    }

    /// Ids of the integrations with points: an exact facet over the keyword index
    /// (integrations are few, one per database row).
    async fn integration_ids(&self) -> anyhow::Result<HashSet<String>> {
        let answer = self
            .client
            .facet(FacetCounts {
                collection_name: self.collection.clone(),
                key: "integration_id".into(),
                limit: Some(1_000_000),
                exact: Some(true),
                ..Default::default()
            })
            .await
            .map_err(|e| self.error(e))?;
        Ok(server_req::facet_keywords(answer.hits).collect())
    }
}

impl VectorStore for QdrantStore {
    fn replace<'a>(
        &'a self,
        integration_id: &'a str,
        external_ids: &'a [String],
        points: Vec<ChunkPoint>,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            if external_ids.is_empty() {
                return Ok(());
            }
            // The old chunks go in the same request as the first new ones, before them:
            // a shorter new version must not keep the old tail.
            let delete = server_req::delete_op(&resources_conds(integration_id, external_ids));
            self.write(Some(delete), points).await
        })
    }

    fn delete<'a>(
        &'a self,
        integration_id: &'a str,
        external_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            if external_ids.is_empty() {
                return Ok(());
            }
            let conds = resources_conds(integration_id, external_ids);
            self.batch(vec![server_req::delete_op(&conds)]).await
        })
    }

    fn purge<'a>(&'a self, integration_id: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        let op = server_req::delete_op(&integration_conds(integration_id));
        Box::pin(self.batch(vec![op]))
    }

    fn search<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, anyhow::Result<Vec<Hit>>> {
        Box::pin(async move {
            if q.owners.is_empty() || q.limit == 0 {
                return Ok(Vec::new());
            }
            let answer = self
                .client
                .query(server_req::query(&self.collection, q))
                .await
                .map_err(|e| self.error(e))?;
            answer.result.into_iter().map(server_req::hit).collect()
        })
    }

    fn resources<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<HashSet<String>>> {
        Box::pin(self.external_ids(integration_id))
    }

    fn integrations(&self) -> BoxFuture<'_, anyhow::Result<HashSet<String>>> {
        Box::pin(self.integration_ids())
    }

    fn count<'a>(
        &'a self,
        integration_id: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<usize>> {
        Box::pin(async move {
            let answer = self
                .client
                .count(CountPoints {
                    collection_name: self.collection.clone(),
                    filter: integration_id.map(|i| server_req::filter(&integration_conds(i))),
                    exact: Some(true),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.error(e))?;
            Ok(answer.result.map_or(0, |r| r.count as usize))
        })
    }

    fn export(
        &self,
        from: Option<uuid::Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, anyhow::Result<ExportPage>> {
        Box::pin(async move {
            let answer = self
                .client
                .scroll(ScrollPoints {
                    collection_name: self.collection.clone(),
                    offset: from.map(|id| id.to_string().into()),
                    limit: Some(limit.clamp(1, EXPORT_PAGE) as u32),
                    with_payload: Some(true.into()),
                    with_vectors: Some(true.into()),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.error(e))?;
            let next = match answer.next_page_offset {
                Some(id) => Some(server_req::point_uuid(Some(id))?),
                None => None,
            };
            let points = answer
                .result
                .into_iter()
                .map(server_req::exported)
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(ExportPage { points, next })
        })
    }

    fn import(&self, points: Vec<ChunkPoint>) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(self.write(None, points))
    }

    fn dense_size(&self) -> Option<usize> {
        self.dense
    }

    fn health(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            // Health answers fast or not at all: a hung server must not hang `/health`.
            match tokio::time::timeout(Duration::from_secs(3), self.client.health_check()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(self.error(e)),
                Err(_) => Err(anyhow::Error::new(Unavailable {
                    store: self.name.clone(),
                    reason: "no answer within 3 s".into(),
                    retry_after: None,
                })),
            }
        })
    }

    fn describe(&self) -> String {
        format!("{}, collection `{}`", self.name, self.collection)
    }

    fn shared(&self) -> bool {
        true
    }
}
