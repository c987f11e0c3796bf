//! Checks on everything a plugin returns: the host never trusts a plugin's data shape.

use crate::bindings::Manifest;
use crate::bindings::api::{Account, Content, Page, Subscription, WebhookOutcome};
use crate::egress;

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
    Ok(())
}

/// Validate an account.
pub fn account(a: &Account) -> Result<(), String> {
    id("account id", &a.id)
}

/// Validate a webhook subscription.
pub fn subscription(s: &Subscription) -> Result<(), String> {
    id("subscription id", &s.id)
}

/// Validate fetched or inline content.
pub fn content(c: &Content) -> Result<(), String> {
    id("content id", &c.id)?;
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

/// Validate a page.
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
    for r in &p.resources {
        id("resource id", &r.id)?;
        if r.title.len() > MAX_TITLE {
            return Err(format!("title longer than {MAX_TITLE} bytes"));
        }
        if let Some(c) = &r.content {
            content(c)?;
            if c.id != r.id {
                return Err(format!(
                    "inline content id {:?} differs from resource id {:?}",
                    c.id, r.id
                ));
            }
        }
    }
    for d in &p.deleted {
        id("deleted id", d)?;
    }
    Ok(())
}

/// Validate a webhook outcome.
pub fn webhook(o: &WebhookOutcome) -> Result<(), String> {
    if o.changes.len() > MAX_PAGE {
        return Err(format!("a webhook announces at most {MAX_PAGE} changes"));
    }
    if let Some(r) = &o.response
        && (!(100..=599).contains(&r.status) || r.body.len() > MAX_WEBHOOK_RESPONSE)
    {
        return Err("webhook response must have a valid status and at most 1 MiB of body".into());
    }
    Ok(())
}
