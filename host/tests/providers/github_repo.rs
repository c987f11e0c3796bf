//! The repositories the fake GitHub serves, as GitHub's REST API shows them: issues
//! (pull requests among them), comments, review comments, recursive trees with blob
//! SHAs, repository objects.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `2026-03-01T00:00:00Z` plus `minute` minutes, as GitHub writes times.
pub fn at(minute: u64) -> String {
    let (d, h, m) = (1 + minute / 1440, (minute / 60) % 24, minute % 60);
    format!("2026-03-{d:02}T{h:02}:{m:02}:00Z")
}

pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))[..40].to_string()
}

#[derive(Default, Clone)]
pub struct Repo {
    pub id: u64,
    pub full_name: String,
    pub branch: String,
    pub admin: bool,
    pub files: BTreeMap<String, Vec<u8>>,
    pub issues: BTreeMap<u64, Value>,
    pub comments: BTreeMap<u64, Vec<Value>>,
    pub review_comments: BTreeMap<u64, Vec<Value>>,
    pub releases: Vec<Value>,
    pub hooks: Vec<Value>,
}

impl Repo {
    pub fn html(&self) -> String {
        format!("https://ghe.rivers.test/{}", self.full_name)
    }

    /// An issue (or, with `pull`, a pull request) as the issues endpoint shows it.
    pub fn issue(&mut self, n: u64, pull: bool, title: &str, body: &str, user: &str, minute: u64) {
        let mut v = json!({"id": 9_000_000 + self.id * 10_000 + n, "number": n,
            "node_id": format!("I_kwDO{n}"), "title": title, "body": body, "state": "open",
            "locked": false, "labels": [{"id": 1, "name": "flood", "color": "1d76db"}],
            "user": {"login": user, "id": 7, "type": "User"}, "comments": 0,
            "created_at": at(minute), "updated_at": at(minute), "closed_at": null,
            "author_association": "MEMBER",
            "html_url": format!("{}/{}/{n}", self.html(), if pull { "pull" } else { "issues" }),
            "url": format!("https://api.github.com/repos/{}/issues/{n}", self.full_name)});
        if pull {
            v["pull_request"] = json!({"url": format!("https://api.github.com/repos/{}/pulls/{n}", self.full_name),
                "html_url": format!("{}/pull/{n}", self.html()), "merged_at": null});
        }
        self.issues.insert(n, v);
    }

    pub fn comment(&mut self, n: u64, user: &str, body: &str, minute: u64) {
        let list = self.comments.entry(n).or_default();
        list.push(
            json!({"id": 5_000_000 + n * 100 + list.len() as u64, "body": body,
            "user": {"login": user, "id": 8, "type": "User"}, "created_at": at(minute),
            "updated_at": at(minute), "author_association": "MEMBER"}),
        );
        let count = list.len();
        let issue = self.issues.get_mut(&n).unwrap();
        issue["comments"] = json!(count);
        issue["updated_at"] = json!(at(minute));
    }

    pub fn review_comment(&mut self, n: u64, user: &str, path: &str, body: &str, minute: u64) {
        let list = self.review_comments.entry(n).or_default();
        list.push(
            json!({"id": 6_000_000 + n * 100 + list.len() as u64, "body": body, "path": path,
            "diff_hunk": "@@ -1,3 +1,4 @@", "user": {"login": user, "id": 8},
            "created_at": at(minute), "updated_at": at(minute)}),
        );
        self.issues.get_mut(&n).unwrap()["updated_at"] = json!(at(minute));
    }

    pub fn tree(&self) -> (String, Vec<Value>) {
        let mut entries = Vec::new();
        let mut dirs = std::collections::BTreeSet::new();
        for (path, bytes) in &self.files {
            let mut p = path.as_str();
            while let Some((d, _)) = p.rsplit_once('/') {
                dirs.insert(d.to_string());
                p = d;
            }
            entries.push(json!({"path": path, "mode": "100644", "type": "blob",
                "sha": sha(bytes), "size": bytes.len(), "url": "https://api.github.com/blob"}));
        }
        for d in dirs {
            entries.push(
                json!({"path": d, "mode": "040000", "type": "tree", "sha": sha(d.as_bytes())}),
            );
        }
        let whole = serde_json::to_vec(&entries).unwrap();
        (sha(&whole), entries)
    }

    pub fn meta(&self) -> Value {
        json!({"id": self.id, "node_id": "R_kgDO", "name": self.full_name.split('/').nth(1),
            "full_name": self.full_name, "private": true, "html_url": self.html(),
            "default_branch": self.branch, "has_issues": true,
            "permissions": {"admin": self.admin, "push": true, "pull": true}})
    }
}
