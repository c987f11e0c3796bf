//! The `create_draft` action: a plain-text draft in the user's mailbox (`drafts.create`
//! with the RFC 822 message base64url-encoded in `message.raw`). Nothing is sent. The
//! host validated the input against `SCHEMA`; the checks here are the ones a schema
//! cannot make (no header injection through line breaks).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Deserialize;
use serde_json::{Value, json};
use tributary_google::check;
use tributary_sdk::prelude::*;
use tributary_sdk::url;

use crate::API;

/// The action's name.
pub const NAME: &str = "create_draft";

/// JSON Schema of the input.
pub const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "required": ["to", "subject", "body"],
  "properties": {
    "to": {"type": "array", "minItems": 1, "maxItems": 100,
           "items": {"type": "string", "maxLength": 320, "pattern": "^[^\\r\\n,<>]+@[^\\r\\n,<>]+$"}},
    "cc": {"type": "array", "maxItems": 100,
           "items": {"type": "string", "maxLength": 320, "pattern": "^[^\\r\\n,<>]+@[^\\r\\n,<>]+$"}},
    "subject": {"type": "string", "maxLength": 998, "pattern": "^[^\\r\\n]*$"},
    "body": {"type": "string", "maxLength": 1000000},
    "thread_id": {"type": "string", "maxLength": 64, "pattern": "^[0-9a-f]+$"}
  }
}"#;

/// The input.
#[derive(Deserialize)]
pub struct Input {
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    subject: String,
    body: String,
    #[serde(default)]
    thread_id: Option<String>,
}

fn one_line(field: &str, v: &str) -> Result<(), Error> {
    if v.contains(['\r', '\n']) {
        return Err(Error::invalid_input(format!("`{field}` must be one line")));
    }
    Ok(())
}

/// A header value: as is when ASCII, RFC 2047 base64 words when not.
fn encoded(v: &str) -> String {
    if v.is_ascii() {
        v.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(v.as_bytes()))
    }
}

/// The RFC 822 text of the draft.
pub fn message(input: &Input) -> Result<String, Error> {
    for a in input.to.iter().chain(&input.cc) {
        one_line("to", a)?;
    }
    one_line("subject", &input.subject)?;
    let mut m = format!("To: {}\r\n", input.to.join(", "));
    if !input.cc.is_empty() {
        m.push_str(&format!("Cc: {}\r\n", input.cc.join(", ")));
    }
    m.push_str(&format!("Subject: {}\r\n", encoded(&input.subject)));
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n");
    m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let body = STANDARD.encode(input.body.replace("\r\n", "\n").replace('\n', "\r\n"));
    for line in body.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(line).unwrap_or_default());
        m.push_str("\r\n");
    }
    Ok(m)
}

/// Create the draft; the answer names it.
pub fn create(input: Value) -> Result<Value, Error> {
    let input: Input = serde_json::from_value(input)
        .map_err(|e| Error::invalid_input(format!("bad draft input: {e}")))?;
    let mut msg = json!({ "raw": URL_SAFE.encode(message(&input)?) });
    if let Some(t) = &input.thread_id {
        msg["threadId"] = json!(t);
    }
    let href = url::build(API, &["drafts"], &[]);
    let resp = check(
        http::Request::post(href)
            .json(&json!({ "message": msg }))
            .authenticated()
            .send()?,
    )?;
    #[derive(Deserialize)]
    struct Draft {
        id: String,
        message: Option<Made>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Made {
        id: String,
        thread_id: Option<String>,
    }
    let d: Draft = resp.json()?;
    Ok(json!({
        "draft_id": d.id,
        "message_id": d.message.as_ref().map(|m| m.id.clone()),
        "thread_id": d.message.and_then(|m| m.thread_id),
    }))
}
