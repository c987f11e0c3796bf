//! An issue, pull request or merge request with its comments as one resource: a search
//! finds the issue by words from any comment, and the whole discussion comes back.

use tributary_sdk::chat::{Message, Transcript};
use tributary_sdk::prelude::*;

/// An issue-like discussion.
#[derive(Debug, Clone, Default)]
pub struct Thread {
    /// Resource id.
    pub id: String,
    /// `issue`, `pull_request`, `merge_request`.
    pub kind: String,
    /// `owner/repo` or `group/project`.
    pub repo: String,
    /// What people call it: `#12` (GitHub), `#12` / `!7` (GitLab).
    pub reference: String,
    /// Title.
    pub title: String,
    /// `open`, `closed`, `merged`, …
    pub state: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Who opened it.
    pub author: String,
    /// Opened at (ms).
    pub created_at: Option<i64>,
    /// Last updated at (ms).
    pub updated_at: Option<i64>,
    /// Where a person reads it.
    pub url: Option<String>,
    /// The description (Markdown).
    pub body: String,
    /// Comments in order, each a message.
    pub comments: Vec<Message>,
}

impl Thread {
    /// The content: heading (repository, reference, title, state, labels), the
    /// description, then every comment with its author and time.
    ///
    /// ```
    /// use tributary_forge::thread::Thread;
    /// use tributary_sdk::chat::Message;
    /// let t = Thread {
    ///     id: "o/r/issues/1".into(), kind: "issue".into(), repo: "o/r".into(),
    ///     reference: "#1".into(), title: "Levee breach".into(), state: "open".into(),
    ///     author: "ada".into(), body: "Water over the top".into(),
    ///     comments: vec![Message::new("bob", None, "sandbags sent")],
    ///     ..Default::default()
    /// };
    /// let c = t.content();
    /// assert_eq!(c.title, "o/r#1: Levee breach");
    /// let tributary_sdk::Body::Text(text) = &c.body else { panic!() };
    /// assert!(text.contains("sandbags sent") && text.contains("Water over the top"));
    /// ```
    pub fn content(&self) -> Content {
        let mut heading = format!(
            "{}{} {} [{}]",
            self.repo, self.reference, self.title, self.state
        );
        if !self.labels.is_empty() {
            heading.push_str(" labels: ");
            heading.push_str(&self.labels.join(", "));
        }
        let mut t = Transcript::new(heading);
        t.push(Message::new(&self.author, self.created_at, &self.body));
        for c in &self.comments {
            t.push(c.clone());
        }
        let title = format!("{}{}: {}", self.repo, self.reference, self.title);
        let mut c = Content::text(&self.id, &self.kind, &title, &t.render())
            .with_times(self.created_at, self.updated_at.or(t.updated_at()))
            .with_author(self.author.clone(), None)
            .with_meta("repository", self.repo.clone())
            .with_meta("state", self.state.clone());
        if let Some(u) = &self.url {
            c = c.with_url(u.clone());
        }
        c
    }
}
