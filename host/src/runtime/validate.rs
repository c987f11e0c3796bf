//! Checks on everything a plugin returns: the host never trusts a plugin's data shape.

use crate::egress;
use crate::model::Manifest;
use crate::model::{Account, Change, Content, Page, Resource, Subscription, WebhookOutcome};

/// Longest id of a resource or account, in bytes.
pub const MAX_ID: usize = 1024;
/// Longest cursor or sync token, in bytes.
pub const MAX_CURSOR: usize = 16 * 1024;
/// Most resources in one page.
pub const MAX_PAGE: usize = 10_000;
/// Longest title, in bytes.
pub const MAX_TITLE: usize = 4096;
/// Largest immediate webhook response body.
pub const MAX_WEBHOOK_RESPONSE: usize = 1 << 20;
/// Largest content body (text or bytes).
pub const MAX_BODY: usize = 32 << 20;
/// Longest URL, kind, author field.
pub const MAX_URL: usize = 8 * 1024;
/// Longest resource kind.
pub const MAX_KIND: usize = 64;
/// Longest author id, name or email.
pub const MAX_AUTHOR_FIELD: usize = 1024;
/// Most metadata pairs, and their total bytes.
pub const MAX_METADATA: (usize, usize) = (256, 1 << 20);

fn id(what: &str, v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > MAX_ID {
        return Err(format!(
            "{what} must be 1..={MAX_ID} bytes, got {}",
            v.len()
        ));
    }
    Ok(())
}

/// A provider id: lowercase letters, digits and `_`, 1..=64 chars, starting with a letter.
pub fn provider_id(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "provider id {v:?} must match [a-z][a-z0-9_]{{0,63}}"
        ))
    }
}

/// Validate a manifest.
pub fn manifest(m: &Manifest) -> Result<(), String> {
    provider_id(&m.id)?;
    if m.name.trim().is_empty() || m.name.len() > 100 {
        return Err("name must be 1..=100 bytes".into());
    }
    if m.description.len() > 2000 {
        return Err("description is longer than 2000 bytes".into());
    }
    let rl = &m.rate_limits;
    if rl.requests_per_minute == 0
        || rl.concurrency == 0
        || rl.concurrency > 64
        || rl.requests_per_day == Some(0)
    {
        return Err("rate limits must be positive and concurrency at most 64".into());
    }
    if m.allowed_hosts.len() > 64 {
        return Err("at most 64 allowed hosts".into());
    }
    if let Some(bad) = m.allowed_hosts.iter().find(|p| !egress::valid_pattern(p)) {
        return Err(format!(
            "allowed host {bad:?} is not a host name, *.domain or config:<key>"
        ));
    }
    let mut keys = std::collections::HashSet::new();
    for f in &m.config {
        if f.key.is_empty() || f.key.len() > 64 || !keys.insert(f.key.as_str()) {
            return Err(format!(
                "config key {:?} is empty, too long or repeated",
                f.key
            ));
        }
    }
    actions(&m.actions)?;
    if let crate::model::Auth::Oauth2(o) = &m.auth {
        let names: Vec<&str> = m.actions.iter().map(|a| a.name.as_str()).collect();
        crate::scopes::validate(&o.scopes, &names)?;
    }
    Ok(())
}

/// Validate an account.
pub fn account(a: &Account) -> Result<(), String> {
    id("account id", &a.id)?;
    bounded("account name", &a.name, MAX_AUTHOR_FIELD)?;
    bounded(
        "account email",
        a.email.as_deref().unwrap_or_default(),
        MAX_AUTHOR_FIELD,
    )
}

/// Validate a webhook subscription.
pub fn subscription(s: &Subscription) -> Result<(), String> {
    id("subscription id", &s.id)?;
    bounded(
        "subscription resource",
        s.resource.as_deref().unwrap_or_default(),
        MAX_ID,
    )
}

/// Largest JSON Schema an action may declare, and most actions per plugin.
pub const MAX_ACTIONS: (usize, usize) = (64, 64 * 1024);

/// Validate declared actions: unique names like provider ids, a schema that is JSON.
fn actions(actions: &[crate::model::Action]) -> Result<(), String> {
    if actions.len() > MAX_ACTIONS.0 {
        return Err(format!("at most {} actions", MAX_ACTIONS.0));
    }
    let mut names = std::collections::HashSet::new();
    for a in actions {
        provider_id(&a.name).map_err(|e| format!("action name: {e}"))?;
        if !names.insert(a.name.as_str()) {
            return Err(format!("action {:?} is declared twice", a.name));
        }
        bounded("action title", &a.title, 200)?;
        bounded("action description", &a.description, 2000)?;
        bounded("action input schema", &a.input_schema, MAX_ACTIONS.1)?;
        let schema: serde_json::Value = serde_json::from_str(&a.input_schema)
            .map_err(|e| format!("action {:?}: input schema is not JSON: {e}", a.name))?;
        jsonschema::validator_for(&schema)
            .map_err(|e| format!("action {:?}: input schema is invalid: {e}", a.name))?;
    }
    Ok(())
}

