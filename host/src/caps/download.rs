//! `body.download` (WIT 0.2.0): the host fetches a file a plugin names, through the same
//! gate as `http` (allow-list, every redirect re-checked, credentials only to the first
//! origin, the provider's rate budget) but with its own size cap and time limit, so a
//! large file goes from the provider to extraction without passing through plugin memory.

use crate::bindings::latest::tributary::provider::http::{Method, Request};
use crate::model::{Download, PluginError, RateLimit};
use crate::runtime::CallContext;

impl CallContext {
    /// Download `d`; the bytes, or a typed error the sync records for the resource.
    pub(crate) async fn download(&self, d: &Download) -> Result<Vec<u8>, PluginError> {
        let limits = &self.services.egress;
        let cap = limits.max_download_bytes;
        if let Some(size) = d.size.filter(|s| *s > cap as u64) {
            return Err(PluginError::Forbidden(format!(
                "the file is {size} bytes, over the {cap}-byte download limit"
            )));
        }
        let req = Request {
            method: Method::Get,
            url: d.url.clone(),
            headers: d.headers.clone(),
            body: None,
            authenticate: d.authenticate,
            timeout_ms: None,
        };
        let resp = self.send_capped(req, cap, limits.download_timeout).await?;
        let what = || format!("download of {} answered {}", d.url, resp.status);
        match resp.status {
            200..=299 => Ok(resp.body),
            401 => Err(PluginError::Unauthorized(what())),
            403 => Err(PluginError::Forbidden(what())),
            404 | 410 => Err(PluginError::NotFound(what())),
            429 => Err(PluginError::RateLimited(RateLimit {
                retry_after_ms: resp
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                    .map(|s| s * 1000),
                message: what(),
            })),
            500..=599 => Err(PluginError::Transient(what())),
            _ => Err(PluginError::Other(what())),
        }
    }
}
