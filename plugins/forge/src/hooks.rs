//! One webhook subscription standing for hooks on many repositories: the host keeps one
//! subscription per integration, the provider has one hook per repository.

use tributary_sdk::prelude::*;

/// The subscription id of hooks `(repository, hook id)`.
///
/// ```
/// use tributary_forge::hooks::{encode, decode};
/// let id = encode(&[("a/b".into(), "12".into()), ("c/d".into(), "7".into())]);
/// assert_eq!(decode(&id), vec![("a/b".to_string(), "12".to_string()), ("c/d".to_string(), "7".to_string())]);
/// assert!(decode("").is_empty());
/// ```
pub fn encode(hooks: &[(String, String)]) -> String {
    hooks
        .iter()
        .map(|(repo, id)| format!("{repo}={id}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hooks of a subscription id made by [`encode`].
pub fn decode(id: &str) -> Vec<(String, String)> {
    id.split_whitespace()
        .filter_map(|p| p.rsplit_once('='))
        .map(|(r, h)| (r.to_string(), h.to_string()))
        .collect()
}

/// Create a hook on every repository with `create`; repositories where the person may
/// not (no admin right, gone) are logged and left to scheduled walks. Forbidden when
/// no hook at all could be made.
pub fn subscribe_all(
    repos: &[String],
    mut create: impl FnMut(&str) -> Result<String, Error>,
) -> Result<Subscription, Error> {
    let mut made = Vec::new();
    let mut refused = Vec::new();
    for repo in repos {
        match create(repo) {
            Ok(id) => made.push((repo.clone(), id)),
            Err(e @ (Error::Forbidden(_) | Error::NotFound(_) | Error::Other(_))) => {
                log::warn(&format!("no webhook on {repo}: {e:?}"));
                refused.push(repo.clone());
            }
            Err(e) => return Err(e),
        }
    }
    if made.is_empty() {
        return Err(Error::Forbidden(format!(
            "no webhook could be created on {}: the token needs the right to manage hooks",
            refused.join(", ")
        )));
    }
    Ok(Subscription {
        id: encode(&made),
        expires_at: None,
        resource: None,
    })
}

/// Remove every hook of `subscription` with `delete`; one already gone is no error.
pub fn unsubscribe_all(
    subscription: &Subscription,
    mut delete: impl FnMut(&str, &str) -> Result<(), Error>,
) -> Result<(), Error> {
    for (repo, id) in decode(&subscription.id) {
        match delete(&repo, &id) {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
