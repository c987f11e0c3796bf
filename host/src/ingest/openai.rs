//! Dense vectors from any OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI,
//! Ollama, vLLM, TEI): batched, retried with backoff (backon) on 429, 5xx and
//! connection failures, honoring `Retry-After`.

use std::time::Duration;

use anyhow::Context;
use backon::{ExponentialBuilder, Retryable};
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use super::embed::{DenseEmbedder, Role};

/// Texts per request: OpenAI accepts up to 2,048 inputs; smaller batches keep a retry
/// cheap and stay under servers' body limits.
const BATCH: usize = 64;

/// An OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
    dimensions: usize,
    backoff: ExponentialBuilder,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

/// Why one request failed, and whether another try may help.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Retry(String, Option<Duration>),
    #[error("{0}")]
    Fatal(String),
}

impl OpenAiEmbedder {
    /// An embedder for `model` at `base` (`https://api.openai.com`, `http://localhost:11434`;
    /// a URL that already ends in `/embeddings` is used as is). The vector size is asked
    /// of the endpoint once, with a probe request.
    pub async fn connect(base: &str, model: &str, api_key: Option<String>) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/');
        let url = if base.ends_with("/embeddings") {
            base.to_string()
        } else if base.ends_with("/v1") {
            format!("{base}/embeddings")
        } else {
            format!("{base}/v1/embeddings")
        };
        let mut embedder = Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            url,
            model: model.to_string(),
            api_key,
            dimensions: 0,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(20))
                .with_max_times(5)
                .with_jitter(),
        };
        let probe = embedder
            .request(&["dimension probe".to_string()])
            .await
            .with_context(|| format!("probing the embeddings endpoint {}", embedder.url))?;
        embedder.dimensions = probe[0].len();
        Ok(embedder)
    }

    async fn request(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let once = || async {
            let mut req = self
                .client
                .post(&self.url)
                .json(&json!({"model": self.model, "input": texts}));
            if let Some(key) = &self.api_key {
                req = req.bearer_auth(key);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| Failure::Retry(format!("embeddings request failed: {e}"), None))?;
            let status = resp.status();
            if status.is_success() {
                let body: Response = resp
                    .json()
                    .await
                    .map_err(|e| Failure::Fatal(format!("unexpected embeddings response: {e}")))?;
                return Ok(body);
            }
            let wait = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .map(Duration::from_secs);
            let text: String = resp
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            let message = format!("embeddings endpoint answered {status}: {text}");
            if status.as_u16() == 429 || status.is_server_error() {
                Err(Failure::Retry(message, wait))
            } else {
                Err(Failure::Fatal(message))
            }
        };
        let body = once
            .retry(self.backoff)
            .when(|e| matches!(e, Failure::Retry(..)))
            .adjust(|e, planned| match e {
                Failure::Retry(_, Some(wait)) => Some((*wait).min(Duration::from_secs(60))),
                _ => planned,
            })
            .await?;
        let mut items = body.data;
        if items.len() != texts.len() {
            anyhow::bail!(
                "the embeddings endpoint returned {} vectors for {} inputs",
                items.len(),
                texts.len()
            );
        }
        items.sort_by_key(|i| i.index);
        Ok(items.into_iter().map(|i| i.embedding).collect())
    }
}

impl DenseEmbedder for OpenAiEmbedder {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        _role: Role,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Vec<f32>>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(texts.len());
            for batch in texts.chunks(BATCH) {
                let vectors = self.request(batch).await?;
                if let Some(v) = vectors.iter().find(|v| v.len() != self.dimensions) {
                    anyhow::bail!(
                        "the embeddings endpoint changed vector size: {} instead of {}",
                        v.len(),
                        self.dimensions
                    );
                }
                out.extend(vectors);
            }
            Ok(out)
        })
    }
}
