//! The `paged` provider's logic under another id with a low declared rate (1,200
//! requests a minute, 4 at a time), for the test that several host processes together
//! keep a provider within its declared rate.

#[path = "../../paged/src/api.rs"]
mod api;

use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind};

#[derive(Default)]
struct Paced;

impl Provider for Paced {
    fn manifest() -> Manifest {
        ManifestBuilder::new("paced", "Paced")
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: false,
                subscribe: false,
            })
            .rate_limits(1_200, None, 4)
            .allowed_host("api.paged.test")
            .field("collection", "Collection", FieldKind::Text, false)
            .build()
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        api::list(config, req)
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        api::fetch(config, id)
    }
}

tributary_sdk::export!(Paced);
