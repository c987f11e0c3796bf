//! A Gmail message as `messages.get?format=full` returns it, turned into a small RFC 822
//! message the host's email extractor reads: the searchable headers, the text parts (the
//! HTML ones when the mail has no plain text), the labels, and each attachment as an
//! empty part carrying only its name. Attachment bytes are never requested: they can be
//! 25 MB each and only their names are indexed.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;
use tributary_sdk::Content;

/// Headers kept from the original, in this order.
const KEPT: &[&str] = &["From", "To", "Cc", "Subject", "Date", "Message-ID"];

/// A message (`format=full`; `historyId` and `internalDate` are strings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Gmail's id.
    pub id: String,
    /// The conversation.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// Label ids (`INBOX`, `SENT`, `Label_12`).
    #[serde(default)]
    pub label_ids: Vec<String>,
    /// Gmail's short preview.
    #[serde(default)]
    pub snippet: String,
    /// The MIME tree.
    #[serde(default)]
    pub payload: Option<Part>,
    /// Milliseconds since the epoch, as a string.
    #[serde(default)]
    pub internal_date: Option<String>,
}

/// One MIME part.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// MIME type.
    #[serde(default)]
    pub mime_type: String,
    /// Attachment file name; empty for body parts.
    #[serde(default)]
    pub filename: String,
    /// The part's headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// The part's body.
    #[serde(default)]
    pub body: Option<PartBody>,
    /// Children of a multipart.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// A header.
#[derive(Debug, Deserialize)]
pub struct Header {
    /// Name as sent.
    pub name: String,
    /// Value, unfolded.
    #[serde(default)]
    pub value: String,
}

/// A part's body: inline `data` (base64url) or an `attachmentId` to fetch separately.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartBody {
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// Base64url data.
    #[serde(default)]
    pub data: Option<String>,
    /// Set when the data is fetched separately.
    #[serde(default)]
    pub attachment_id: Option<String>,
}

impl Part {
    /// A header's value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// Base64 as Gmail and Pub/Sub send it: URL-safe or standard, padded or not.
pub fn decode_b64(data: &str) -> Option<Vec<u8>> {
    let data = data.trim();
    URL_SAFE
        .decode(data)
        .or_else(|_| URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')))
        .or_else(|_| STANDARD.decode(data))
        .ok()
}

/// What a message's tree holds: text parts, HTML parts, attachment names.
#[derive(Default)]
struct Parts {
    plain: Vec<(String, Vec<u8>)>,
    html: Vec<(String, Vec<u8>)>,
    attachments: Vec<String>,
}

fn collect(part: &Part, out: &mut Parts) {
    if !part.filename.is_empty() {
        out.attachments.push(part.filename.clone());
        return;
    }
    let mime = part.mime_type.to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        for child in &part.parts {
            collect(child, out);
        }
        return;
    }
    let data = part.body.as_ref().and_then(|b| b.data.as_deref());
    let Some(bytes) = data.and_then(decode_b64) else {
        return;
    };
    let content_type = part
        .header("Content-Type")
        .map(clean)
        .unwrap_or_else(|| format!("{mime}; charset=utf-8"));
    match mime.as_str() {
        "text/plain" => out.plain.push((content_type, bytes)),
        "text/html" => out.html.push((content_type, bytes)),
        _ => {}
    }
}

/// A header value on one line (Gmail unfolds them; a hostile one could still hold breaks).
fn clean(v: &str) -> String {
    v.replace(['\r', '\n'], " ")
}

fn quoted(name: &str) -> String {
    clean(name).replace(['"', '\\'], "_")
}

/// The body parts kept: the plain text ones, or the HTML ones when there are none.
fn body_part(parts: &Parts) -> Option<(String, Vec<u8>)> {
    let chosen = if parts.plain.is_empty() {
        &parts.html
    } else {
        &parts.plain
    };
    match chosen.as_slice() {
        [] => None,
        [(ct, bytes)] => Some((ct.clone(), bytes.clone())),
        // Several text parts (around inline images): one UTF-8 part of them all.
        many => {
            let kind = if parts.plain.is_empty() {
                "text/html"
            } else {
                "text/plain"
            };
            let joined: Vec<String> = many
                .iter()
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                .collect();
            Some((
                format!("{kind}; charset=utf-8"),
                joined.join("\n").into_bytes(),
            ))
        }
    }
}

/// The RFC 822 message the host indexes for `m`.
pub fn rebuild(m: &Message) -> Vec<u8> {
    let empty = Part::default();
    let top = m.payload.as_ref().unwrap_or(&empty);
    let mut parts = Parts::default();
    collect(top, &mut parts);
    let boundary = format!(
        "=_tributary_{}",
        m.id.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let mut out = String::new();
    for name in KEPT {
        if let Some(v) = top.header(name) {
            out.push_str(&format!("{name}: {}\r\n", clean(v)));
        }
    }
    out.push_str(&format!("X-Gmail-Labels: {}\r\n", m.label_ids.join(", ")));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
    ));
    let text = body_part(&parts).unwrap_or_else(|| {
        // No text part at all (a bare attachment): the snippet is what Gmail shows.
        (
            "text/plain; charset=utf-8".into(),
            m.snippet.clone().into_bytes(),
        )
    });
    out.push_str(&format!(
        "--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        text.0
    ));
    let encoded = STANDARD.encode(&text.1);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    for name in &parts.attachments {
        let name = quoted(name);
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n\r\n"
        ));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

/// Name and address of a `From` value (`"Ada" <ada@example.com>`, `ada@example.com`).
fn sender(from: &str) -> (String, Option<String>) {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = from[..a].trim().trim_matches('"').trim().to_string();
            let email = from[a + 1..b].trim().to_string();
            (
                if name.is_empty() { email.clone() } else { name },
                Some(email),
            )
        }
        _ => (
            from.trim().to_string(),
            from.contains('@').then(|| from.trim().to_string()),
        ),
    }
}

/// The resource content of a message.
pub fn content(m: &Message) -> Content {
    let top = m.payload.as_ref();
    let subject = top
        .and_then(|p| p.header("Subject"))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("(no subject)");
    let at = m
        .internal_date
        .as_deref()
        .and_then(|d| d.parse::<i64>().ok());
    let mut c = Content::bytes(&m.id, "email", subject, "message/rfc822", rebuild(m))
        .with_url(format!("https://mail.google.com/mail/#all/{}", m.id))
        .with_times(at, at)
        .with_meta("labels", m.label_ids.join(","));
    if let Some(t) = &m.thread_id {
        c = c.with_meta("thread_id", t.clone());
    }
    if let Some(from) = top.and_then(|p| p.header("From")) {
        let (name, email) = sender(from);
        c = c.with_author(name, email);
    }
    c
}
