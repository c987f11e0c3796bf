//! The fake Qdrant server's conversions between the gRPC messages (`qdrant-client`'s
//! types, as on the wire) and the engine's own types (`qdrant-edge`, the segment code the
//! real server runs). Only what a Qdrant server accepts is accepted; what Tributary never
//! sends is refused as unsupported, so a change in what the backend sends shows here.

// tonic's service methods answer `Result<_, Status>`; the helpers speak the same.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use qdrant_client::qdrant as g;
use qdrant_edge as e;
use qdrant_edge::external::ordered_float::OrderedFloat;
use tonic::Status;

pub type Res<T> = Result<T, Status>;

fn unsupported(what: &str) -> Status {
    Status::unimplemented(format!("the fake Qdrant does not support {what}"))
}

pub fn wrong_input(msg: impl std::fmt::Display) -> Status {
    // Qdrant's own wording for a refused request.
    Status::invalid_argument(format!("Wrong input: {msg}"))
}

fn path(key: &str) -> Res<e::JsonPath> {
    e::JsonPath::try_from(key).map_err(|_| wrong_input(format!("bad key {key}")))
}

pub fn id(id: Option<g::PointId>) -> Res<e::PointId> {
    match id.and_then(|i| i.point_id_options) {
        Some(g::point_id::PointIdOptions::Uuid(u)) => u
            .parse::<qdrant_edge::external::uuid::Uuid>()
            .map(e::PointId::Uuid)
            .map_err(|_| wrong_input(format!("Unable to parse UUID: {u}"))),
        Some(g::point_id::PointIdOptions::Num(n)) => Ok(e::PointId::NumId(n)),
        None => Err(wrong_input("missing point id")),
    }
}

pub fn id_out(id: e::PointId) -> g::PointId {
    match id {
        e::PointId::Uuid(u) => g::PointId::from(u.to_string()),
        e::PointId::NumId(n) => g::PointId::from(n),
    }
}

fn condition(c: g::Condition) -> Res<e::Condition> {
    let Some(g::condition::ConditionOneOf::Field(f)) = c.condition_one_of else {
        return Err(unsupported("conditions other than field conditions"));
    };
    let key = path(&f.key)?;
    if let Some(m) = f.r#match.and_then(|m| m.match_value) {
        let m = match m {
            g::r#match::MatchValue::Keyword(k) => e::Match::new_value(e::ValueVariants::String(k)),
            g::r#match::MatchValue::Keywords(k) => e::Match::from(k.strings),
            g::r#match::MatchValue::Integer(i) => e::Match::new_value(e::ValueVariants::Integer(i)),
            _ => return Err(unsupported("this match")),
        };
        return Ok(e::Condition::Field(e::FieldCondition::new_match(key, m)));
    }
    if let Some(r) = f.range {
        let of = |v: Option<f64>| v.map(OrderedFloat);
        return Ok(e::Condition::Field(e::FieldCondition::new_range(
            key,
            e::Range {
                lt: of(r.lt),
                gt: of(r.gt),
                gte: of(r.gte),
                lte: of(r.lte),
            },
        )));
    }
    Err(unsupported("a field condition without match or range"))
}

pub fn filter(f: Option<g::Filter>) -> Res<Option<e::Filter>> {
    let Some(f) = f else { return Ok(None) };
    if !f.should.is_empty() || !f.must_not.is_empty() || f.min_should.is_some() {
        return Err(unsupported("should / must_not"));
    }
    let must = f.must.into_iter().map(condition).collect::<Res<Vec<_>>>()?;
    Ok(Some(e::Filter {
        must: Some(must),
        ..Default::default()
    }))
}

