//! The Qdrant server backend's requests and answers: the store's operations translated
//! into `qdrant-client`'s gRPC messages and back. Pure functions, so the translation is
//! tested without a server.

use std::collections::HashMap;

use qdrant_client::qdrant::{
    self, Condition, CreateCollection, CreateFieldIndexCollection, Distance, FieldCondition,
    FieldType, Filter, Modifier, PointId, PointStruct, PointsSelector, PointsUpdateOperation,
    PrefetchQuery, QueryPoints, Range, RetrievedPoint, ScoredPoint, SparseVectorConfig,
    SparseVectorParams, VectorInput, VectorParams, VectorParamsMap, VectorsConfig, WriteOrdering,
    r#match::MatchValue, points_update_operation::Operation,
};
use qdrant_client::{Payload, QdrantError};

use super::{
    ChunkMeta, ChunkPoint, Cond, DENSE, Hit, PAYLOAD_INDEXES, PREFETCH_FACTOR, Query, RRF_K,
    SPARSE, Sparse, Unavailable,
};

/// How a collection is made when it does not exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Collection name.
    pub collection: String,
    /// Dense vector size, when an embedder is configured.
    pub dense: Option<usize>,
    /// Shards (`None`: the server's default, one per node at creation).
    pub shards: Option<u32>,
    /// Copies of each shard (`None`: the server's default, 1).
    pub replication: Option<u32>,
    /// Replicas that must acknowledge a write (`None`: 1).
    pub write_consistency: Option<u32>,
}

/// The collection: named sparse `bm25` with IDF, named dense `dense` (cosine) when an
/// embedder is configured, payload on disk, as the embedded store.
pub fn create_collection(shape: &Shape) -> CreateCollection {
    let vectors_config = shape.dense.map(|size| VectorsConfig {
        config: Some(
            VectorParamsMap {
                map: HashMap::from([(
                    DENSE.to_string(),
                    VectorParams {
                        size: size as u64,
                        distance: Distance::Cosine as i32,
                        ..Default::default()
                    },
                )]),
            }
            .into(),
        ),
    });
    CreateCollection {
        collection_name: shape.collection.clone(),
        vectors_config,
        sparse_vectors_config: Some(SparseVectorConfig {
            map: HashMap::from([(
                SPARSE.to_string(),
                SparseVectorParams {
                    index: None,
                    modifier: Some(Modifier::Idf as i32),
                },
            )]),
        }),
        shard_number: shape.shards,
        replication_factor: shape.replication,
        write_consistency_factor: shape.write_consistency,
        on_disk_payload: Some(true),
        ..Default::default()
    }
}

/// One payload index per entry of [`PAYLOAD_INDEXES`], each acknowledged.
pub fn field_indexes(collection: &str) -> Vec<CreateFieldIndexCollection> {
    PAYLOAD_INDEXES
        .iter()
        .map(|(field, integer)| CreateFieldIndexCollection {
            collection_name: collection.to_string(),
            wait: Some(true),
            field_name: field.to_string(),
            field_type: Some(if *integer {
                FieldType::Integer
            } else {
                FieldType::Keyword
            } as i32),
            ..Default::default()
        })
        .collect()
}

/// Why an existing collection cannot hold this host's points, if it cannot.
pub fn shape_mismatch(shape: &Shape, info: &qdrant::CollectionInfo) -> Option<String> {
    let name = &shape.collection;
    let params = info.config.as_ref().and_then(|c| c.params.as_ref());
    let sparse = params
        .and_then(|p| p.sparse_vectors_config.as_ref())
        .and_then(|s| s.map.get(SPARSE));
    match sparse {
        None => {
            return Some(format!(
                "collection `{name}` has no sparse vector `{SPARSE}`"
            ));
        }
        Some(s) if s.modifier != Some(Modifier::Idf as i32) => {
            return Some(format!(
                "collection `{name}`: sparse vector `{SPARSE}` is not made with the IDF modifier"
            ));
        }
        Some(_) => {}
    }
    let held = dense_size(info);
    (held != shape.dense).then(|| {
        format!(
            "collection `{name}` holds dense vectors of size {} but the embedder makes {}; \
             use another collection (QDRANT_COLLECTION) or the embedder it was made with",
            held.map_or("none".into(), |s| s.to_string()),
            shape.dense.map_or("none".into(), |s| s.to_string()),
        )
    })
}

