//! Embedding: BM25 sparse vectors always (qdrant-edge's embedder, the same token ids and
//! formula as Qdrant server's BM25, so both backends read them), dense vectors when an
//! embedder is configured: a local sentence-transformer ([`super::local`]) or an
//! OpenAI-compatible endpoint ([`super::openai`]).

use futures::future::BoxFuture;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};

use crate::index::Sparse;

/// Whether a text is a query or a document: BM25 weighs them differently, and some
/// dense models want a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A search query.
    Query,
    /// A chunk to index.
    Document,
}

/// A dense embedding model.
pub trait DenseEmbedder: Send + Sync {
    /// Size of the vectors it makes.
    fn dimensions(&self) -> usize;
    /// One vector per text, in order.
    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        role: Role,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Vec<f32>>>>;
}

/// BM25 sparse vectors (English stemming and stop words).
pub struct Bm25(EdgeBm25);

impl Bm25 {
    /// The embedder.
    pub fn new() -> anyhow::Result<Self> {
        let config = EdgeBm25Config {
            language: Some("english".into()),
            ..Default::default()
        };
        Ok(Self(
            EdgeBm25::new(config).map_err(|e| anyhow::anyhow!("BM25: {e}"))?,
        ))
    }

    /// The sparse vector of `text`.
    pub fn embed(&self, text: &str, role: Role) -> Sparse {
        let v = match role {
            Role::Query => self.0.embed_query(text),
            Role::Document => self.0.embed_document(text),
        };
        Sparse {
            indices: v.indices,
            values: v.values,
        }
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_bm25_matches_stemmed_terms() {
        let bm25 = Bm25::new().unwrap();
        let doc = bm25.embed("The rivers were flooding the valleys", Role::Document);
        let query = bm25.embed("river flood", Role::Query);
        assert_eq!(query.indices.len(), 2);
        assert!(query.indices.iter().all(|i| doc.indices.contains(i)));
        // Stop words carry no weight.
        assert!(bm25.embed("the were", Role::Query).indices.is_empty());
    }

    #[test]
    fn works_when_cosine_is_computed() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 2.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
