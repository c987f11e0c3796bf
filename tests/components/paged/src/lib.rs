//! A provider over a paginated JSON API with versions, for the sync-engine tests: list
//! pages carry id + version (no content), fetch returns the item; incremental walks ask
//! for items updated since a time.

use serde::Deserialize;
use tributary_sdk::Capabilities;
use tributary_sdk::prelude::*;

struct Paged;

#[derive(Deserialize)]
struct Listed {
    id: String,
    version: String,
    updated: i64,
}

#[derive(Deserialize)]
struct ListResponse {
    items: Vec<Listed>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    title: String,
    body: String,
    updated: i64,
}

const API: &str = "https://api.paged.test";

impl Provider for Paged {
    fn manifest() -> Manifest {
        ManifestBuilder::new("paged", "Paged")
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: false,
                subscribe: false,
            })
            .rate_limits(100_000, None, 4)
            .allowed_host("api.paged.test")
            .build()
    }

    fn list(_config: &Config, req: ListRequest) -> Result<Page, Error> {
        let mut url = format!("{API}/items?limit={}", req.page_size.clamp(1, 1000));
        if let Some(c) = &req.cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        if let (ListMode::Incremental, Some(t)) = (req.mode, req.modified_after) {
            url.push_str(&format!("&since={t}"));
        }
        let resp: ListResponse = http::Request::get(url).send()?.error_for_status()?.json()?;
        let resources = resp
            .items
            .into_iter()
            .map(|i| {
                let mut r = Resource::reference(&i.id, "item", &i.id, Some(i.version));
                r.modified_at = Some(i.updated);
                r
            })
            .collect();
        Ok(match resp.next {
            Some(n) => Page::more(resources, n),
            None => Page::last(resources),
        })
    }

    fn fetch(_config: &Config, id: &str) -> Result<Content, Error> {
        let item: Item = http::Request::get(format!("{API}/items/{id}"))
            .send()?
            .error_for_status()?
            .json()?;
        Ok(Content::text(&item.id, "item", &item.title, &item.body)
            .with_times(None, Some(item.updated)))
    }
}

tributary_sdk::export!(Paged);