/// The size of the collection's dense vector `dense`, if it has one.
pub fn dense_size(info: &qdrant::CollectionInfo) -> Option<usize> {
    let params = info.config.as_ref().and_then(|c| c.params.as_ref())?;
    match params.vectors_config.as_ref()?.config.as_ref()? {
        qdrant::vectors_config::Config::ParamsMap(m) => m.map.get(DENSE).map(|v| v.size as usize),
        // An unnamed vector is not one of ours.
        qdrant::vectors_config::Config::Params(_) => None,
    }
}

fn condition(c: &Cond) -> Condition {
    let field = |key: &str, m: MatchValue| FieldCondition {
        key: key.to_string(),
        r#match: Some(qdrant::Match {
            match_value: Some(m),
        }),
        ..Default::default()
    };
    // Explicit keyword matches: `MatchValue::from(String)` turns a value with a space
    // into a full-text match, which would select other resources.
    Condition::from(match c {
        Cond::Is(key, value) => field(key, MatchValue::Keyword(value.clone())),
        Cond::AnyOf(key, values) => field(
            key,
            MatchValue::Keywords(qdrant::RepeatedStrings {
                strings: values.clone(),
            }),
        ),
        Cond::Between(key, from, to) => FieldCondition {
            key: key.to_string(),
            range: Some(Range {
                gte: from.map(|v| v as f64),
                lte: to.map(|v| v as f64),
                ..Default::default()
            }),
            ..Default::default()
        },
    })
}

/// All of the conditions.
pub fn filter(conds: &[Cond]) -> Filter {
    Filter::must(conds.iter().map(condition))
}

/// Delete every point the conditions select.
pub fn delete_op(conds: &[Cond]) -> PointsUpdateOperation {
    PointsUpdateOperation {
        operation: Some(Operation::DeletePoints(
            qdrant::points_update_operation::DeletePoints {
                points: Some(PointsSelector::from(filter(conds))),
                shard_key_selector: None,
            },
        )),
    }
}

/// Write these points (overwriting any with the same ids).
pub fn upsert_op(points: Vec<PointStruct>) -> PointsUpdateOperation {
    PointsUpdateOperation {
        operation: Some(Operation::Upsert(
            qdrant::points_update_operation::PointStructList {
                points,
                ..Default::default()
            },
        )),
    }
}

/// The write ordering of every write (`weak`, `medium` or `strong`).
pub fn ordering(name: &str) -> anyhow::Result<WriteOrdering> {
    let kind = match name {
        "weak" => qdrant::WriteOrderingType::Weak,
        "medium" => qdrant::WriteOrderingType::Medium,
        "strong" => qdrant::WriteOrderingType::Strong,
        other => anyhow::bail!("QDRANT_WRITE_ORDERING={other}: use weak, medium or strong"),
    };
    Ok(WriteOrdering {
        r#type: kind as i32,
    })
}

/// A chunk as a point: uuid id, named vectors, the payload of [`ChunkMeta`].
pub fn point(p: ChunkPoint) -> anyhow::Result<PointStruct> {
    let mut vectors: HashMap<String, qdrant::Vector> = HashMap::new();
    vectors.insert(
        SPARSE.into(),
        qdrant::Vector::new_sparse(p.sparse.indices, p.sparse.values),
    );
    if let Some(d) = p.dense {
        vectors.insert(DENSE.into(), qdrant::Vector::new_dense(d));
    }
    let payload = Payload::try_from(serde_json::to_value(&p.meta)?)?;
    Ok(PointStruct {
        id: Some(PointId::from(p.id.to_string())),
        payload: payload.into(),
        vectors: Some(qdrant::NamedVectors { vectors }.into()),
    })
}

fn nearest(vector: VectorInput, using: &str, filter: &Filter, limit: usize) -> PrefetchQuery {
    PrefetchQuery {
        query: Some(qdrant::Query::new_nearest(vector)),
        using: Some(using.into()),
        filter: Some(filter.clone()),
        limit: Some(limit as u64),
        ..Default::default()
    }
}

