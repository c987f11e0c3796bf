//! The embedded backend: one `qdrant-edge` shard under the data dir.
//!
//! The shard's `flush` panics when another thread holds its WAL or segment lock, so all
//! writes (update, flush, optimize) go through one write lock and queries share the read
//! side. Every call runs on the blocking pool. A write is flushed before it returns:
//! `EdgeShard::load` does not replay the WAL, and the engine records a resource as
//! indexed right after the sink returns.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use futures::future::BoxFuture;
use parking_lot::RwLock;
use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FacetRequest, FacetValue, FieldIndexOperations, Filter, Fusion, Modifier,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    Prefetch, QueryRequest, ScoringQuery, ScrollRequest, UpdateOperation, VectorInternal,
    WithPayloadInterface, WithVector,
};

use super::edge_req::{edge_id, exported, filter, nearest, path, point, sparse};
use super::{
    ChunkMeta, ChunkPoint, DENSE, ExportPage, Hit, PAYLOAD_INDEXES, PREFETCH_FACTOR, Query, RRF_K,
    SPARSE, VectorStore, integration_conds, query_conds, resources_conds,
};

/// Points written between two optimizer runs (segment merges and index builds).
const OPTIMIZE_EVERY: usize = 20_000;

/// The embedded Qdrant shard.
pub struct EdgeStore {
    /// `None` only while dropping.
    shard: Arc<RwLock<Option<EdgeShard>>>,
    written: Arc<AtomicUsize>,
    dense: Option<usize>,
    dir: std::path::PathBuf,
}

impl Drop for EdgeStore {
    fn drop(&mut self) {
        // The shard's own drop flushes and panics when that fails (its directory removed
        // under it, a full disk). Every write was flushed already, so a failure here
        // loses nothing; it must not take the process down.
        if let Some(lock) = Arc::get_mut(&mut self.shard)
            && let Some(shard) = lock.get_mut().take()
        {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(shard)));
        }
    }
}

impl EdgeStore {
    /// Open (or create) the shard in `dir`. `dense` is the dense vector size when an
    /// embedder is configured; it must match what the shard was created with.
    pub fn open(dir: &Path, dense: Option<usize>) -> anyhow::Result<Self> {
        Self::open_with(dir, Some(dense))
    }

    /// Open the index in `dir` whatever dense size it holds (to copy it elsewhere).
    pub fn open_as_is(dir: &Path) -> anyhow::Result<Self> {
        if !dir.join("edge_config.json").exists() {
            anyhow::bail!("there is no embedded index in {}", dir.display());
        }
        Self::open_with(dir, None)
    }

