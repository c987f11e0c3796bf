//! Conversations as documents: a chat thread (or a message on its own) rendered as one
//! text, so a search finds the whole conversation by words from any message in it. The
//! chat providers (Slack, Discord) differ in their APIs, not in what a transcript is.

/// One message of a [`Transcript`].
///
/// ```
/// use tributary_sdk::chat::Message;
/// let m = Message::new("Ada", Some(1_700_000_000_000), "levees hold");
/// assert_eq!(m.author, "Ada");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it, as a person reads it (display name, not an id).
    pub author: String,
    /// When it was sent (ms since the epoch).
    pub sent_at: Option<i64>,
    /// When it was last edited, if it was (ms since the epoch).
    pub edited_at: Option<i64>,
    /// The text, already turned from the provider's markup into plain text.
    pub text: String,
    /// Names of attached files (never their bytes).
    pub files: Vec<String>,
}

impl Message {
    /// A message with no edit and no files.
    ///
    /// ```
    /// # use tributary_sdk::chat::Message;
    /// assert!(Message::new("Ada", None, "hi").files.is_empty());
    /// ```
    pub fn new(author: impl Into<String>, sent_at: Option<i64>, text: impl Into<String>) -> Self {
        Message {
            author: author.into(),
            sent_at,
            text: text.into(),
            ..Default::default()
        }
    }
}

/// A conversation (a thread with its replies, or one message) under a heading.
///
/// ```
/// use tributary_sdk::chat::{Message, Transcript};
/// let mut t = Transcript::new("#rivers");
/// t.push(Message::new("Ada", Some(1_000), "Is the levee holding?"));
/// let mut reply = Message::new("Grace", Some(2_000), "Yes, since **Tuesday**");
/// reply.edited_at = Some(5_000);
/// t.push(reply);
/// let text = t.render();
/// assert!(text.starts_with("#rivers\n\nAda · 1970-01-01T00:00:01Z\nIs the levee holding?"));
/// assert!(text.contains("Grace · 1970-01-01T00:00:02Z (edited)\nYes, since **Tuesday**"));
/// assert_eq!(t.updated_at(), Some(5_000));
/// assert_eq!(t.created_at(), Some(1_000));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    heading: String,
    messages: Vec<Message>,
}

impl Transcript {
    /// An empty transcript; `heading` is its first line (channel, thread subject).
    ///
    /// ```
    /// # use tributary_sdk::chat::Transcript;
    /// assert!(Transcript::new("#general").is_empty());
    /// ```
    pub fn new(heading: impl Into<String>) -> Self {
        Transcript {
            heading: heading.into(),
            messages: Vec::new(),
        }
    }

    /// Add a message (in the order they were sent).
    ///
    /// ```
    /// # use tributary_sdk::chat::{Message, Transcript};
    /// let mut t = Transcript::new("#general");
    /// t.push(Message::new("Ada", None, "hi"));
    /// assert_eq!(t.len(), 1);
    /// ```
    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
    }

    /// How many messages it holds.
    ///
    /// ```
    /// # use tributary_sdk::chat::Transcript;
    /// assert_eq!(Transcript::new("x").len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether it holds no message.
    ///
    /// ```
    /// # use tributary_sdk::chat::Transcript;
    /// assert!(Transcript::new("x").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The first message, when there is one (the thread's opener).
    ///
    /// ```
    /// # use tributary_sdk::chat::{Message, Transcript};
    /// let mut t = Transcript::new("x");
    /// t.push(Message::new("Ada", None, "first"));
    /// assert_eq!(t.first().unwrap().text, "first");
    /// ```
    pub fn first(&self) -> Option<&Message> {
        self.messages.first()
    }

    /// When the conversation started: the first message's time.
    ///
    /// ```
    /// # use tributary_sdk::chat::{Message, Transcript};
    /// assert_eq!(Transcript::new("x").created_at(), None);
    /// ```
    pub fn created_at(&self) -> Option<i64> {
        self.messages.iter().filter_map(|m| m.sent_at).min()
    }

    /// When it last changed: the latest send or edit. A reply or an edit moves it on,
    /// which is what lets the host tell a newer copy from a stale one.
    ///
    /// ```
    /// # use tributary_sdk::chat::{Message, Transcript};
    /// let mut t = Transcript::new("x");
    /// t.push(Message::new("Ada", Some(7), "a"));
    /// assert_eq!(t.updated_at(), Some(7));
    /// ```
    pub fn updated_at(&self) -> Option<i64> {
        self.messages
            .iter()
            .flat_map(|m| [m.sent_at, m.edited_at])
            .flatten()
            .max()
    }

    /// The text: the heading, then each message as `author · time (edited)`, its text
    /// and its files, separated by blank lines.
    ///
    /// ```
    /// # use tributary_sdk::chat::{Message, Transcript};
    /// let mut t = Transcript::new("#x");
    /// let mut m = Message::new("Ada", None, "see attached");
    /// m.files.push("plan.pdf".into());
    /// t.push(m);
    /// assert_eq!(t.render(), "#x\n\nAda\nsee attached\nFiles: plan.pdf\n");
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(64 + self.messages.len() * 96);
        out.push_str(&self.heading);
        out.push('\n');
        for m in &self.messages {
            out.push('\n');
            out.push_str(&m.author);
            // Whole seconds: a reader needs no milliseconds.
            if let Some(at) = m
                .sent_at
                .and_then(|ms| crate::time::format_rfc3339(ms.div_euclid(1000) * 1000))
            {
                out.push_str(" · ");
                out.push_str(&at);
            }
            if m.edited_at.is_some() {
                out.push_str(" (edited)");
            }
            out.push('\n');
            if !m.text.is_empty() {
                out.push_str(&m.text);
                out.push('\n');
            }
            if !m.files.is_empty() {
                out.push_str("Files: ");
                out.push_str(&m.files.join(", "));
                out.push('\n');
            }
        }
        out
    }
}

/// The first line of `text`, cut to `max` characters (with `…` when cut): a title.
///
/// ```
/// use tributary_sdk::chat::headline;
/// assert_eq!(headline("Levees\nsecond line", 80), "Levees");
/// assert_eq!(headline("abcdef", 3), "abc…");
/// assert_eq!(headline("  ", 3), "");
/// ```
pub fn headline(text: &str, max: usize) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(max).collect();
    cut.push('…');
    cut
}

/// Replace each `<…>` token of chat markup (Slack's `<@U1>` and `<url|label>`, Discord's
/// `<@id>`, `<#id>`, `<:emoji:id>`) with what `token` makes of its inside; text outside
/// tokens, and an unclosed `<`, stay as they are.
///
/// ```
/// use tributary_sdk::chat::replace_tokens;
/// let out = replace_tokens("hi <@U1>, see <#C2> <", |inner| {
///     Ok::<_, ()>(match inner { "@U1" => "@Ada".to_string(), other => format!("[{other}]") })
/// });
/// assert_eq!(out.unwrap(), "hi @Ada, see [#C2] <");
/// ```
pub fn replace_tokens<E>(
    text: &str,
    mut token: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        out.push_str(&token(&after[..close])?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
