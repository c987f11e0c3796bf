//! Text extraction by mime type: what a resource's body says, as text to chunk.
//!
//! Each format goes to a well-kept crate (html2text, pdf-extract, mail-parser, zip +
//! quick-xml for DOCX); a type none of them reads is a [`Skip`] with its reason, never a
//! failed job.

use std::io::Cursor;

use crate::model::Body;

/// Text to chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// The text.
    pub text: String,
    /// Whether the text is Markdown (headings and lists guide the splitter).
    pub markdown: bool,
}

/// Why a resource holds nothing to index.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Skip(pub String);

/// Google Workspace types, exported by the provider as HTML, text or CSV.
const GOOGLE_DOC: &str = "application/vnd.google-apps.document";
const GOOGLE_SHEET: &str = "application/vnd.google-apps.spreadsheet";
const GOOGLE_SLIDES: &str = "application/vnd.google-apps.presentation";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Extract the text of a body of type `mime` (parameters such as `charset` are ignored).
pub fn extract(mime: &str, body: &Body) -> Result<Extracted, Skip> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = match mime.as_str() {
        "text/markdown" | "text/x-markdown" => markdown(as_text(body)),
        "text/html" | "application/xhtml+xml" => html(&as_bytes(body))?,
        GOOGLE_DOC => {
            // Drive exports a document as HTML or plain text; which one is in the body.
            let text = as_text(body);
            if text.trim_start().starts_with('<') {
                html(text.as_bytes())?
            } else {
                plain(text)
            }
        }
        GOOGLE_SHEET | GOOGLE_SLIDES | "application/json" => plain(as_text(body)),
        "application/pdf" => match body {
            Body::Text(t) => plain(t.clone()),
            Body::Bytes(b) => plain(super::office::pdf(b)?),
            Body::Download(_) => return Err(not_downloaded()),
        },
        DOCX => match body {
            Body::Text(t) => plain(t.clone()),
            Body::Bytes(b) => plain(super::office::docx(b)?),
            Body::Download(_) => return Err(not_downloaded()),
        },
        "message/rfc822" => markdown(super::email::extract(&as_bytes(body))?),
        m if m.starts_with("text/") => plain(as_text(body)),
        "" => return Err(Skip("no mime type".into())),
        other => return Err(Skip(format!("unsupported mime type {other}"))),
    };
    if text.text.trim().is_empty() {
        return Err(Skip(format!("no text in the {mime} body")));
    }
    Ok(text)
}

/// Sessions replace `download` bodies by the bytes before content gets here.
fn not_downloaded() -> Skip {
    Skip("the body is a download the host did not perform".into())
}

fn plain(text: String) -> Extracted {
    Extracted {
        text,
        markdown: false,
    }
}

fn markdown(text: String) -> Extracted {
    Extracted {
        text,
        markdown: true,
    }
}

fn as_text(body: &Body) -> String {
    match body {
        Body::Text(t) => t.clone(),
        Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Download(_) => String::new(),
    }
}

fn as_bytes(body: &Body) -> std::borrow::Cow<'_, [u8]> {
    match body {
        Body::Text(t) => t.as_bytes().into(),
        Body::Bytes(b) => b.as_slice().into(),
        Body::Download(_) => (&[][..]).into(),
    }
}

/// HTML to text: headings and list items keep their Markdown markers (the Markdown
/// splitter uses them), emphasis markers are dropped (they would show in snippets).
/// Scripts and styles are not text.
pub(super) fn html(bytes: &[u8]) -> Result<Extracted, Skip> {
    // A wide line keeps paragraphs whole; the splitter decides where chunks end.
    let text = html2text::config::plain_no_decorate()
        .string_from_read(Cursor::new(bytes), 10_000)
        .map_err(|e| Skip(format!("unreadable HTML: {e}")))?;
    Ok(markdown(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_html_becomes_text_without_markup() {
        let html = b"<html><head><style>p{}</style><script>alert(1)</script></head>\
            <body><h1>Rivers</h1><p>The <b>Danube</b> flows east.</p></body></html>";
        let e = extract("text/html; charset=utf-8", &Body::Bytes(html.to_vec())).unwrap();
        assert!(
            e.text.contains("Rivers") && e.text.contains("Danube flows east"),
            "{:?}",
            e.text
        );
        assert!(!e.text.contains("<b>") && !e.text.contains("alert"));
    }

    #[test]
    fn works_when_google_docs_export_is_html_or_text() {
        let html = extract(GOOGLE_DOC, &Body::Text("<p>Quarterly plan</p>".into())).unwrap();
        assert_eq!(html.text.trim(), "Quarterly plan");
        let text = extract(GOOGLE_DOC, &Body::Text("Quarterly plan".into())).unwrap();
        assert_eq!(text.text, "Quarterly plan");
    }

    #[test]
    fn works_when_markdown_and_plain_text_pass_through() {
        let md = extract("text/markdown", &Body::Text("# Title\n\nBody".into())).unwrap();
        assert!(md.markdown && md.text.starts_with("# Title"));
        let csv = extract("text/csv", &Body::Bytes(b"a,b\n1,2".to_vec())).unwrap();
        assert_eq!(csv.text, "a,b\n1,2");
    }

    #[test]
    fn errors_when_type_is_unsupported_or_empty() {
        let e = extract("image/png", &Body::Bytes(vec![137, 80])).unwrap_err();
        assert_eq!(e.0, "unsupported mime type image/png");
        let e = extract("text/plain", &Body::Text("  \n".into())).unwrap_err();
        assert_eq!(e.0, "no text in the text/plain body");
        assert!(extract("", &Body::Text("x".into())).is_err());
    }
}
