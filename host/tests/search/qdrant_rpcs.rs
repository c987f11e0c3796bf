//! The fake Qdrant's collection and point services: what the server backend calls is
//! answered from the engine; everything else is `UNIMPLEMENTED`, so a new call the
//! backend starts making fails here first.

// tonic's service methods answer `Result<_, Status>`; the helpers speak the same.
#![allow(clippy::result_large_err)]

use qdrant_client::qdrant as g;
use qdrant_client::qdrant::collections_server::Collections;
use qdrant_client::qdrant::points_server::Points;
use qdrant_edge as e;
use tonic::{Request, Response, Status};

use super::qdrant_conv::{self as conv, Res, wrong_input};
use super::qdrant_fake::Svc;

/// An impl of a generated service trait with the listed methods answering
/// `UNIMPLEMENTED` (the traits have no default methods).
macro_rules! service {
    (impl $tr:ident { $($body:tt)* } unimplemented { $($name:ident($req:ident) -> $resp:ident;)* }) => {
        #[tonic::async_trait]
        impl $tr for Svc {
            $($body)*
            $(
                async fn $name(&self, _: Request<g::$req>) -> Res<Response<g::$resp>> {
                    Err(Status::unimplemented(concat!(
                        "the fake Qdrant does not serve ",
                        stringify!($name)
                    )))
                }
            )*
        }
    };
}

service! {
impl Collections {
    async fn get(
        &self,
        req: Request<g::GetCollectionInfoRequest>,
    ) -> Res<Response<g::GetCollectionInfoResponse>> {
        self.gate(&req).await?;
        let c = self.collection(&req.get_ref().collection_name)?;
        let points = c.read(|s| s.count(e::CountRequest { filter: None, exact: true }))?;
        let mut info = c.info.lock().clone();
        info.points_count = Some(points as u64);
        Ok(Response::new(g::GetCollectionInfoResponse { result: Some(info), time: 0.0 }))
    }

    async fn create(
        &self,
        req: Request<g::CreateCollection>,
    ) -> Res<Response<g::CollectionOperationResponse>> {
        self.gate(&req).await?;
        self.make_collection(req.into_inner())?;
        Ok(Response::new(g::CollectionOperationResponse { result: true, time: 0.0 }))
    }

    async fn delete(
        &self,
        req: Request<g::DeleteCollection>,
    ) -> Res<Response<g::CollectionOperationResponse>> {
        self.gate(&req).await?;
        let result = self.remove(&req.get_ref().collection_name);
        Ok(Response::new(g::CollectionOperationResponse { result, time: 0.0 }))
    }

    async fn collection_exists(
        &self,
        req: Request<g::CollectionExistsRequest>,
    ) -> Res<Response<g::CollectionExistsResponse>> {
        self.gate(&req).await?;
        let exists = self.collection(&req.get_ref().collection_name).is_ok();
        Ok(Response::new(g::CollectionExistsResponse {
            result: Some(g::CollectionExists { exists }),
            time: 0.0,
        }))
    }
}
unimplemented {
    list(ListCollectionsRequest) -> ListCollectionsResponse;
    update(UpdateCollection) -> CollectionOperationResponse;
    update_aliases(ChangeAliases) -> CollectionOperationResponse;
    list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
    list_aliases(ListAliasesRequest) -> ListAliasesResponse;
    collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
    update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
    create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
    delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
    list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
}
}