/// A resource id as the index keeps it.
pub fn resource_id(v: &str) -> Result<(), String> {
    id("resource id", v)
}

fn bounded(what: &str, v: &str, max: usize) -> Result<(), String> {
    if v.len() > max {
        return Err(format!(
            "{what} is {} bytes, over the limit of {max}",
            v.len()
        ));
    }
    Ok(())
}

/// Validate fetched or inline content.
pub fn content(c: &Content) -> Result<(), String> {
    id("content id", &c.id)?;
    bounded("kind", &c.kind, MAX_KIND)?;
    let body = match &c.body {
        crate::model::Body::Text(t) => t.len(),
        crate::model::Body::Bytes(b) => b.len(),
        crate::model::Body::Download(d) => {
            bounded("download url", &d.url, MAX_URL)?;
            let headers: usize = d.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
            if d.headers.len() > 64 || headers > 64 * 1024 {
                return Err("a download carries at most 64 headers of 64 KiB in all".into());
            }
            0
        }
    };
    if body > MAX_BODY {
        return Err(format!(
            "body is {body} bytes, over the limit of {MAX_BODY}"
        ));
    }
    bounded("url", c.url.as_deref().unwrap_or_default(), MAX_URL)?;
    if let Some(a) = &c.author {
        for f in [Some(&a.name), a.id.as_ref(), a.email.as_ref()]
            .into_iter()
            .flatten()
        {
            bounded("an author field", f, MAX_AUTHOR_FIELD)?;
        }
    }
    let meta: usize = c.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if c.metadata.len() > MAX_METADATA.0 || meta > MAX_METADATA.1 {
        return Err(format!(
            "metadata must be at most {} pairs and {} bytes",
            MAX_METADATA.0, MAX_METADATA.1
        ));
    }
    if c.content_hash.is_empty() || c.content_hash.len() > 256 {
        return Err("content hash must be 1..=256 bytes".into());
    }
    if c.mime_type.is_empty() || c.mime_type.len() > 255 {
        return Err("mime type must be 1..=255 bytes".into());
    }
    if c.title.len() > MAX_TITLE {
        return Err(format!("title longer than {MAX_TITLE} bytes"));
    }
    Ok(())
}

/// Validate a page as a whole: counts and cursors. Its resources are checked one by one
/// ([`resource`]) so one bad resource fails alone.
pub fn page(p: &Page) -> Result<(), String> {
    if p.resources.len() > MAX_PAGE || p.deleted.len() > MAX_PAGE {
        return Err(format!("a page holds at most {MAX_PAGE} resources"));
    }
    for c in [&p.next_cursor, &p.sync_token].into_iter().flatten() {
        if c.is_empty() || c.len() > MAX_CURSOR {
            return Err(format!(
                "cursors and sync tokens must be 1..={MAX_CURSOR} bytes"
            ));
        }
    }
    Ok(())
}

