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
use tributary_sdk::{Config, Error};

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
