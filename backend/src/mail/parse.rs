//! Raw RFC 5322 bytes → `ParsedMail`: the fields the gateway decides on, the body to show
//! (the text part preferred; HTML-only mail converted to text, its HTML kept sanitised) and
//! the attachments. mail-parser does charsets, encoded words and MIME; this module only
//! picks from its result and never panics on odd input.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    /// Lower-cased, so lookups behave the same on both databases.
    pub address: String,
}

impl Mailbox {
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
    pub fn display(&self) -> String {
        if self.name.is_empty() {
            self.address.clone()
        } else {
            format!("{} <{}>", self.name, self.address)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// `Content-ID` without angle brackets, for `cid:` references in the HTML.
    pub content_id: Option<String>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ParsedMail {
    pub message_id: Option<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// The message as text (what the ticket shows before trimming quoted history).
    pub text: String,
    /// Sanitised HTML, when the message had an HTML part.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Top-level headers: lower-cased name, unfolded value.
    pub headers: Vec<(String, String)>,
    /// `multipart/report` report-type, when the message is a report (DSN, ARF).
    pub report_type: Option<String>,
    /// Every text part and nested message header block, for bounce analysis.
    pub report_text: String,
}

impl ParsedMail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// Every Message-ID this message refers to (In-Reply-To first, then References newest first).
    pub fn referenced_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = self.in_reply_to.clone();
        for r in self.references.iter().rev() {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the message is empty")]
    Empty,
    #[error("this is not an email message (no header could be read)")]
    NotMail,
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .filter_map(|m| {
            let address = m.address()?.trim().trim_matches(['<', '>']).to_lowercase();
            if !address.contains('@') || address.len() > 254 {
                return None;
            }
            Some(Mailbox { name: m.name().unwrap_or("").trim().chars().take(100).collect(), address })
        })
        .collect()
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<String> = match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter().map(|s| clean_id(&s)).filter(|s| !s.is_empty()).take(100).collect()
}

/// A Message-ID without angle brackets or surrounding space.
pub fn clean_id(s: &str) -> String {
    s.trim().trim_start_matches('<').trim_end_matches('>').trim().chars().take(250).collect()
}

fn unfold(v: &str) -> String {
    v.split(['\r', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

pub fn html_to_text(html: &str) -> String {
    html2text::from_read(html.as_bytes(), 100).unwrap_or_else(|_| html.to_string())
}

/// HTML safe to show: scripts, styles, event handlers and remote `javascript:` gone.
pub fn sanitize_html(html: &str) -> String {
    // `cid:` stays so inline images can be pointed at their stored attachment when filed.
    ammonia::Builder::default().add_url_schemes(["cid"]).clean(html).to_string()
}

pub fn parse(raw: &[u8]) -> Result<ParsedMail, ParseError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let msg = MessageParser::default().parse(raw).ok_or(ParseError::NotMail)?;
    let headers: Vec<(String, String)> =
        msg.headers_raw().map(|(k, v)| (k.to_ascii_lowercase(), unfold(v))).take(500).collect();
    if headers.is_empty() {
        return Err(ParseError::NotMail);
    }
    let from = mailboxes(msg.from()).into_iter().next();
    let mut text_parts: Vec<String> = Vec::new();
    let mut html_src: Option<String> = None;
    for id in &msg.text_body {
        if let Some(p) = msg.parts.get(*id as usize) {
            match &p.body {
                PartType::Text(t) => text_parts.push(t.to_string()),
                PartType::Html(h) if text_parts.is_empty() && html_src.is_none() => html_src = Some(h.to_string()),
                _ => {}
            }
        }
    }
    if html_src.is_none() {
        for id in &msg.html_body {
            if let Some(PartType::Html(h)) = msg.parts.get(*id as usize).map(|p| &p.body) {
                html_src = Some(h.to_string());
                break;
            }
        }
    }
    let text = if text_parts.is_empty() {
        html_src.as_deref().map(html_to_text).unwrap_or_default()
    } else {
        text_parts.join("\n")
    };
    let html = html_src.as_deref().map(sanitize_html);

    let mut attachments = Vec::new();
    for part in msg.attachments() {
        let (content_type, filename_default) = match part.content_type() {
            Some(ct) => {
                let t = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream")).to_lowercase();
                (t, "attachment")
            }
            None => ("application/octet-stream".to_string(), "attachment"),
        };
        let filename = part
            .attachment_name()
            .map(|n| n.replace(['/', '\\', '\0'], "_").chars().take(200).collect::<String>())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| {
                if content_type == "message/rfc822" {
                    "message.eml".into()
                } else {
                    filename_default.into()
                }
            });
        let content_id = part.content_id().map(clean_id).filter(|c| !c.is_empty());
        attachments.push(Attachment { filename, content_type, content_id, bytes: part.contents().to_vec() });
    }

    let report_type = msg
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .map(|ct| ct.attribute("report-type").unwrap_or("").to_ascii_lowercase());
    let mut report_text = String::new();
    for (i, part) in msg.parts.iter().enumerate() {
        if i == 0 {
            if let PartType::Text(t) = &part.body {
                report_text.push_str(t);
                report_text.push('\n');
            }
            continue;
        }
        match &part.body {
            PartType::Text(t) | PartType::Html(t) => {
                report_text.push_str(t);
                report_text.push('\n');
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                // message/delivery-status and text/rfc822-headers may arrive as binary parts.
                if let Ok(s) = std::str::from_utf8(b) {
                    report_text.push_str(s);
                    report_text.push('\n');
                }
            }
            PartType::Message(m) => {
                let raw = m.raw_message();
                let head_end = raw
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
                    .unwrap_or(raw.len());
                report_text.push_str(&String::from_utf8_lossy(&raw[..head_end]));
                report_text.push('\n');
            }
            PartType::Multipart(_) => {}
        }
    }

    Ok(ParsedMail {
        message_id: msg.message_id().map(clean_id).filter(|s| !s.is_empty()),
        from,
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        subject: msg.subject().map(unfold).unwrap_or_default().chars().take(500).collect(),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        text,
        html,
        attachments,
        headers,
        report_type,
        report_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_text_part_and_keeps_sanitised_html() {
        let raw = b"From: =?utf-8?q?Ren=C3=A9e?= <Renee@Example.COM>\r\nTo: support@msp.test\r\nSubject: =?utf-8?b?SMOpbGxv?=\r\n\
Message-ID: <abc@example.com>\r\nIn-Reply-To: <x1@msp.test>\r\nReferences: <x0@msp.test> <x1@msp.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain words\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x()\">html <script>bad()</script>words</p>\r\n--b--\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.from.as_ref().unwrap().address, "renee@example.com");
        assert_eq!(m.from.as_ref().unwrap().name, "Renée");
        assert_eq!(m.subject, "Héllo");
        assert_eq!(m.message_id.as_deref(), Some("abc@example.com"));
        assert!(m.text.contains("plain words") && !m.text.contains("html"));
        let html = m.html.clone().unwrap();
        assert!(html.contains("words") && !html.contains("script") && !html.contains("onclick"), "{html}");
        assert_eq!(m.referenced_ids(), vec!["x1@msp.test".to_string(), "x0@msp.test".to_string()]);
    }

    #[test]
    fn html_only_mail_becomes_text() {
        let raw =
            b"From: a@b.example\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n<h1>Title</h1><p>Body &amp; more</p>";
        let m = parse(raw).unwrap();
        assert!(m.text.contains("Title") && m.text.contains("Body & more"), "{}", m.text);
        assert!(m.html.is_some());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse(b"").is_err());
        assert!(parse(b"   \r\n").is_err());
    }
}
