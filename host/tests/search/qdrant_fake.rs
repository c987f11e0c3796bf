//! A Qdrant server on loopback for the server backend's tests: the real gRPC services
//! (`qdrant-client`'s generated server traits, over tonic) answering from `qdrant-edge`,
//! the engine a Qdrant server runs, so ranking, IDF, fusion and filters are Qdrant's own.
//! It answers with the server's status codes and wording, checks the API key, and can be
//! stopped, restarted and slowed down to show what the host does when the server fails.

// tonic's service methods answer `Result<_, Status>`; the helpers speak the same.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use qdrant_client::qdrant as g;
use qdrant_client::qdrant::collections_server::CollectionsServer;
use qdrant_client::qdrant::points_server::PointsServer;
use qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use qdrant_edge as e;
use tonic::{Request, Response, Status};

use super::qdrant_conv::{self as conv, Res, wrong_input};

/// One collection: an edge shard and what `get` reports about it.
pub struct Collection {
    shard: RwLock<Option<e::EdgeShard>>,
    pub info: Mutex<g::CollectionInfo>,
    dense: Option<usize>,
    sparse: String,
}

impl Drop for Collection {
    fn drop(&mut self) {
        if let Some(shard) = self.shard.get_mut().take() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(shard)));
        }
    }
}

impl Collection {
    pub fn read<T>(&self, f: impl FnOnce(&e::EdgeShard) -> e::OperationResult<T>) -> Res<T> {
        let guard = self.shard.read();
        f(guard.as_ref().expect("open")).map_err(wrong_input)
    }
    pub fn write<T>(&self, f: impl FnOnce(&e::EdgeShard) -> e::OperationResult<T>) -> Res<T> {
        let guard = self.shard.write();
        f(guard.as_ref().expect("open")).map_err(wrong_input)
    }
}

#[derive(Default)]
pub struct State {
    collections: Mutex<HashMap<String, Arc<Collection>>>,
    api_key: Option<String>,
    delay_ms: AtomicU64,
    ops: AtomicU64,
    /// Writes sent without `wait=true`.
    unacknowledged: AtomicUsize,
    /// Successful collection creations.
    created: AtomicUsize,
}

/// A running fake server.
pub struct FakeQdrant {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    addr: SocketAddr,
    state: Arc<State>,
    dir: tempfile::TempDir,
    stop: Mutex<
        Option<(
            tokio::sync::oneshot::Sender<()>,
            tokio::task::JoinHandle<()>,
        )>,
    >,
}

