//! Which files of a repository's tree are documents worth indexing, and how each is read.

/// What to do with one file of a repository tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocKind {
    /// A text document (README, Markdown, reStructuredText, AsciiDoc, plain text in a
    /// docs folder): fetched raw and indexed as text.
    Text,
    /// A document the host extracts (PDF, Word, HTML in a docs folder), with its mime type.
    Extract(&'static str),
    /// A binary file in a docs folder (images, archives): listed, never downloaded, and
    /// recorded as skipped with its mime type as the reason.
    Binary(&'static str),
    /// Not a document (source code, build files, vendored trees).
    Ignore,
}

/// Directories whose contents are somebody else's (dependencies, generated output).
const VENDORED: &[&str] = &[
    "node_modules",
    "vendor",
    "third_party",
    "third-party",
    ".git",
    "target",
    "dist",
    "build",
];

/// Extensions that are documents wherever they are.
const TEXT_EXT: &[&str] = &["md", "markdown", "mdx", "rst", "adoc", "asciidoc", "org"];

/// Binary extensions with the mime type recorded as the reason they are skipped.
const BINARY_EXT: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    ("ico", "image/x-icon"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
];

/// Extensions the host extracts text from.
const EXTRACT_EXT: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("html", "text/html"),
    ("htm", "text/html"),
];

/// Classify `path` (slash-separated, from the repository root).
///
/// ```
/// use tributary_forge::docs::{classify, DocKind};
/// assert_eq!(classify("README"), DocKind::Text);
/// assert_eq!(classify("guide/setup.md"), DocKind::Text);
/// assert_eq!(classify("docs/notes.txt"), DocKind::Text);
/// assert_eq!(classify("docs/img/flow.png"), DocKind::Binary("image/png"));
/// assert_eq!(classify("docs/spec.pdf"), DocKind::Extract("application/pdf"));
/// assert_eq!(classify("src/main.rs"), DocKind::Ignore);
/// assert_eq!(classify("requirements.txt"), DocKind::Ignore);
/// assert_eq!(classify("node_modules/x/README.md"), DocKind::Ignore);
/// ```
pub fn classify(path: &str) -> DocKind {
    let parts: Vec<&str> = path.split('/').collect();
    let dirs = &parts[..parts.len() - 1];
    if dirs
        .iter()
        .any(|d| VENDORED.contains(&d.to_ascii_lowercase().as_str()))
    {
        return DocKind::Ignore;
    }
    let name = parts[parts.len() - 1];
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if lower == "readme"
        || (lower.starts_with("readme.") && !BINARY_EXT.iter().any(|(e, _)| *e == ext))
    {
        return DocKind::Text;
    }
    if TEXT_EXT.contains(&ext) {
        return DocKind::Text;
    }
    let in_docs = dirs.iter().any(|d| {
        matches!(
            d.to_ascii_lowercase().as_str(),
            "docs" | "doc" | "documentation" | "wiki"
        )
    });
    if !in_docs {
        return DocKind::Ignore;
    }
    if ext == "txt" {
        return DocKind::Text;
    }
    if let Some((_, mime)) = EXTRACT_EXT.iter().find(|(e, _)| *e == ext) {
        return DocKind::Extract(mime);
    }
    if let Some((_, mime)) = BINARY_EXT.iter().find(|(e, _)| *e == ext) {
        return DocKind::Binary(mime);
    }
    DocKind::Ignore
}
