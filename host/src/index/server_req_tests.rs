//! The translation of store operations into `qdrant-client` requests, without a server.

use qdrant_client::qdrant::{
    self, CollectionConfig, CollectionInfo, CollectionParams, condition::ConditionOneOf,
    r#match::MatchValue,
};

use super::*;

/// The standard fusion, for comparison in tests.
pub fn is_rrf(q: &qdrant::Query) -> Option<Option<u32>> {
    match &q.variant {
        Some(qdrant::query::Variant::Rrf(r)) => Some(r.k),
        Some(qdrant::query::Variant::Fusion(f)) if *f == qdrant::Fusion::Rrf as i32 => Some(None),
        _ => None,
    }
}

fn meta(text: Option<&str>) -> ChunkMeta {
    ChunkMeta {
        owner: "user:u1".into(),
        owner_kind: "user".into(),
        owner_id: "u1".into(),
        integration_id: "i1".into(),
        provider: "substack".into(),
        external_id: "post 7".into(),
        kind: "document".into(),
        title: "A title".into(),
        url: Some("https://x.test/p/7".into()),
        author: None,
        chunk_index: 2,
        chunk_offset: 1_234,
        created_at: Some(1_700_000_000_000),
        updated_at: Some(1_700_000_100_000),
        indexed_at: 1_700_000_200_000,
        text: text.map(Into::into),
    }
}

fn chunk(dense: Option<Vec<f32>>, text: Option<&str>) -> ChunkPoint {
    ChunkPoint {
        id: ChunkPoint::id_for("i1", "post 7", 2),
        sparse: Sparse {
            indices: vec![3, 90_001],
            values: vec![1.0, 2.0],
        },
        dense,
        meta: meta(text),
    }
}

/// The field conditions of a filter's `must`, as (key, match, range).
fn musts(f: &Filter) -> Vec<(String, Option<MatchValue>, Option<Range>)> {
    f.must
        .iter()
        .map(|c| match &c.condition_one_of {
            Some(ConditionOneOf::Field(fc)) => (
                fc.key.clone(),
                fc.r#match.clone().and_then(|m| m.match_value),
                fc.range,
            ),
            other => panic!("not a field condition: {other:?}"),
        })
        .collect()
}

fn keywords(v: &[&str]) -> Option<MatchValue> {
    Some(MatchValue::Keywords(qdrant::RepeatedStrings {
        strings: v.iter().map(|s| s.to_string()).collect(),
    }))
}

fn query_of(dense: Option<Vec<f32>>) -> Query {
    Query {
        owners: vec!["user:u1".into(), "org:o1".into()],
        sparse: Sparse {
            indices: vec![5],
            values: vec![1.0],
        },
        dense,
        provider: Some("substack".into()),
        integration_id: Some("my integration".into()),
        updated_from: Some(10),
        updated_to: None,
        limit: 7,
    }
}

#[test]
fn works_when_a_query_is_bm25_alone_with_the_owner_filter() {
    let mut q = query_of(None);
    q.provider = None;
    q.integration_id = None;
    q.updated_from = None;
    let r = query("c", &q);
    assert_eq!(r.collection_name, "c");
    assert_eq!(r.using.as_deref(), Some(SPARSE));
    assert!(r.prefetch.is_empty());
    assert_eq!(r.limit, Some(7));
    assert_eq!(r.with_payload, Some(true.into()));
    let Some(qdrant::query::Variant::Nearest(input)) = r.query.unwrap().variant else {
        panic!("a nearest query");
    };
    assert_eq!(input, VectorInput::new_sparse(vec![5u32], vec![1.0f32]));
    assert_eq!(
        musts(r.filter.as_ref().unwrap()),
        vec![("owner".into(), keywords(&["user:u1", "org:o1"]), None)]
    );
}

#[test]
fn works_when_a_query_is_hybrid_with_ownership_inside_each_prefetch() {
    let r = query("c", &query_of(Some(vec![0.5, 0.5])));
    let outer = r.filter.clone().unwrap();
    let expected = vec![
        ("owner".to_string(), keywords(&["user:u1", "org:o1"]), None),
        (
            "provider".into(),
            Some(MatchValue::Keyword("substack".into())),
            None,
        ),
        // A value with a space stays a keyword match, not a full-text one.
        (
            "integration_id".into(),
            Some(MatchValue::Keyword("my integration".into())),
            None,
        ),
        (
            "updated_at".into(),
            None,
            Some(Range {
                gte: Some(10.0),
                ..Default::default()
            }),
        ),
    ];
    assert_eq!(musts(&outer), expected);
    assert_eq!(r.prefetch.len(), 2);
    for (p, using) in r.prefetch.iter().zip([SPARSE, DENSE]) {
        assert_eq!(p.using.as_deref(), Some(using));
        assert_eq!(
            p.filter.as_ref(),
            Some(&outer),
            "ownership inside the prefetch"
        );
        assert_eq!(p.limit, Some(7 * PREFETCH_FACTOR as u64));
    }
    let Some(qdrant::query::Variant::Nearest(dense)) = r.prefetch[1].query.clone().unwrap().variant
    else {
        panic!("a nearest dense prefetch");
    };
    assert_eq!(dense, VectorInput::new_dense(vec![0.5f32, 0.5]));
    assert_eq!(is_rrf(r.query.as_ref().unwrap()), Some(Some(RRF_K)));
    assert_eq!(r.using, None);
}

