//! Chunking with text-splitter: character-bounded, Markdown-aware (headings, lists and
//! code blocks are preferred split points), with overlap so a sentence cut at a chunk's
//! end is whole in the next one.

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};

use super::extract::Extracted;

/// One piece of a resource's text, with its place in the resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position among the resource's chunks, from 0.
    pub index: usize,
    /// Byte offset of the chunk in the extracted text.
    pub offset: usize,
    /// The chunk's text.
    pub text: String,
}

/// Splits extracted text into chunks of at most `max_chars` characters.
pub struct Chunker {
    markdown: MarkdownSplitter<text_splitter::Characters>,
    plain: TextSplitter<text_splitter::Characters>,
}

impl Chunker {
    /// Chunks of `max_chars / 2 ..= max_chars` characters, overlapping by `overlap`.
    pub fn new(max_chars: usize, overlap: usize) -> anyhow::Result<Self> {
        let config =
            || ChunkConfig::new((max_chars / 2).max(1)..max_chars.max(2)).with_overlap(overlap);
        Ok(Self {
            markdown: MarkdownSplitter::new(config()?),
            plain: TextSplitter::new(config()?),
        })
    }

    /// The chunks of `text`, blank ones left out.
    pub fn split(&self, text: &Extracted) -> Vec<Chunk> {
        let pieces: Vec<(usize, &str)> = if text.markdown {
            self.markdown.chunk_indices(&text.text).collect()
        } else {
            self.plain.chunk_indices(&text.text).collect()
        };
        pieces
            .into_iter()
            .filter(|(_, t)| !t.trim().is_empty())
            .enumerate()
            .map(|(index, (offset, t))| Chunk {
                index,
                offset,
                text: t.to_string(),
            })
            .collect()
    }
}

impl Default for Chunker {
    /// 1,000 characters (about 250 tokens, inside MiniLM's 256-token window), 100 of
    /// overlap.
    fn default() -> Self {
        Self::new(1000, 100).expect("valid default chunk sizes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str, markdown: bool) -> Extracted {
        Extracted {
            text: s.into(),
            markdown,
        }
    }

    #[test]
    fn works_when_long_text_is_split_with_overlap_and_positions() {
        let words: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
        let chunks = Chunker::new(200, 40)
            .unwrap()
            .split(&text(&words.join(" "), false));
        assert!(chunks.len() > 10);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.index, i);
            assert!(c.text.chars().count() <= 200);
        }
        // Overlap: the next chunk starts before the previous one ends.
        assert!(chunks[1].offset < chunks[0].offset + chunks[0].text.len());
        assert!(chunks.last().unwrap().text.ends_with("word399"));
    }

    #[test]
    fn works_when_markdown_splits_at_headings() {
        let body = "x ".repeat(60);
        let md = format!("# One\n\n{body}\n\n# Two\n\n{body}");
        let chunks = Chunker::new(150, 0).unwrap().split(&text(&md, true));
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert!(chunks[0].text.starts_with("# One") && chunks[1].text.starts_with("# Two"));
    }

    #[test]
    fn errors_when_overlap_is_not_smaller_than_chunks() {
        assert!(Chunker::new(100, 100).is_err());
    }
}