/// A written vector, in the current (`vector`) or the deprecated (`data`/`indices`) form.
#[allow(deprecated)]
fn vector(v: g::Vector) -> Res<e::Vector> {
    match v.vector {
        Some(g::vector::Vector::Dense(d)) => Ok(e::Vector::new_dense(d.data)),
        Some(g::vector::Vector::Sparse(s)) => {
            e::Vector::new_sparse(s.indices, s.values).map_err(|err| wrong_input(format!("{err}")))
        }
        Some(_) => Err(unsupported("this vector kind")),
        None => match v.indices {
            Some(i) => {
                e::Vector::new_sparse(i.data, v.data).map_err(|err| wrong_input(format!("{err}")))
            }
            None => Ok(e::Vector::new_dense(v.data)),
        },
    }
}

/// Checks a point against the collection's vectors as the server does, then converts it.
pub fn point(p: g::PointStruct, dense: Option<usize>, sparse: &str) -> Res<e::PointStruct> {
    let pid = id(p.id.clone())?;
    let Some(g::vectors::VectorsOptions::Vectors(named)) =
        p.vectors.and_then(|v| v.vectors_options)
    else {
        return Err(wrong_input("a point without named vectors"));
    };
    let mut vectors = Vec::new();
    for (name, v) in named.vectors {
        if name == sparse {
            vectors.push((name, vector(v)?));
        } else if name == "dense" && dense.is_some() {
            let v = vector(v)?;
            let len = match &v.0 {
                e::VectorInternal::Dense(d) => d.len(),
                _ => return Err(wrong_input("`dense` is a dense vector")),
            };
            if Some(len) != dense {
                return Err(wrong_input(format!(
                    "Vector dimension error: expected dim: {}, got {len}",
                    dense.unwrap_or_default()
                )));
            }
            vectors.push((name, v));
        } else {
            return Err(wrong_input(format!(
                "Not existing vector name error: {name}"
            )));
        }
    }
    let payload = serde_json::to_value(&p.payload).map_err(wrong_input)?;
    let names: Vec<(&str, e::Vector)> = vectors
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    Ok(e::PointStruct::new(
        pid,
        e::Vectors::new_named(names),
        payload,
    ))
}

fn query_vector(v: g::VectorInput) -> Res<e::VectorInternal> {
    match v.variant {
        Some(g::vector_input::Variant::Dense(d)) => Ok(e::VectorInternal::from(d.data)),
        Some(g::vector_input::Variant::Sparse(s)) => Ok(e::Vector::new_sparse(s.indices, s.values)
            .map_err(|err| wrong_input(format!("{err}")))?
            .0),
        _ => Err(unsupported("this query input")),
    }
}

fn scoring(q: Option<g::Query>, using: Option<String>) -> Res<Option<e::ScoringQuery>> {
    let Some(variant) = q.and_then(|q| q.variant) else {
        return Ok(None);
    };
    Ok(Some(match variant {
        g::query::Variant::Nearest(v) => {
            e::ScoringQuery::Vector(e::QueryEnum::Nearest(e::NamedQuery {
                query: query_vector(v)?,
                using,
            }))
        }
        g::query::Variant::Rrf(r) => e::ScoringQuery::Fusion(e::Fusion::Rrf {
            k: r.k.unwrap_or(60) as usize,
            weights: (!r.weights.is_empty())
                .then(|| r.weights.into_iter().map(OrderedFloat).collect()),
        }),
        g::query::Variant::Fusion(f) if f == g::Fusion::Rrf as i32 => {
            e::ScoringQuery::Fusion(e::Fusion::Rrf {
                k: 60,
                weights: None,
            })
        }
        _ => return Err(unsupported("this query")),
    }))
}

fn prefetch(p: g::PrefetchQuery) -> Res<e::Prefetch> {
    Ok(e::Prefetch {
        prefetches: p.prefetch.into_iter().map(prefetch).collect::<Res<_>>()?,
        query: scoring(p.query, p.using)?,
        // Qdrant's default limit.
        limit: p.limit.unwrap_or(10) as usize,
        params: None,
        filter: filter(p.filter)?,
        score_threshold: p.score_threshold.map(OrderedFloat),
    })
}

