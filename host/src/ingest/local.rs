//! A local sentence-transformer (BERT family, e.g. all-MiniLM-L6-v2) run with candle, a
//! pure-Rust runtime: `config.json`, `tokenizer.json` and `model.safetensors` from a
//! directory, fetched from the Hugging Face hub on first use when they are missing.
//! Sentence vectors are the attention-masked mean of the token vectors, L2-normalized,
//! as the model's pooling config says.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures::future::BoxFuture;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::embed::{DenseEmbedder, Role};

/// Files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Texts per forward pass.
const BATCH: usize = 32;
/// all-MiniLM-L6-v2 was trained on 256-token inputs; longer ones are cut.
const MAX_TOKENS: usize = 256;

/// A sentence-transformer loaded in memory.
pub struct LocalEmbedder {
    inner: Arc<(BertModel, Tokenizer)>,
    dimensions: usize,
}

impl LocalEmbedder {
    /// Load the model in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let read = |f: &str| {
            std::fs::read(dir.join(f)).with_context(|| format!("reading {}", dir.join(f).display()))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .context("config.json is not a BERT config")?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| anyhow::anyhow!("tokenizer.json: {e}"))?;
        tokenizer
            .with_padding(Some(PaddingParams::default()))
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| anyhow::anyhow!("tokenizer settings: {e}"))?;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .context("model.safetensors")?;
        let model = BertModel::load(vb, &config).context("loading the BERT weights")?;
        Ok(Self {
            dimensions: config.hidden_size,
            inner: Arc::new((model, tokenizer)),
        })
    }

    /// Load the model in `dir`, first downloading any missing file of `repo` from the
    /// hub at `endpoint` (`https://huggingface.co`).
    pub async fn load_or_fetch(dir: &Path, repo: &str, endpoint: &str) -> anyhow::Result<Self> {
        for file in MODEL_FILES {
            let path = dir.join(file);
            if !path.exists() {
                fetch(&path, &format!("{endpoint}/{repo}/resolve/main/{file}")).await?;
            }
        }
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::load(&dir)).await?
    }

    fn run(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let (model, tokenizer) = &*self.inner;
        let encodings = tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> anyhow::Result<Tensor> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &Device::Cpu))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Ok(Tensor::stack(&rows, 0)?)
        };
        let ids = rows(&|e| e.get_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let types = ids.zeros_like()?;
        let hidden = model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real (unpadded) tokens, then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

async fn fetch(path: &PathBuf, url: &str) -> anyhow::Result<()> {
    tracing::info!(%url, "downloading model file");
    let resp = reqwest::get(url)
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| format!("downloading {url}"))?;
    let bytes = resp
        .bytes()
        .await
        .with_context(|| format!("downloading {url}"))?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    // Written aside and renamed, so a cut download never looks like a model file.
    let partial = path.with_extension("partial");
    tokio::fs::write(&partial, &bytes).await?;
    tokio::fs::rename(&partial, path).await?;
    Ok(())
}

impl DenseEmbedder for LocalEmbedder {
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
                let this = Self {
                    inner: self.inner.clone(),
                    dimensions: self.dimensions,
                };
                let batch = batch.to_vec();
                out.extend(tokio::task::spawn_blocking(move || this.run(&batch)).await??);
            }
            Ok(out)
        })
    }
}