service! {
impl Points {
    async fn create_field_index(
        &self,
        req: Request<g::CreateFieldIndexCollection>,
    ) -> Res<Response<g::PointsOperationResponse>> {
        self.gate(&req).await?;
        let r = req.into_inner();
        let c = self.collection(&r.collection_name)?;
        let (kind, data_type) = match g::FieldType::try_from(r.field_type.unwrap_or_default()) {
            Ok(g::FieldType::Keyword) => (e::PayloadSchemaType::Keyword, g::PayloadSchemaType::Keyword),
            Ok(g::FieldType::Integer) => (e::PayloadSchemaType::Integer, g::PayloadSchemaType::Integer),
            _ => return Err(Status::unimplemented("the fake Qdrant indexes keywords and integers")),
        };
        let field = e::JsonPath::try_from(r.field_name.as_str())
            .map_err(|_| wrong_input("bad field name"))?;
        c.write(|s| {
            s.update(e::UpdateOperation::FieldIndexOperation(
                e::FieldIndexOperations::CreateIndex(e::CreateIndex {
                    field_name: field,
                    field_schema: Some(e::PayloadFieldSchema::FieldType(kind)),
                }),
            ))
        })?;
        c.info.lock().payload_schema.insert(
            r.field_name,
            g::PayloadSchemaInfo { data_type: data_type as i32, params: None, points: None },
        );
        Ok(Response::new(g::PointsOperationResponse { result: Some(self.done()), time: 0.0, usage: None }))
    }

    async fn update_batch(
        &self,
        req: Request<g::UpdateBatchPoints>,
    ) -> Res<Response<g::UpdateBatchResponse>> {
        self.gate(&req).await?;
        let r = req.into_inner();
        let c = self.collection(&r.collection_name)?;
        let mut result = Vec::new();
        for op in r.operations {
            self.apply(&c, op)?;
            let mut done = self.done();
            if r.wait != Some(true) {
                // Without `wait` the server answers before applying.
                self.unacknowledged();
                done.status = g::UpdateStatus::Acknowledged as i32;
            }
            result.push(done);
        }
        Ok(Response::new(g::UpdateBatchResponse { result, time: 0.0, usage: None }))
    }

    async fn query(&self, req: Request<g::QueryPoints>) -> Res<Response<g::QueryResponse>> {
        self.gate(&req).await?;
        let r = req.into_inner();
        let c = self.collection(&r.collection_name)?;
        let request = conv::query(r)?;
        let points = c.read(|s| s.query(request))?;
        let result = points
            .into_iter()
            .map(|p| g::ScoredPoint {
                id: Some(conv::id_out(p.id)),
                payload: conv::payload_out(p.payload),
                score: p.score,
                version: p.version,
                vectors: conv::vectors_out(p.vector),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(g::QueryResponse { result, time: 0.0, usage: None }))
    }

    async fn scroll(&self, req: Request<g::ScrollPoints>) -> Res<Response<g::ScrollResponse>> {
        self.gate(&req).await?;
        let r = req.into_inner();
        let c = self.collection(&r.collection_name)?;
        let request = conv::scroll(r)?;
        let (records, next) = c.read(|s| s.scroll(request))?;
        let result = records
            .into_iter()
            .map(|p| g::RetrievedPoint {
                id: Some(conv::id_out(p.id)),
                payload: conv::payload_out(p.payload),
                vectors: conv::vectors_out(p.vector),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(g::ScrollResponse {
            next_page_offset: next.map(conv::id_out),
            result,
            time: 0.0,
            usage: None,
        }))
    }

    async fn count(&self, req: Request<g::CountPoints>) -> Res<Response<g::CountResponse>> {
        self.gate(&req).await?;
        let r = req.into_inner();
        let c = self.collection(&r.collection_name)?;
        let filter = conv::filter(r.filter)?;
        let exact = r.exact.unwrap_or(true);
        let count = c.read(|s| s.count(e::CountRequest { filter, exact }))?;
        Ok(Response::new(g::CountResponse {
            result: Some(g::CountResult { count: count as u64 }),
            time: 0.0,
            usage: None,
        }))
    }

    async fn facet(&self, req: Request<g::FacetCounts>) -> Res<Response<g::FacetResponse>> {
        self.gate(&req).await?;
        let r = req.into_inner();
        let c = self.collection(&r.collection_name)?;
        if !c.info.lock().payload_schema.contains_key(&r.key) {
            // Qdrant facets only over indexed keys.
            return Err(Status::invalid_argument(format!(
                "Bad request: Index required but not found for \"{}\"",
                r.key
            )));
        }
        let request = e::FacetRequest {
            key: e::JsonPath::try_from(r.key.as_str()).map_err(|_| wrong_input("bad key"))?,
            limit: r.limit.unwrap_or(10) as usize,
            filter: conv::filter(r.filter)?,
            exact: r.exact.unwrap_or(false),
        };
        let answer = c.read(|s| s.facet(request))?;
        let hits = answer
            .hits
            .into_iter()
            .filter_map(|h| match h.value {
                e::FacetValue::Keyword(k) => Some(g::FacetHit {
                    value: Some(g::FacetValue {
                        variant: Some(g::facet_value::Variant::StringValue(k)),
                    }),
                    count: h.count as u64,
                }),
                _ => None,
            })
            .collect();
        Ok(Response::new(g::FacetResponse { hits, time: 0.0, usage: None }))
    }
}
unimplemented {
    upsert(UpsertPoints) -> PointsOperationResponse;
    delete(DeletePoints) -> PointsOperationResponse;
    get(GetPoints) -> GetResponse;
    update_vectors(UpdatePointVectors) -> PointsOperationResponse;
    delete_vectors(DeletePointVectors) -> PointsOperationResponse;
    set_payload(SetPayloadPoints) -> PointsOperationResponse;
    overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
    delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
    clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
    delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
    search(SearchPoints) -> SearchResponse;
    search_batch(SearchBatchPoints) -> SearchBatchResponse;
    search_groups(SearchPointGroups) -> SearchGroupsResponse;
    recommend(RecommendPoints) -> RecommendResponse;
    recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
    recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
    discover(DiscoverPoints) -> DiscoverResponse;
    discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
    query_batch(QueryBatchPoints) -> QueryBatchResponse;
    query_groups(QueryPointGroups) -> QueryGroupsResponse;
    search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
    search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
}
}