fn with_payload(s: Option<g::WithPayloadSelector>) -> Res<e::WithPayloadInterface> {
    match s.and_then(|s| s.selector_options) {
        None => Ok(e::WithPayloadInterface::Bool(false)),
        Some(g::with_payload_selector::SelectorOptions::Enable(b)) => {
            Ok(e::WithPayloadInterface::Bool(b))
        }
        Some(g::with_payload_selector::SelectorOptions::Include(i)) => Ok(
            e::WithPayloadInterface::Fields(i.fields.iter().map(|f| path(f)).collect::<Res<_>>()?),
        ),
        Some(_) => Err(unsupported("payload exclusion")),
    }
}

fn with_vectors(s: Option<g::WithVectorsSelector>) -> Res<bool> {
    match s.and_then(|s| s.selector_options) {
        None => Ok(false),
        Some(g::with_vectors_selector::SelectorOptions::Enable(b)) => Ok(b),
        Some(_) => Err(unsupported("vector selectors")),
    }
}

pub fn query(r: g::QueryPoints) -> Res<e::QueryRequest> {
    if r.offset.unwrap_or(0) != 0 || r.lookup_from.is_some() {
        return Err(unsupported("offset / lookup_from"));
    }
    Ok(e::QueryRequest {
        prefetches: r.prefetch.into_iter().map(prefetch).collect::<Res<_>>()?,
        query: scoring(r.query, r.using)?,
        filter: filter(r.filter)?,
        score_threshold: r.score_threshold.map(OrderedFloat),
        limit: r.limit.unwrap_or(10) as usize,
        offset: 0,
        params: None,
        with_vector: e::WithVector::Bool(with_vectors(r.with_vectors)?),
        with_payload: with_payload(r.with_payload)?,
    })
}

pub fn scroll(r: g::ScrollPoints) -> Res<e::ScrollRequest> {
    if r.order_by.is_some() {
        return Err(unsupported("order_by"));
    }
    Ok(e::ScrollRequest {
        offset: r.offset.map(|o| id(Some(o))).transpose()?,
        limit: Some(r.limit.unwrap_or(10) as usize),
        filter: filter(r.filter)?,
        // Qdrant sends payloads unless told otherwise, vectors only when asked.
        with_payload: Some(match r.with_payload {
            None => e::WithPayloadInterface::Bool(true),
            some => with_payload(some)?,
        }),
        with_vector: e::WithVector::Bool(with_vectors(r.with_vectors)?),
        order_by: None,
    })
}

pub fn payload_out(p: Option<e::Payload>) -> HashMap<String, g::Value> {
    let json = serde_json::Value::Object(p.map(|p| p.0).unwrap_or_default());
    match g::Value::from(json).kind {
        Some(g::value::Kind::StructValue(s)) => s.fields,
        _ => HashMap::new(),
    }
}

pub fn vectors_out(v: Option<e::VectorStructInternal>) -> Option<g::VectorsOutput> {
    let Some(e::VectorStructInternal::Named(named)) = v else {
        return None;
    };
    let vectors = named
        .into_iter()
        .filter_map(|(name, v)| {
            let out = match v {
                e::VectorInternal::Dense(d) => {
                    g::vector_output::Vector::Dense(g::DenseVector { data: d })
                }
                e::VectorInternal::Sparse(s) => g::vector_output::Vector::Sparse(g::SparseVector {
                    values: s.values,
                    indices: s.indices,
                }),
                e::VectorInternal::MultiDense(_) => return None,
            };
            Some((
                name.to_string(),
                g::VectorOutput {
                    vector: Some(out),
                    ..Default::default()
                },
            ))
        })
        .collect();
    Some(g::VectorsOutput {
        vectors_options: Some(g::vectors_output::VectorsOptions::Vectors(
            g::NamedVectorsOutput { vectors },
        )),
    })
}