impl FakeQdrant {
    /// Serve on a free loopback port; `api_key` is required on every call when set.
    pub async fn start(api_key: Option<&str>) -> FakeQdrant {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakeQdrant {
            url: format!("http://{addr}"),
            addr,
            state: Arc::new(State {
                api_key: api_key.map(Into::into),
                ..State::default()
            }),
            dir: tempfile::tempdir().unwrap(),
            stop: Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let svc = Svc(self.state.clone(), self.dir.path().to_path_buf());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let incoming = futures::stream::unfold(listener, |l| async move {
            let conn = l.accept().await.map(|(s, _)| s);
            Some((conn, l))
        });
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(QdrantServer::new(svc.clone()))
                .add_service(CollectionsServer::new(svc.clone()))
                .add_service(PointsServer::new(svc).max_decoding_message_size(64 << 20))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        *self.stop.lock() = Some((tx, task));
    }

    /// Stop answering: the port refuses connections until [`FakeQdrant::restart`].
    pub async fn stop(&self) {
        let Some((tx, task)) = self.stop.lock().take() else {
            return;
        };
        let _ = tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }

    /// Serve again on the same port, with the same collections.
    pub async fn restart(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Where the collections' files are.
    pub fn dir(&self) -> std::path::PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Answer every call `ms` late.
    pub fn slow_down(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Writes that did not ask to wait for the server to apply them.
    pub fn unacknowledged_writes(&self) -> usize {
        self.state.unacknowledged.load(Ordering::SeqCst)
    }

    /// Collections created since start.
    pub fn created(&self) -> usize {
        self.state.created.load(Ordering::SeqCst)
    }

    /// The collection's payload-index fields.
    pub fn indexed_fields(&self, collection: &str) -> Vec<String> {
        let cols = self.state.collections.lock();
        let mut f: Vec<String> = cols[collection]
            .info
            .lock()
            .payload_schema
            .keys()
            .cloned()
            .collect();
        f.sort();
        f
    }
}

/// The gRPC services (the collection and point services are in `qdrant_rpcs`).
impl Drop for FakeQdrant {
    fn drop(&mut self) {
        // The shards flush as they close: before their directory goes.
        self.state.collections.lock().clear();
    }
}

#[derive(Clone)]
pub struct Svc(Arc<State>, std::path::PathBuf);

impl Svc {
    pub async fn gate<T>(&self, req: &Request<T>) -> Res<()> {
        let delay = self.0.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if let Some(key) = &self.0.api_key {
            let sent = req.metadata().get("api-key").and_then(|v| v.to_str().ok());
            if sent != Some(key.as_str()) {
                return Err(Status::unauthenticated("Invalid api-key"));
            }
        }
        Ok(())
    }

    pub fn collection(&self, name: &str) -> Res<Arc<Collection>> {
        self.0.collections.lock().get(name).cloned().ok_or_else(|| {
            Status::not_found(format!("Not found: Collection `{name}` doesn't exist!"))
        })
    }

    pub fn done(&self) -> g::UpdateResult {
        g::UpdateResult {
            operation_id: Some(self.0.ops.fetch_add(1, Ordering::SeqCst)),
            status: g::UpdateStatus::Completed as i32,
        }
    }

    pub fn remove(&self, name: &str) -> bool {
        self.0.collections.lock().remove(name).is_some()
    }

    pub fn unacknowledged(&self) {
        self.0.unacknowledged.fetch_add(1, Ordering::SeqCst);
    }

    pub fn make_collection(&self, r: g::CreateCollection) -> Res<()> {
        let mut cols = self.0.collections.lock();
        let name = r.collection_name.clone();
        if cols.contains_key(&name) {
            return Err(wrong_input(format!("Collection `{name}` already exists!")));
        }
        let mut config = e::EdgeConfig {
            on_disk_payload: r.on_disk_payload.unwrap_or(true),
            ..Default::default()
        };
        let sparse_map = r.sparse_vectors_config.clone().unwrap_or_default().map;
        let Some((sparse, params)) = sparse_map.into_iter().next() else {
            return Err(Status::unimplemented(
                "the fake Qdrant needs one sparse vector",
            ));
        };
        config.sparse_vectors.insert(
            sparse.clone(),
            e::EdgeSparseVectorParams {
                modifier: (params.modifier == Some(g::Modifier::Idf as i32))
                    .then_some(e::Modifier::Idf),
                ..Default::default()
            },
        );
        let mut dense = None;
        if let Some(g::vectors_config::Config::ParamsMap(m)) =
            r.vectors_config.clone().and_then(|v| v.config)
        {
            for (vname, p) in m.map {
                if vname != "dense" || p.distance != g::Distance::Cosine as i32 {
                    return Err(Status::unimplemented(
                        "the fake Qdrant keeps one cosine `dense`",
                    ));
                }
                dense = Some(p.size as usize);
                config.vectors.insert(
                    vname,
                    e::EdgeVectorParams {
                        size: p.size as usize,
                        distance: e::Distance::Cosine,
                        on_disk: None,
                        multivector_config: None,
                        datatype: None,
                        quantization_config: None,
                        hnsw_config: None,
                    },
                );
            }
        }
        let dir = self.1.join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir_all(&dir).map_err(|err| Status::internal(err.to_string()))?;
        let shard = e::EdgeShard::new(&dir, config).map_err(wrong_input)?;
        let info = g::CollectionInfo {
            status: g::CollectionStatus::Green as i32,
            config: Some(g::CollectionConfig {
                params: Some(g::CollectionParams {
                    shard_number: r.shard_number.unwrap_or(1),
                    on_disk_payload: r.on_disk_payload.unwrap_or(true),
                    vectors_config: r.vectors_config,
                    replication_factor: Some(r.replication_factor.unwrap_or(1)),
                    write_consistency_factor: Some(r.write_consistency_factor.unwrap_or(1)),
                    sparse_vectors_config: r.sparse_vectors_config,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        cols.insert(
            name,
            Arc::new(Collection {
                shard: RwLock::new(Some(shard)),
                info: Mutex::new(info),
                dense,
                sparse,
            }),
        );
        self.0.created.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    pub fn apply(&self, c: &Collection, op: g::PointsUpdateOperation) -> Res<()> {
        use g::points_update_operation::Operation;
        let update = match op.operation {
            Some(Operation::Upsert(list)) => {
                let points = list
                    .points
                    .into_iter()
                    .map(|p| conv::point(p, c.dense, &c.sparse).map(Into::into))
                    .collect::<Res<Vec<_>>>()?;
                e::PointOperations::UpsertPoints(e::PointInsertOperations::PointsList(points))
            }
            Some(Operation::DeletePoints(d)) => {
                match d.points.and_then(|p| p.points_selector_one_of) {
                    Some(g::points_selector::PointsSelectorOneOf::Filter(f)) => {
                        e::PointOperations::DeletePointsByFilter(
                            conv::filter(Some(f))?.expect("a filter"),
                        )
                    }
                    Some(g::points_selector::PointsSelectorOneOf::Points(ids)) => {
                        e::PointOperations::DeletePoints {
                            ids: ids
                                .ids
                                .into_iter()
                                .map(|i| conv::id(Some(i)))
                                .collect::<Res<_>>()?,
                        }
                    }
                    None => return Err(wrong_input("a delete without a selector")),
                }
            }
            _ => {
                return Err(Status::unimplemented(
                    "the fake Qdrant does not support this update",
                ));
            }
        };
        c.write(|s| s.update(e::UpdateOperation::PointOperation(update)))
    }
}

#[tonic::async_trait]
impl Qdrant for Svc {
    async fn health_check(
        &self,
        req: Request<g::HealthCheckRequest>,
    ) -> Res<Response<g::HealthCheckReply>> {
        self.gate(&req).await?;
        Ok(Response::new(g::HealthCheckReply {
            title: "qdrant - vector search engine".into(),
            version: "1.17.0".into(),
            commit: None,
        }))
    }
}
