//! The embedded backend's requests: the store's conditions, vectors and points in
//! `qdrant-edge`'s types, and stored records back as chunks.

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, FieldCondition, Filter, JsonPath, Match, NamedQuery, PointId, PointStruct,
    QueryEnum, Range, Record, ScoringQuery, ValueVariants, Vector, VectorInternal,
    VectorStructInternal, Vectors,
};

use super::{ChunkPoint, Cond, DENSE, SPARSE, Sparse};

/// A payload key as the engine's path.
pub fn path(field: &str) -> JsonPath {
    // Only the fixed payload keys of `ChunkMeta` reach here.
    JsonPath::try_from(field).expect("a valid payload key")
}

fn condition(c: &Cond) -> Condition {
    Condition::Field(match c {
        Cond::Is(field, value) => FieldCondition::new_match(
            path(field),
            Match::new_value(ValueVariants::String(value.clone())),
        ),
        Cond::AnyOf(field, values) => {
            FieldCondition::new_match(path(field), Match::from(values.clone()))
        }
        Cond::Between(field, from, to) => FieldCondition::new_range(
            path(field),
            Range {
                gte: from.map(|v| OrderedFloat(v as f64)),
                lte: to.map(|v| OrderedFloat(v as f64)),
                lt: None,
                gt: None,
            },
        ),
    })
}

/// All of the conditions.
pub fn filter(conds: &[Cond]) -> Filter {
    Filter {
        must: Some(conds.iter().map(condition).collect()),
        ..Default::default()
    }
}

/// A nearest-neighbour query on the named vector.
pub fn nearest(vector: VectorInternal, using: &str) -> Option<ScoringQuery> {
    Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
        query: vector,
        using: Some(using.into()),
    })))
}

/// A sparse vector in the engine's type.
pub fn sparse(s: &Sparse) -> anyhow::Result<VectorInternal> {
    Ok(Vector::new_sparse(s.indices.clone(), s.values.clone())?.0)
}

/// A chunk as the engine's point (uuid id, named vectors, payload).
pub fn point(p: ChunkPoint) -> anyhow::Result<PointStruct> {
    let mut vectors = vec![(SPARSE, Vector(sparse(&p.sparse)?))];
    if let Some(d) = p.dense {
        vectors.push((DENSE, Vector::new_dense(d)));
    }
    // qdrant-edge has its own copy of the uuid crate.
    Ok(PointStruct::new(
        edge_id(p.id),
        Vectors::new_named(vectors),
        serde_json::to_value(&p.meta)?,
    ))
}

/// A uuid as the engine's point id.
pub fn edge_id(id: uuid::Uuid) -> PointId {
    PointId::Uuid(qdrant_edge::external::uuid::Uuid::from_bytes(
        id.into_bytes(),
    ))
}

/// A stored record back as the point that was written.
pub fn exported(record: Record) -> anyhow::Result<ChunkPoint> {
    let id = match record.id {
        PointId::Uuid(u) => uuid::Uuid::from_bytes(u.into_bytes()),
        PointId::NumId(n) => anyhow::bail!("point {n} is not one of ours"),
    };
    let mut vectors = match record.vector {
        Some(VectorStructInternal::Named(v)) => v,
        _ => anyhow::bail!("point {id} has no named vectors"),
    };
    let sparse = match vectors.remove(SPARSE) {
        Some(VectorInternal::Sparse(s)) => Sparse {
            indices: s.indices,
            values: s.values,
        },
        // A chunk whose text has no indexable words has an empty sparse vector, which
        // the shard does not keep.
        None => Sparse::default(),
        Some(_) => anyhow::bail!("point {id}: `{SPARSE}` is not a sparse vector"),
    };
    let dense = match vectors.remove(DENSE) {
        Some(VectorInternal::Dense(d)) => Some(d),
        None => None,
        Some(_) => anyhow::bail!("point {id}: `{DENSE}` is not a dense vector"),
    };
    let payload = record.payload.map(|p| p.0).unwrap_or_default();
    Ok(ChunkPoint {
        id,
        sparse,
        dense,
        meta: serde_json::from_value(payload.into())?,
    })
}