/// A search: BM25 alone, or BM25 and dense fused by RRF with the caller's filter inside
/// each prefetch as well as outside.
pub fn query(collection: &str, q: &Query) -> QueryPoints {
    let filter = filter(&super::query_conds(q));
    let sparse = VectorInput::new_sparse(q.sparse.indices.clone(), q.sparse.values.clone());
    let mut request = QueryPoints {
        collection_name: collection.to_string(),
        filter: Some(filter.clone()),
        limit: Some(q.limit as u64),
        with_payload: Some(true.into()),
        with_vectors: Some(false.into()),
        ..Default::default()
    };
    match &q.dense {
        None => {
            request.query = Some(qdrant::Query::new_nearest(sparse));
            request.using = Some(SPARSE.into());
        }
        Some(d) => {
            let candidates = q.limit * PREFETCH_FACTOR;
            request.prefetch = vec![
                nearest(sparse, SPARSE, &filter, candidates),
                nearest(
                    VectorInput::new_dense(d.clone()),
                    DENSE,
                    &filter,
                    candidates,
                ),
            ];
            request.query = Some(qdrant::Query::new_rrf(qdrant::Rrf {
                k: Some(RRF_K),
                weights: Vec::new(),
            }));
        }
    }
    request
}

/// A client error as the store's error: transport failures, timeouts and overload are
/// [`Unavailable`] (transient); the server's refusals say what it refused. `store` names
/// the server in messages.
pub fn classify(store: &str, e: QdrantError) -> anyhow::Error {
    use tonic::Code;
    let unavailable = |reason: String, retry_after| {
        anyhow::Error::new(Unavailable {
            store: store.to_string(),
            reason,
            retry_after,
        })
    };
    match e {
        QdrantError::ResourceExhaustedError {
            status,
            retry_after_seconds,
        } => unavailable(
            format!("overloaded: {}", status.message()),
            Some(std::time::Duration::from_secs(retry_after_seconds)),
        ),
        QdrantError::ResponseError { status } => match status.code() {
            // `qdrant-client` reports a refused connection as INTERNAL ("Failed to connect
            // to …"), and the server its own failures (storage, a node away) the same way:
            // both pass.
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Internal
            | Code::Unknown => {
                unavailable(format!("{:?}: {}", status.code(), status.message()), None)
            }
            Code::Unauthenticated | Code::PermissionDenied => anyhow::anyhow!(
                "the {store} refused the API key (QDRANT_API_KEY): {}",
                status.message()
            ),
            code => anyhow::anyhow!("the {store} answered {code:?}: {}", status.message()),
        },
        QdrantError::Io(e) => unavailable(e.to_string(), None),
        other => anyhow::anyhow!("the {store}: {other}"),
    }
}

/// A ranked point as a hit.
pub fn hit(p: ScoredPoint) -> anyhow::Result<Hit> {
    Ok(Hit {
        score: p.score,
        meta: Payload::from(p.payload).deserialize::<ChunkMeta>()?,
    })
}

/// A uuid point id.
pub fn point_uuid(id: Option<PointId>) -> anyhow::Result<uuid::Uuid> {
    match id.and_then(|i| i.point_id_options) {
        Some(qdrant::point_id::PointIdOptions::Uuid(u)) => Ok(u.parse()?),
        other => anyhow::bail!("point id {other:?} is not one of ours"),
    }
}

/// A stored point back as the chunk that was written.
pub fn exported(p: RetrievedPoint) -> anyhow::Result<ChunkPoint> {
    use qdrant::vector_output::Vector as Out;
    let id = point_uuid(p.id)?;
    let mut vectors = match p.vectors.and_then(|v| v.vectors_options) {
        Some(qdrant::vectors_output::VectorsOptions::Vectors(named)) => named.vectors,
        _ => HashMap::new(),
    };
    let sparse = match vectors.remove(SPARSE).and_then(|v| v.vector) {
        Some(Out::Sparse(s)) => Sparse {
            indices: s.indices,
            values: s.values,
        },
        None => Sparse::default(),
        Some(_) => anyhow::bail!("point {id}: `{SPARSE}` is not a sparse vector"),
    };
    let dense = match vectors.remove(DENSE).and_then(|v| v.vector) {
        Some(Out::Dense(d)) => Some(d.data),
        None => None,
        Some(_) => anyhow::bail!("point {id}: `{DENSE}` is not a dense vector"),
    };
    Ok(ChunkPoint {
        id,
        sparse,
        dense,
        meta: Payload::from(p.payload).deserialize::<ChunkMeta>()?,
    })
}

/// Keyword values of a facet answer.
pub fn facet_keywords(hits: Vec<qdrant::FacetHit>) -> impl Iterator<Item = String> {
    hits.into_iter().filter_map(|h| match h.value?.variant? {
        qdrant::facet_value::Variant::StringValue(s) => Some(s),
        _ => None,
    })
}

#[cfg(test)]
#[path = "server_req_tests.rs"]
mod tests;
