//! Conditional OAuth scopes. A manifest's scope entry is either a scope, always requested,
//! or `"<condition> <scope>"`, requested only when the condition holds for the connection:
//! `full-content` / `metadata-only` (the integration's storage strategy: Drive asks for
//! `drive.metadata.readonly` instead of `drive.readonly`) or `action:<name>` (an admin
//! enabled that action for the provider: Gmail's `gmail.compose` for drafts). A scope
//! never contains a space (RFC 6749 §3.3), so the form is unambiguous and needs no WIT
//! change; `docs/wit-design.md` documents it for plugin authors.

/// What decides the conditional scopes of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Conditions<'a> {
    /// The integration keeps metadata only.
    pub metadata_only: bool,
    /// Actions an admin enabled for the provider.
    pub enabled_actions: &'a [String],
}

/// An entry split into its condition (if any) and its scope.
fn split(entry: &str) -> (Option<&str>, &str) {
    match entry.split_once(' ') {
        Some((cond, scope)) => (Some(cond), scope.trim()),
        None => (None, entry),
    }
}

/// The scopes to request for a connection under `c`.
///
/// ```
/// use tributary::scopes::{Conditions, requested};
/// let entries = vec!["read".to_string(), "action:create_draft compose".to_string(),
///     "metadata-only meta".to_string(), "full-content all".to_string()];
/// let on = vec!["create_draft".to_string()];
/// let c = Conditions { metadata_only: false, enabled_actions: &on };
/// assert_eq!(requested(&entries, c), vec!["read", "compose", "all"]);
/// let c = Conditions { metadata_only: true, enabled_actions: &[] };
/// assert_eq!(requested(&entries, c), vec!["read", "meta"]);
/// ```
pub fn requested(entries: &[String], c: Conditions<'_>) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| {
            let (cond, scope) = split(e);
            let wanted = match cond {
                None => true,
                Some("full-content") => !c.metadata_only,
                Some("metadata-only") => c.metadata_only,
                Some(other) => other
                    .strip_prefix("action:")
                    .is_some_and(|a| c.enabled_actions.iter().any(|e| e == a)),
            };
            wanted.then(|| scope.to_string())
        })
        .collect()
}

/// The scopes action `name` needs beyond the unconditional ones.
///
/// ```
/// let entries = vec!["read".to_string(), "action:create_draft compose".to_string()];
/// assert_eq!(tributary::scopes::for_action(&entries, "create_draft"), vec!["compose"]);
/// assert!(tributary::scopes::for_action(&entries, "other").is_empty());
/// ```
pub fn for_action(entries: &[String], name: &str) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match split(e) {
            (Some(cond), scope) if cond.strip_prefix("action:") == Some(name) => {
                Some(scope.to_string())
            }
            _ => None,
        })
        .collect()
}

/// Check the entries of a manifest whose actions are `actions`: a condition must be one
/// of the three forms and name a declared action.
///
/// ```
/// let ok = vec!["a".to_string(), "action:draft b".to_string()];
/// assert!(tributary::scopes::validate(&ok, &["draft"]).is_ok());
/// let bad = vec!["sometimes b".to_string()];
/// assert!(tributary::scopes::validate(&bad, &[]).is_err());
/// ```
pub fn validate(entries: &[String], actions: &[&str]) -> Result<(), String> {
    for e in entries {
        let (cond, scope) = split(e);
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err(format!("scope entry {e:?} is not `[condition ]scope`"));
        }
        match cond {
            None | Some("full-content") | Some("metadata-only") => {}
            Some(c) => match c.strip_prefix("action:") {
                Some(a) if actions.contains(&a) => {}
                Some(a) => return Err(format!("scope entry {e:?} names no declared action {a:?}")),
                None => {
                    return Err(format!(
                        "scope entry {e:?}: the condition is not full-content, metadata-only or action:<name>"
                    ));
                }
            },
        }
    }
    Ok(())
}