    /// `want`: the dense size the index must hold, or `None` for whatever it holds.
    fn open_with(dir: &Path, want: Option<Option<usize>>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut dense = want.flatten();
        let shard = if dir.join("edge_config.json").exists() {
            let shard = EdgeShard::load(dir, None)
                .with_context(|| format!("opening the index in {}", dir.display()))?;
            let held = shard.config().vectors.get(DENSE).map(|v| v.size);
            if want.is_none() {
                dense = held;
            } else if held != dense {
                anyhow::bail!(
                    "the index in {} holds dense vectors of size {held:?} but the embedder \
                     makes {dense:?}; move the directory away and run `tributary index verify \
                     --repair` to re-index with the new embedder",
                    dir.display()
                );
            }
            shard
        } else {
            let mut config = EdgeConfig {
                on_disk_payload: true,
                ..Default::default()
            };
            config.sparse_vectors.insert(
                SPARSE.into(),
                EdgeSparseVectorParams {
                    modifier: Some(Modifier::Idf),
                    ..Default::default()
                },
            );
            if let Some(size) = dense {
                config.vectors.insert(
                    DENSE.into(),
                    EdgeVectorParams {
                        size,
                        distance: Distance::Cosine,
                        on_disk: None,
                        multivector_config: None,
                        datatype: None,
                        quantization_config: None,
                        hnsw_config: None,
                    },
                );
            }
            EdgeShard::new(dir, config)
                .with_context(|| format!("creating the index in {}", dir.display()))?
        };
        // Indexes added since a shard was made are built on its next start.
        let held = shard.info().payload_schema;
        for (field, integer) in PAYLOAD_INDEXES {
            if held.contains_key(&path(field)) {
                continue;
            }
            let kind = if integer {
                PayloadSchemaType::Integer
            } else {
                PayloadSchemaType::Keyword
            };
            shard.update(UpdateOperation::FieldIndexOperation(
                FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name: path(field),
                    field_schema: Some(PayloadFieldSchema::FieldType(kind)),
                }),
            ))?;
        }
        shard.flush();
        Ok(Self {
            shard: Arc::new(RwLock::new(Some(shard))),
            written: Arc::default(),
            dense,
            dir: dir.to_path_buf(),
        })
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let mut shard = self.shard.clone();
        tokio::task::spawn_blocking(move || {
            // qdrant-edge panics when a flush fails (directory removed, disk full): that is
            // a failed write here, not a dead process.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let guard = shard.write();
                let shard = guard.as_ref().expect("the shard is open until drop");
                let out = f(shard)?;
                shard.flush();
                Ok(out)
            }));
            // The store may have been dropped meanwhile: then this is the last handle,
            // and the shard's own flush-on-drop must not panic either.
            if let Some(lock) = Arc::get_mut(&mut shard)
                && let Some(last) = lock.get_mut().take()
            {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(last)));
            }
            out.unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "writing the index failed (its directory is gone or the disk is full)"
                ))
            })
        })
        .await?
    }

    /// Distinct values of a keyword field among the points `filter` selects.
    async fn distinct(
        &self,
        field: &'static str,
        filter: Option<Filter>,
    ) -> anyhow::Result<HashSet<String>> {
        self.read(move |shard| {
            let facets = shard.facet(FacetRequest {
                key: path(field),
                limit: usize::MAX >> 1,
                filter,
                exact: true,
            })?;
            Ok(facets
                .hits
                .into_iter()
                .filter_map(|h| match h.value {
                    FacetValue::Keyword(k) => Some(k),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let shard = self.shard.clone();
        tokio::task::spawn_blocking(move || {
            f(shard.read().as_ref().expect("the shard is open until drop"))
        })
        .await?
    }
}

impl VectorStore for EdgeStore {
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
            let filter = filter(&resources_conds(integration_id, external_ids));
            let n = points.len();
            let points = points
                .into_iter()
                .map(|p| point(p).map(Into::into))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let optimize = self.written.fetch_add(n, Ordering::Relaxed) + n >= OPTIMIZE_EVERY;
            if optimize {
                self.written.store(0, Ordering::Relaxed);
            }
            self.write(move |shard| {
                // A resource's old chunks go first: a shorter new version must not keep
                // the old tail.
                shard.update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))?;
                if !points.is_empty() {
                    shard.update(UpdateOperation::PointOperation(
                        PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                    ))?;
                }
                if optimize {
                    shard.optimize()?;
                }
                Ok(())
            })
            .await
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
            let filter = filter(&resources_conds(integration_id, external_ids));
            self.write(move |shard| {
                Ok(shard.update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))?)
            })
            .await
        })
    }

    fn purge<'a>(&'a self, integration_id: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        let filter = filter(&integration_conds(integration_id));
        Box::pin(self.write(move |shard| {
            Ok(shard.update(UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(filter),
            ))?)
        }))
    }

    fn search<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, anyhow::Result<Vec<Hit>>> {
        Box::pin(async move {
            if q.owners.is_empty() || q.limit == 0 {
                return Ok(Vec::new());
            }
            let filter = filter(&query_conds(q));
            let sparse_query = nearest(sparse(&q.sparse)?, SPARSE);
            let (prefetches, query) = match &q.dense {
                None => (Vec::new(), sparse_query),
                Some(d) => {
                    // Ownership is enforced inside each prefetch: the fusion only ever
                    // sees the caller's points.
                    let prefetch = |query| Prefetch {
                        prefetches: Vec::new(),
                        query,
                        limit: q.limit * PREFETCH_FACTOR,
                        params: None,
                        filter: Some(filter.clone()),
                        score_threshold: None,
                    };
                    (
                        vec![
                            prefetch(sparse_query),
                            prefetch(nearest(VectorInternal::from(d.clone()), DENSE)),
                        ],
                        Some(ScoringQuery::Fusion(Fusion::Rrf {
                            k: RRF_K as usize,
                            weights: None,
                        })),
                    )
                }
            };
            let request = QueryRequest {
                prefetches,
                query,
                filter: Some(filter),
                score_threshold: None,
                limit: q.limit,
                offset: 0,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(true),
            };
            let points = self.read(move |shard| Ok(shard.query(request)?)).await?;
            points
                .into_iter()
                .map(|p| {
                    let payload = p.payload.map(|p| p.0).unwrap_or_default();
                    Ok(Hit {
                        score: p.score,
                        meta: serde_json::from_value::<ChunkMeta>(payload.into())?,
                    })
                })
                .collect()
        })
    }

    fn resources<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<HashSet<String>>> {
        let filter = filter(&integration_conds(integration_id));
        Box::pin(self.distinct("external_id", Some(filter)))
    }

    fn integrations(&self) -> BoxFuture<'_, anyhow::Result<HashSet<String>>> {
        Box::pin(self.distinct("integration_id", None))
    }

    fn count<'a>(
        &'a self,
        integration_id: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<usize>> {
        let filter = integration_id.map(|i| filter(&integration_conds(i)));
        Box::pin(self.read(move |shard| {
            Ok(shard.count(CountRequest {
                filter,
                exact: true,
            })?)
        }))
    }

    fn export(
        &self,
        from: Option<uuid::Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, anyhow::Result<ExportPage>> {
        Box::pin(self.read(move |shard| {
            let (records, next) = shard.scroll(ScrollRequest {
                offset: from.map(edge_id),
                limit: Some(limit.max(1)),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(true),
                order_by: None,
            })?;
            let points = records
                .into_iter()
                .map(exported)
                .collect::<anyhow::Result<Vec<_>>>()?;
            let next = match next {
                Some(PointId::Uuid(u)) => Some(uuid::Uuid::from_bytes(u.into_bytes())),
                Some(PointId::NumId(n)) => anyhow::bail!("point {n} is not one of ours"),
                None => None,
            };
            Ok(ExportPage { points, next })
        }))
    }

    fn import(&self, points: Vec<ChunkPoint>) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let points = points
                .into_iter()
                .map(|p| point(p).map(Into::into))
                .collect::<anyhow::Result<Vec<_>>>()?;
            self.write(move |shard| {
                Ok(shard.update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))?)
            })
            .await
        })
    }

    fn dense_size(&self) -> Option<usize> {
        self.dense
    }

    fn health(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        // In-process: it answers whenever this process does.
        Box::pin(async { Ok(()) })
    }

    fn describe(&self) -> String {
        format!("embedded Qdrant in {}", self.dir.display())
    }

    fn shared(&self) -> bool {
        false
    }
}