#[test]
fn works_when_resources_are_replaced_delete_first() {
    let del = delete_op(&crate::index::resources_conds(
        "i1",
        &["a b".into(), "c".into()],
    ));
    let Some(Operation::DeletePoints(d)) = del.operation else {
        panic!("a delete");
    };
    let Some(qdrant::points_selector::PointsSelectorOneOf::Filter(f)) =
        d.points.unwrap().points_selector_one_of
    else {
        panic!("a filter selector");
    };
    assert_eq!(
        musts(&f),
        vec![
            (
                "integration_id".into(),
                Some(MatchValue::Keyword("i1".into())),
                None
            ),
            ("external_id".into(), keywords(&["a b", "c"]), None),
        ]
    );
    let up = upsert_op(vec![point(chunk(None, Some("t"))).unwrap()]);
    let Some(Operation::Upsert(list)) = up.operation else {
        panic!("an upsert");
    };
    assert_eq!(list.points.len(), 1);
}

#[test]
fn works_when_a_point_keeps_ids_vectors_and_payload_through_a_round_trip() {
    for (dense, text) in [(Some(vec![0.6f32, 0.8]), Some("the text")), (None, None)] {
        let original = chunk(dense.clone(), text);
        let p = point(original.clone()).unwrap();
        assert_eq!(
            p.id,
            Some(PointId::from(original.id.to_string())),
            "uuid ids, as the embedded store"
        );
        // METADATA_ONLY points carry no text at all.
        assert_eq!(p.payload.contains_key("text"), text.is_some());
        assert_eq!(p.payload["owner"], qdrant::Value::from("user:u1"));
        assert_eq!(p.payload["chunk_offset"], qdrant::Value::from(1_234i64));
        let Some(qdrant::vectors::VectorsOptions::Vectors(named)) =
            p.vectors.clone().unwrap().vectors_options
        else {
            panic!("named vectors");
        };
        assert_eq!(named.vectors.contains_key(DENSE), dense.is_some());
        // What the server sends back for it.
        let out = |v: &qdrant::Vector| qdrant::VectorOutput {
            vector: Some(match v.vector.clone().unwrap() {
                qdrant::vector::Vector::Dense(d) => qdrant::vector_output::Vector::Dense(d),
                qdrant::vector::Vector::Sparse(s) => qdrant::vector_output::Vector::Sparse(s),
                other => panic!("{other:?}"),
            }),
            ..Default::default()
        };
        let retrieved = qdrant::RetrievedPoint {
            id: p.id.clone(),
            payload: p.payload.clone(),
            vectors: Some(qdrant::VectorsOutput {
                vectors_options: Some(qdrant::vectors_output::VectorsOptions::Vectors(
                    qdrant::NamedVectorsOutput {
                        vectors: named
                            .vectors
                            .iter()
                            .map(|(k, v)| (k.clone(), out(v)))
                            .collect(),
                    },
                )),
            }),
            ..Default::default()
        };
        let back = exported(retrieved).unwrap();
        assert_eq!(back.id, original.id);
        assert_eq!(back.sparse, original.sparse);
        assert_eq!(back.dense, original.dense);
        assert_eq!(back.meta, original.meta);
        let h = hit(qdrant::ScoredPoint {
            id: p.id,
            payload: p.payload,
            score: 0.25,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((h.score, h.meta), (0.25, original.meta));
    }
}

#[test]
fn errors_when_a_point_id_is_not_a_uuid() {
    assert!(point_uuid(Some(PointId::from(7u64))).is_err());
    assert!(point_uuid(None).is_err());
}

fn shape(dense: Option<usize>) -> Shape {
    Shape {
        collection: "c".into(),
        dense,
        shards: Some(6),
        replication: Some(2),
        write_consistency: None,
    }
}

fn info_of(c: &CreateCollection) -> CollectionInfo {
    CollectionInfo {
        config: Some(CollectionConfig {
            params: Some(CollectionParams {
                vectors_config: c.vectors_config.clone(),
                sparse_vectors_config: c.sparse_vectors_config.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn works_when_the_collection_is_made_as_the_embedded_store() {
    let c = create_collection(&shape(Some(384)));
    assert_eq!(c.collection_name, "c");
    assert_eq!((c.shard_number, c.replication_factor), (Some(6), Some(2)));
    assert_eq!(c.on_disk_payload, Some(true));
    let sparse = &c.sparse_vectors_config.as_ref().unwrap().map[SPARSE];
    assert_eq!(sparse.modifier, Some(Modifier::Idf as i32));
    let Some(qdrant::vectors_config::Config::ParamsMap(m)) =
        c.vectors_config.as_ref().unwrap().config.clone()
    else {
        panic!("named dense vectors");
    };
    assert_eq!(m.map[DENSE].size, 384);
    assert_eq!(m.map[DENSE].distance, Distance::Cosine as i32);
    assert_eq!(shape_mismatch(&shape(Some(384)), &info_of(&c)), None);
    assert_eq!(dense_size(&info_of(&c)), Some(384));
    let bm25_only = create_collection(&shape(None));
    assert!(bm25_only.vectors_config.is_none());
    assert_eq!(shape_mismatch(&shape(None), &info_of(&bm25_only)), None);
    let indexes = field_indexes("c");
    assert_eq!(indexes.len(), PAYLOAD_INDEXES.len());
    assert!(indexes.iter().all(|i| i.wait == Some(true)));
    let owner = indexes.iter().find(|i| i.field_name == "owner").unwrap();
    assert_eq!(owner.field_type, Some(FieldType::Keyword as i32));
    let updated = indexes
        .iter()
        .find(|i| i.field_name == "updated_at")
        .unwrap();
    assert_eq!(updated.field_type, Some(FieldType::Integer as i32));
}

#[test]
fn errors_when_the_collection_does_not_match_the_embedder() {
    let made = info_of(&create_collection(&shape(Some(384))));
    let why = shape_mismatch(&shape(Some(768)), &made).unwrap();
    assert!(
        why.contains("size 384") && why.contains("makes 768"),
        "{why}"
    );
    let why = shape_mismatch(&shape(None), &made).unwrap();
    assert!(why.contains("makes none"), "{why}");
    let mut no_idf = create_collection(&shape(None));
    no_idf
        .sparse_vectors_config
        .as_mut()
        .unwrap()
        .map
        .get_mut(SPARSE)
        .unwrap()
        .modifier = None;
    let why = shape_mismatch(&shape(None), &info_of(&no_idf)).unwrap();
    assert!(why.contains("IDF"), "{why}");
    let why = shape_mismatch(&shape(None), &CollectionInfo::default()).unwrap();
    assert!(why.contains("no sparse vector"), "{why}");
}

#[test]
fn errors_when_the_write_ordering_is_unknown() {
    assert_eq!(
        ordering("strong").unwrap().r#type,
        qdrant::WriteOrderingType::Strong as i32
    );
    assert!(
        ordering("eventual")
            .unwrap_err()
            .to_string()
            .contains("weak, medium or strong")
    );
}

#[test]
fn works_when_outages_are_transient_and_refusals_are_not() {
    let status = |code, msg: &str| QdrantError::ResponseError {
        status: tonic::Status::new(code, msg),
    };
    for code in [
        tonic::Code::Unavailable,
        tonic::Code::DeadlineExceeded,
        tonic::Code::Cancelled,
        // What the client says when the connection is refused.
        tonic::Code::Internal,
    ] {
        let e = classify(
            "Qdrant server at http://q:6334",
            status(code, "transport error"),
        );
        let down = e.downcast_ref::<Unavailable>().expect("transient");
        assert!(down.to_string().contains("http://q:6334"), "{down}");
    }
    let e = classify(
        "s",
        QdrantError::ResourceExhaustedError {
            status: tonic::Status::resource_exhausted("busy"),
            retry_after_seconds: 7,
        },
    );
    let down = e.downcast_ref::<Unavailable>().unwrap();
    assert_eq!(down.retry_after, Some(std::time::Duration::from_secs(7)));
    let e = classify("s", status(tonic::Code::Unauthenticated, "Invalid api-key"));
    assert!(e.downcast_ref::<Unavailable>().is_none());
    assert!(e.to_string().contains("QDRANT_API_KEY"), "{e}");
    let e = classify(
        "s",
        status(tonic::Code::InvalidArgument, "Wrong input: bad vector"),
    );
    assert!(e.downcast_ref::<Unavailable>().is_none());
    assert!(e.to_string().contains("Wrong input: bad vector"), "{e}");
}

#[test]
fn works_when_the_settings_are_printed_without_secrets() {
    let mut c = crate::index::ServerConfig::new("https://user:pw@q.example:6334/x?k=v", "c");
    c.api_key = Some("sekrit-key".into());
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("sekrit") && !shown.contains("pw"),
        "{shown}"
    );
    assert!(shown.contains("https://q.example:6334"), "{shown}");
}
