//! `http`: requests performed by the host, only to allow-listed hosts (every redirect hop
//! re-checked), with size and time caps, and credentials injected by the host.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::bindings::latest::tributary::provider::http::{Host, Method, Request, Response};
use crate::bindings::latest::tributary::provider::types::Error as WitError;
use crate::credentials::Kind;
use crate::egress;
use crate::model::Injection;
use crate::model::PluginError;
use crate::runtime::{CallContext, PluginState};

impl Host for PluginState {
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, WitError>> {
        let call = self.call.clone();
        Ok(call.send_checked(req).await.map_err(Into::into))
    }
}

/// Headers a plugin may not set: the host owns routing and framing.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "proxy-authorization",
];

impl CallContext {
    /// Resolve overrides and check the allow-list for one hop.
    fn admit(&self, url: &Url) -> Result<(Url, bool), PluginError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PluginError::Forbidden(format!(
                "scheme `{}` is not allowed",
                url.scheme()
            )));
        }
        let settings = self.services.settings(self.provider_id());
        if let Some(rewritten) = egress::apply_override(url, &settings.base_urls) {
            return Ok((rewritten, true));
        }
        let host = url.host_str().unwrap_or_default();
        if !egress::host_allowed(host, &self.manifest.allowed_hosts, self.config()) {
            return Err(PluginError::Forbidden(format!(
                "host `{host}` is not in the allowed hosts of plugin `{}`",
                self.provider_id()
            )));
        }
        // An admin's override target may be an internal host the private-address guard
        // lets through; that exemption belongs to the overridden provider alone.
        if !self.services.egress.allow_private
            && self.services.is_exempt_host(host)
            && !settings
                .base_urls
                .values()
                .filter_map(|to| Url::parse(to).ok())
                .any(|to| to.host_str() == Some(host))
        {
            return Err(PluginError::Forbidden(format!(
                "host `{host}` is another provider's private base URL; plugin `{}` may not reach it",
                self.provider_id()
            )));
        }
        if !self.services.egress.allow_private {
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            };
            if literal.is_some_and(egress::is_private) {
                return Err(PluginError::Forbidden(format!(
                    "private address `{host}` is not allowed"
                )));
            }
        }
        Ok((url.clone(), false))
    }

    /// Whether `url`'s host is allowed only through a `config:<key>` entry: a host the
    /// integration's config names, which anyone who may edit that config can change.
    fn config_named_host(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let fixed: Vec<String> = self
            .manifest
            .allowed_hosts
            .iter()
            .filter(|p| !p.starts_with("config:"))
            .cloned()
            .collect();
        !egress::host_allowed(host, &fixed, &[])
    }

    /// Add the integration's credential; `config_host` when the request goes to a host
    /// named in the integration's config (see [`CallContext::config_named_host`]).
    async fn credential_headers(
        &self,
        url: &mut Url,
        headers: &mut HeaderMap,
        refreshed: bool,
        config_host: bool,
    ) -> Result<(), PluginError> {
        let cred = if refreshed {
            self.refresh_credential().await?
        } else {
            self.credential().await?.ok_or_else(|| {
                PluginError::Unauthorized("the integration has no credentials".into())
            })?
        };
        // An OAuth token was issued by the provider's (or the admin's overridden)
        // server; it never goes to a host taken from config, which another member of an
        // organization could point at a server of theirs.
        if config_host && cred.kind == Kind::Oauth2 {
            return Err(PluginError::Forbidden(format!(
                "an OAuth token is not sent to `{}`, a host named in the integration's config; connect with a token for that server instead",
                url.host_str().unwrap_or_default()
            )));
        }
        let bad =
            |_| PluginError::InvalidConfig("the credential is not a valid header value".into());
        match (&self.manifest.injection, cred.kind) {
            (_, Kind::Basic) | (Injection::Basic, _) => {
                use base64::Engine as _;
                let user = cred.username.clone().unwrap_or_default();
                let pair = format!("{user}:{}", cred.secret);
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    HeaderValue::from_str(&value).map_err(bad)?,
                );
            }
            (Injection::Bearer, _) => {
                let value = format!("Bearer {}", cred.secret);
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    HeaderValue::from_str(&value).map_err(bad)?,
                );
            }
            (Injection::Header(name), _) => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    PluginError::InvalidConfig(format!("bad injection header `{name}`"))
                })?;
                headers.insert(name, HeaderValue::from_str(&cred.secret).map_err(bad)?);
            }
            (Injection::Query(param), _) => {
                url.query_pairs_mut().append_pair(param, &cred.secret);
            }
            (Injection::PrefixedHeader { name, prefix }, _) => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    PluginError::InvalidConfig(format!("bad injection header `{name}`"))
                })?;
                let value = format!("{prefix}{}", cred.secret);
                headers.insert(name, HeaderValue::from_str(&value).map_err(bad)?);
            }
        }
        Ok(())
    }

    pub(crate) async fn send_checked(&self, req: Request) -> Result<Response, PluginError> {
        let limits = &self.services.egress;
        self.send_capped(req, limits.max_response_bytes, limits.timeout)
            .await
    }

    /// [`CallContext::send_checked`] with its own cap on the answer's body (downloads).
    pub(crate) async fn send_capped(
        &self,
        req: Request,
        cap: usize,
        max_time: Duration,
    ) -> Result<Response, PluginError> {
        let mut url = Url::parse(&req.url)
            .map_err(|e| PluginError::InvalidInput(format!("bad URL {:?}: {e}", req.url)))?;
        let mut headers = HeaderMap::new();
        for (k, v) in &req.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| PluginError::InvalidInput(format!("bad header name {k:?}")))?;
            if FORBIDDEN_HEADERS.contains(&name.as_str()) {
                continue;
            }
            let value = HeaderValue::from_str(v)
                .map_err(|_| PluginError::InvalidInput(format!("bad value for header {k}")))?;
            headers.append(name, value);
        }
        let limits = &self.services.egress;
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(ms as u64).min(max_time))
            .unwrap_or(max_time);
        let mut method = to_reqwest(req.method);
        let mut body = req.body.clone();
        let first_origin = egress::origin(&url);

        let mut hop = 0;
        let mut refreshed = false;
        loop {
            let (mut target, overridden) = self.admit(&url)?;
            let mut hop_headers = headers.clone();
            // Credentials go only to the origin the plugin asked for, never to a redirect
            // target elsewhere.
            let with_credentials = req.authenticate && egress::origin(&url) == first_origin;
            if with_credentials {
                // Judged on the host the plugin named: an override target is the admin's.
                let config_host = !overridden && self.config_named_host(&url);
                self.credential_headers(&mut target, &mut hop_headers, refreshed, config_host)
                    .await?;
            }
            // Every request, redirects and retries included, spends the provider's budget.
            // Never wait out more than half the call's time: a rate-limit error lets the
            // job be delayed instead of timing out.
            let _slot = self
                .services
                .gate(&self.manifest)
                .admit(self.call_timeout / 2)
                .await?;
            let mut builder = self
                .services
                .http
                .request(method.clone(), target.clone())
                .headers(hop_headers)
                .timeout(timeout);
            if let Some(b) = &body {
                builder = builder.body(b.clone());
            }
            let resp = builder.send().await.map_err(|e| classify(&e, &url))?;
            let status = resp.status();
            // A 401 on our credential: refresh once and repeat the request; a refresh
            // the provider refuses marks the integration TOKEN_EXPIRED (in the store).
            if status == reqwest::StatusCode::UNAUTHORIZED && with_credentials && !refreshed {
                refreshed = true;
                continue;
            }
            if status.is_redirection()
                && let Some(loc) = resp.headers().get(reqwest::header::LOCATION)
            {
                if hop == limits.max_redirects {
                    return Err(PluginError::Forbidden(format!(
                        "more than {} redirects",
                        limits.max_redirects
                    )));
                }
                hop += 1;
                let loc = loc
                    .to_str()
                    .map_err(|_| PluginError::InvalidInput("bad Location header".into()))?;
                // The overridden server names itself: back into the plugin's view, so the
                // next hop is re-checked (and overridden) like the first.
                let loc = if overridden {
                    egress::reverse_override(
                        loc,
                        &self.services.settings(self.provider_id()).base_urls,
                    )
                } else {
                    loc.to_string()
                };
                let loc = loc.as_str();
                // Relative to what the plugin asked for, so the next hop is checked on its
                // real host.
                url = url
                    .join(loc)
                    .map_err(|e| PluginError::InvalidInput(format!("bad redirect {loc:?}: {e}")))?;
                if matches!(status.as_u16(), 301..=303) && method != reqwest::Method::HEAD {
                    method = reqwest::Method::GET;
                    body = None;
                }
                continue;
            }
            let mut answer = read_response(resp, cap).await?;
            if overridden {
                let overrides = self.services.settings(self.provider_id()).base_urls;
                for (k, v) in &mut answer.headers {
                    if k.eq_ignore_ascii_case("link") {
                        *v = egress::reverse_link_header(v, &overrides);
                    }
                }
            }
            return Ok(answer);
        }
    }
}

fn to_reqwest(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn classify(e: &reqwest::Error, url: &Url) -> PluginError {
    let host = url.host_str().unwrap_or_default();
    if e.is_timeout() {
        PluginError::Transient(format!("request to {host} timed out"))
    } else if e.is_connect() {
        let mut msg = format!("cannot connect to {host}");
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = src {
            if s.to_string().contains("public address") {
                return PluginError::Forbidden(format!("{host} resolves to a private address"));
            }
            msg = format!("cannot connect to {host}: {s}");
            src = s.source();
        }
        PluginError::Transient(msg)
    } else {
        PluginError::Transient(format!("request to {host} failed"))
    }
}

async fn read_response(resp: reqwest::Response, cap: usize) -> Result<Response, PluginError> {
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|n| n as usize > cap) {
        return Err(PluginError::Forbidden(format!(
            "response larger than the {cap}-byte limit"
        )));
    }
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            PluginError::Transient("connection closed while reading the body".into())
        })?;
        if body.len() + chunk.len() > cap {
            return Err(PluginError::Forbidden(format!(
                "response larger than the {cap}-byte limit"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}
