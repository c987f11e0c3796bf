//! What the code-hosting provider plugins (GitHub, GitLab) share: which files of a
//! repository are documents ([`docs`]), the resumable walk over repositories and their
//! phases with per-phase checkpoints ([`walk`]), an issue or merge request with its
//! comments as one searchable resource ([`thread`]), the documents of a tree listed with
//! deletions found by difference ([`tree`]), and one webhook subscription that stands for
//! hooks on many repositories ([`hooks`]).

pub mod docs;
pub mod hooks;
pub mod thread;
pub mod tree;
pub mod walk;

use serde_json::Value;
use tributary_sdk::http::Response;
use tributary_sdk::{Account, Config, Error};

/// Repositories one integration may sync.
pub const MAX_REPOS: usize = 100;
/// Repositories synced when none are named and no maximum is set.
pub const DEFAULT_MAX_REPOS: i64 = 30;

/// The repositories of an integration: those named in config `key`, else the first of
/// `listed()` (the person's, most recent first), up to config `max_key` (default 30, at
/// most [`MAX_REPOS`]).
///
/// ```
/// use tributary_sdk::Config;
/// let c = Config::from(vec![("max_repos".to_string(), "2".to_string())]);
/// let all = || Ok(vec!["a/1".to_string(), "a/2".into(), "a/3".into()]);
/// assert_eq!(tributary_forge::chosen_repos(&c, "repos", "max_repos", all).unwrap(), vec!["a/1", "a/2"]);
/// let c = Config::from(vec![("repos".to_string(), "b/1".to_string())]);
/// assert_eq!(tributary_forge::chosen_repos(&c, "repos", "max_repos", || unreachable!()).unwrap(), vec!["b/1"]);
/// ```
pub fn chosen_repos(
    config: &Config,
    key: &str,
    max_key: &str,
    listed: impl FnOnce() -> Result<Vec<String>, Error>,
) -> Result<Vec<String>, Error> {
    let named = named_repos(config, key, MAX_REPOS)?;
    if !named.is_empty() {
        return Ok(named);
    }
    let max = config.number(max_key, DEFAULT_MAX_REPOS)?;
    let max = usize::try_from(max).unwrap_or(0).clamp(1, MAX_REPOS);
    Ok(listed()?.into_iter().take(max).collect())
}

/// The account of a `/user` answer (GitHub and GitLab share its shape): numeric `id`,
/// `name` (else the handle under `handle_key`), `email`.
///
/// ```
/// let me = serde_json::json!({"id": 7, "login": "ada", "name": "", "email": null});
/// let a = tributary_forge::account(&me, "login").unwrap();
/// assert_eq!((a.id.as_str(), a.name.as_str(), a.email), ("7", "ada", None));
/// assert!(tributary_forge::account(&serde_json::json!({}), "login").is_err());
/// ```
pub fn account(me: &Value, handle_key: &str) -> Result<Account, Error> {
    let handle = me[handle_key]
        .as_str()
        .ok_or_else(|| Error::invalid_input(format!("/user named no {handle_key}")))?;
    Ok(Account {
        id: me["id"]
            .as_u64()
            .map_or_else(|| handle.to_string(), |i| i.to_string()),
        name: me["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(handle)
            .to_string(),
        email: me["email"].as_str().map(str::to_string),
    })
}

/// The kv key of a conditional GET of `url`: its path and query below the API root.
///
/// ```
/// assert_eq!(tributary_forge::cache_key("https://a/api/v4", "https://a/api/v4/projects/1"), "get/projects/1");
/// ```
pub fn cache_key(base: &str, url: &str) -> String {
    format!("get{}", url.strip_prefix(base).unwrap_or(url))
}

/// Every item of a paged JSON-array listing (comments, notes, hooks), following
/// [`tributary_sdk::paging::next_url`]; at most `max_pages` pages, each read by `get`.
pub fn all_pages(
    first: &str,
    max_pages: usize,
    mut get: impl FnMut(&str) -> Result<Response, Error>,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        let resp = get(&url)?;
        if let Value::Array(items) = resp.json()? {
            out.extend(items);
        }
        pages += 1;
        if pages < max_pages {
            next = tributary_sdk::paging::next_url(&url, &resp);
        }
    }
    Ok(out)
}

/// Whether `path` is a repository path as GitHub and GitLab allow them (`owner/name`,
/// `group/sub/project`): never an empty, `.` or `..` segment or another separator, so
/// an id or a config value cannot walk to another API path.
///
/// ```
/// assert!(tributary_forge::valid_path("rivers/sub/weirs.io"));
/// assert!(!tributary_forge::valid_path("rivers/../admin"));
/// assert!(!tributary_forge::valid_path("rivers/a?b"));
/// ```
pub fn valid_path(path: &str) -> bool {
    path.len() <= 255
        && path.split('/').all(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

/// Whether `path` is a file path inside a repository that stays inside it: no empty,
/// `.` or `..` segment (an HTTP client would resolve those into another API path).
///
/// ```
/// assert!(tributary_forge::valid_file_path("docs/ops/runbook.md"));
/// assert!(!tributary_forge::valid_file_path("../../user"));
/// assert!(!tributary_forge::valid_file_path("docs//a.md"));
/// ```
pub fn valid_file_path(path: &str) -> bool {
    path.len() <= 4096
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// The repositories (GitHub `owner/name`, GitLab `group/project` or numeric id) named in
/// config `key`, comma- or whitespace-separated, in order, without repeats; at most `max`.
///
/// ```
/// use tributary_sdk::Config;
/// let c = Config::from(vec![("repos".to_string(), "a/b, c/d\na/b".to_string())]);
/// assert_eq!(tributary_forge::named_repos(&c, "repos", 10).unwrap(), vec!["a/b", "c/d"]);
/// let c = Config::from(vec![("repos".to_string(), "a/b c/d".to_string())]);
/// assert!(tributary_forge::named_repos(&c, "repos", 1).is_err());
/// let c = Config::from(vec![("repos".to_string(), "../etc".to_string())]);
/// assert!(tributary_forge::named_repos(&c, "repos", 10).is_err());
/// ```
pub fn named_repos(config: &Config, key: &str, max: usize) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for name in config
        .get(key)
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim().trim_matches('/'))
        .filter(|s| !s.is_empty())
    {
        if !valid_path(name) {
            return Err(Error::invalid_config(format!(
                "{key}: {name:?} is not a repository path"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    if out.len() > max {
        return Err(Error::invalid_config(format!(
            "{key}: {} repositories named, at most {max} are synced by one integration",
            out.len()
        )));
    }
    Ok(out)
}
