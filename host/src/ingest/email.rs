//! Email (RFC 5322 / MIME) through mail-parser: the headers a reader searches by, the
//! text body (or the HTML one as text), attachment names, and quoted replies marked so
//! a search hit can tell the new message from the thread it quotes.

use mail_parser::{Address, MessageParser, MimeHeaders};

use super::extract::Skip;

/// Opens a block of quoted text.
pub const QUOTE_START: &str = "[quoted reply]";
/// Closes a block of quoted text.
pub const QUOTE_END: &str = "[end of quoted reply]";

/// The searchable text of a raw message.
pub fn extract(raw: &[u8]) -> Result<String, Skip> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| Skip("unreadable email: no headers".into()))?;
    let mut out = String::new();
    let mut header = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push_str(&format!("{name}: {v}\n"));
        }
    };
    header("Subject", msg.subject().map(str::to_string));
    header("From", msg.from().map(addresses));
    header("To", msg.to().map(addresses));
    header("Cc", msg.cc().map(addresses));
    header("Date", msg.date().map(|d| d.to_rfc3339()));
    let body = match msg.body_text(0) {
        Some(t) if msg.text_body_count() > 0 => t.into_owned(),
        _ => match msg.body_html(0) {
            Some(h) => super::extract::html(h.as_bytes())?.text,
            None => String::new(),
        },
    };
    out.push('\n');
    out.push_str(&mark_quotes(&body));
    let names: Vec<String> = msg
        .attachments()
        .filter_map(|a| a.attachment_name().map(str::to_string))
        .collect();
    if !names.is_empty() {
        out.push_str(&format!("\nAttachments: {}\n", names.join(", ")));
    }
    Ok(out)
}

fn addresses(a: &Address<'_>) -> String {
    a.iter()
        .map(|addr| match (&addr.name, &addr.address) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.to_string(),
            (None, Some(e)) => e.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Wrap `>`-quoted runs (and everything under an Outlook "Original Message" line) in
/// [`QUOTE_START`] / [`QUOTE_END`] lines, with the `>` markers removed.
fn mark_quotes(body: &str) -> String {
    let mut out = String::new();
    let mut quoting = false;
    let mut rest_quoted = false;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("-----Original Message-----") && !rest_quoted {
            if !quoting {
                out.push_str(QUOTE_START);
                out.push('\n');
            }
            rest_quoted = true;
            quoting = true;
            continue;
        }
        let quoted = rest_quoted || trimmed.starts_with('>');
        if quoted && !quoting {
            out.push_str(QUOTE_START);
            out.push('\n');
        } else if !quoted && quoting {
            out.push_str(QUOTE_END);
            out.push('\n');
        }
        quoting = quoted;
        let text = if rest_quoted {
            line
        } else {
            trimmed.trim_start_matches(['>', ' '])
        };
        out.push_str(if quoted { text } else { line });
        out.push('\n');
    }
    if quoting {
        out.push_str(QUOTE_END);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTIPART: &str = "From: Ada Lovelace <ada@example.com>\r\n\
To: Charles Babbage <charles@example.com>\r\n\
Subject: Re: The Analytical Engine\r\n\
Date: Mon, 2 Oct 1843 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
The engine could compose music.\r\n\
\r\n\
On Sunday Charles wrote:\r\n\
> Can it weave patterns?\r\n\
> Like a Jacquard loom.\r\n\
--XX\r\n\
Content-Type: application/pdf; name=\"notes.pdf\"\r\n\
Content-Disposition: attachment; filename=\"notes.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--XX--\r\n";

    #[test]
    fn works_when_multipart_mail_has_headers_body_quotes_and_attachments() {
        let text = extract(MULTIPART.as_bytes()).unwrap();
        assert!(
            text.contains("Subject: Re: The Analytical Engine"),
            "{text}"
        );
        assert!(text.contains("From: Ada Lovelace <ada@example.com>"));
        assert!(text.contains("To: Charles Babbage <charles@example.com>"));
        assert!(text.contains("Date: 1843-10-02T10:00:00"));
        assert!(text.contains(&format!(
            "{QUOTE_START}\nCan it weave patterns?\nLike a Jacquard loom.\n{QUOTE_END}"
        )));
        assert!(text.contains("The engine could compose music."));
        assert!(text.contains("Attachments: notes.pdf"));
    }

    #[test]
    fn works_when_only_html_body_and_outlook_quote() {
        let raw = "From: a@example.com\r\nSubject: Hi\r\nContent-Type: text/html\r\n\r\n\
            <p>New <b>text</b></p>";
        let text = extract(raw.as_bytes()).unwrap();
        assert!(text.contains("New text"), "{text}");
        let marked = mark_quotes("Thanks!\n-----Original Message-----\nFrom: b\nOld words");
        assert_eq!(
            marked,
            format!("Thanks!\n{QUOTE_START}\nFrom: b\nOld words\n{QUOTE_END}\n")
        );
    }

    #[test]
    fn errors_when_bytes_are_not_a_message() {
        assert!(extract(b"").is_err());
    }
}