/// Validate one listed resource (and its inline content).
pub fn resource(r: &Resource) -> Result<(), String> {
    id("resource id", &r.id)?;
    bounded("kind", &r.kind, MAX_KIND)?;
    bounded("title", &r.title, MAX_TITLE)?;
    bounded("url", r.url.as_deref().unwrap_or_default(), MAX_URL)?;
    bounded("version", r.version.as_deref().unwrap_or_default(), MAX_ID)?;
    bounded(
        "parent id",
        r.parent_id.as_deref().unwrap_or_default(),
        MAX_ID,
    )?;
    if let Some(c) = &r.content {
        content(c)?;
        if c.id != r.id {
            return Err(format!(
                "inline content id {:?} differs from resource id {:?}",
                c.id.chars().take(120).collect::<String>(),
                r.id.chars().take(120).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// Validate a webhook outcome.
pub fn webhook(o: &WebhookOutcome) -> Result<(), String> {
    if o.changes.len() > MAX_PAGE {
        return Err(format!("a webhook announces at most {MAX_PAGE} changes"));
    }
    if let Some(a) = &o.account_id {
        id("account id", a)?;
    }
    if let Some(d) = &o.delivery_id {
        id("delivery id", d)?;
    }
    let mut total = 0;
    for c in &o.changes {
        let (Change::Upsert(v) | Change::Delete(v)) = c;
        id("changed resource id", v)?;
        total += v.len();
    }
    // The outcome is stored with the delivery: bound it as a whole, not only per id.
    if total > MAX_WEBHOOK_CHANGE_BYTES {
        return Err(format!(
            "a webhook announces at most {MAX_WEBHOOK_CHANGE_BYTES} bytes of changed ids"
        ));
    }
    if let Some(r) = &o.response
        && (!(100..=599).contains(&r.status) || r.body.len() > MAX_WEBHOOK_RESPONSE)
    {
        return Err("webhook response must have a valid status and at most 1 MiB of body".into());
    }
    Ok(())
}

/// Largest answer an action may return.
pub const MAX_ACTION_OUTPUT: usize = 1 << 20;

/// Validate an action's answer: bounded JSON.
pub fn action_output(s: &str) -> Result<(), String> {
    if s.len() > MAX_ACTION_OUTPUT {
        return Err(format!(
            "action answer is {} bytes, over the limit of {MAX_ACTION_OUTPUT}",
            s.len()
        ));
    }
    serde_json::from_str::<serde_json::Value>(s)
        .map(|_| ())
        .map_err(|e| format!("action answer is not JSON: {e}"))
}

/// Bytes of changed ids one webhook outcome may carry (it is stored with the delivery).
pub const MAX_WEBHOOK_CHANGE_BYTES: usize = 2 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Body, WebhookResponse};

    fn outcome(changes: Vec<Change>, account: Option<String>) -> WebhookOutcome {
        WebhookOutcome {
            verified: true,
            delivery_id: None,
            account_id: account,
            changes,
            sync_requested: false,
            response: None::<WebhookResponse>,
        }
    }

    #[test]
    fn errors_when_webhook_ids_are_unbounded() {
        let long = "x".repeat(MAX_ID + 1);
        assert!(
            webhook(&outcome(
                vec![Change::Upsert("ok".into())],
                Some("acct".into())
            ))
            .is_ok()
        );
        assert!(webhook(&outcome(vec![Change::Delete(long.clone())], None)).is_err());
        assert!(webhook(&outcome(vec![Change::Upsert(String::new())], None)).is_err());
        assert!(webhook(&outcome(vec![], Some(long))).is_err());
    }

    #[test]
    fn errors_when_a_webhook_outcome_is_too_large_as_a_whole() {
        let id = "x".repeat(1000);
        let many = (0..3000).map(|_| Change::Upsert(id.clone())).collect();
        assert!(webhook(&outcome(many, None)).unwrap_err().contains("bytes"));
    }

    #[test]
    fn errors_when_an_action_is_malformed() {
        let action = |name: &str, schema: &str| crate::model::Action {
            name: name.into(),
            title: "t".into(),
            description: String::new(),
            input_schema: schema.into(),
        };
        let ok = action("send", r#"{"type":"object"}"#);
        assert!(actions(std::slice::from_ref(&ok)).is_ok());
        assert!(actions(&[ok.clone(), ok]).unwrap_err().contains("twice"));
        assert!(actions(&[action("Send!", "{}")]).is_err());
        assert!(
            actions(&[action("send", "not json")])
                .unwrap_err()
                .contains("JSON")
        );
        assert!(
            actions(&[action("send", r#"{"type": 12}"#)])
                .unwrap_err()
                .contains("invalid")
        );
    }

    #[test]
    fn errors_when_content_fields_are_oversized() {
        let base = Content {
            id: "a".into(),
            kind: "note".into(),
            title: "t".into(),
            body: Body::Text("hello".into()),
            mime_type: "text/plain".into(),
            url: None,
            author: None,
            created_at: None,
            updated_at: None,
            metadata: vec![],
            content_hash: "h".into(),
        };
        assert!(content(&base).is_ok());
        let mut c = base.clone();
        c.body = Body::Bytes(vec![0; MAX_BODY + 1]);
        assert!(content(&c).unwrap_err().contains("body"));
        let mut c = base.clone();
        c.url = Some("u".repeat(MAX_URL + 1));
        assert!(content(&c).unwrap_err().contains("url"));
        let mut c = base.clone();
        c.metadata = (0..=MAX_METADATA.0)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        assert!(content(&c).unwrap_err().contains("metadata"));
        let mut c = base;
        c.author = Some(crate::model::Author {
            id: None,
            name: "n".repeat(MAX_AUTHOR_FIELD + 1),
            email: None,
        });
        assert!(content(&c).unwrap_err().contains("author"));
    }
}
