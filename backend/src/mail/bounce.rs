//! Bounces: delivery-status notifications (`multipart/report; report-type=delivery-status`)
//! and the common non-standard non-delivery reports, classified from the message's own
//! fields and text. A hard bounce (the address does not exist, the domain does not exist,
//! the mailbox moved) flags the address undeliverable; anything else is soft. Abuse reports
//! (ARF) and vacation replies are not bounces at all.

use super::parse::ParsedMail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Not a report of any kind.
    None,
    /// An abuse/feedback report (ARF).
    Feedback,
    /// An out-of-office or vacation reply.
    Vacation,
    /// A delivery-status notification saying the mail was delivered or relayed.
    Delivered,
    /// A failed (or given-up) delivery, one entry per failed recipient.
    Failed(Vec<Failure>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub recipient: Option<String>,
    pub status: Option<String>,
    pub diagnostic: String,
    pub hard: bool,
}

const HARD: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "user not found",
    "unknown recipient",
    "recipient unknown",
    "no such mailbox",
    "no such recipient",
    "no such address",
    "no such account",
    "does not exist",
    "doesn't exist",
    "not exist",
    "invalid recipient",
    "invalid mailbox",
    "mailbox not found",
    "mailbox unavailable",
    "unknown local user",
    "unknown local-user",
    "unknown mailbox",
    "unknown address",
    "address unknown",
    "not a valid mailbox",
    "user doesn't have",
    "user doesnt have",
    "no mailbox",
    "bad destination mailbox",
    "unrouteable address",
    "host or domain name not found",
    "host not found",
    "domain not found",
    "name service error",
    "no such domain",
    "unknown domain",
    "domain does not exist",
    "no mx",
    "host unknown",
    "account is disabled",
    "account has been terminated",
    "has moved",
    "no longer valid",
    "no longer available",
    "no longer in use",
    "not our customer",
    "not listed in",
    "domain is not reachable",
    "inactive email",
    "doesn't have a",
    "does not accept mail",
    "indicated no mx",
    "mx or srv record indicated no",
    "no mx found",
    "address rejected",
    "invalid recipient",
    "mailbox is disabled",
    "unknown or illegal alias",
    "recipient not found",
    "addressee unknown",
    "is not a known user",
    "invalid address",
    "user_unknown",
    "does not have an account",
    "null mx",
    "mailbox does not exist",
    "unknown alias",
    "user invalid",
    "address couldn't be found",
    "address not found",
    "recipient name is not recognized",
    "invalid final delivery userid",
    "no valid recipients",
];

const SOFT: &[&str] = &[
    "mailbox full",
    "mailbox is full",
    "mail box full",
    "quota",
    "insufficient disk",
    "insufficient storage",
    "temporar",
    "try again",
    "deferred",
    "greylist",
    "timed out",
    "time out",
    "timeout",
    "expired",
    "too many",
    "suspend",
    "spam",
    "blocked",
    "blacklist",
    "reputation",
    "policy",
    "relay",
    "too big",
    "too large",
    "size",
    "virus",
    "authentic",
    "spf",
    "dkim",
    "dmarc",
    "rate",
    "ptr",
    "reverse",
    "rejected",
    "filter",
    "content",
    "tls",
    "locked",
    "disabled",
    "inactive",
];

const HARD_STATUS: &[&str] = &["5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.4.4"];

fn any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

/// The first enhanced status code (`X.Y.Z`, X in 4/5) in a text.
fn find_status(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    for i in 0..b.len() {
        if !(b[i] == b'4' || b[i] == b'5') || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            continue;
        }
        if b.get(i + 1) != Some(&b'.') {
            continue;
        }
        let y = digits(i + 2);
        if y == 0 || y > 3 || b.get(i + 2 + y) != Some(&b'.') {
            continue;
        }
        let zs = i + 3 + y;
        let z = digits(zs);
        if z == 0 || z > 3 {
            continue;
        }
        if b.get(zs + z).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.') {
            continue;
        }
        return Some(text[i..zs + z].to_string());
    }
    None
}

/// A field `name: value` at the start of a line (continuation lines joined).
fn field(block: &str, name: &str) -> Option<String> {
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let l = line.trim_start();
        let matches = l.get(..name.len()).is_some_and(|h| h.eq_ignore_ascii_case(name))
            && l.get(name.len()..).is_some_and(|r| r.starts_with(':'));
        if matches {
            let mut v = l.get(name.len() + 1..).unwrap_or("").trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    v.push(' ');
                    v.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(v);
        }
    }
    None
}

/// Phrases that make an otherwise "unknown user" answer a suspended or policy rejection.
const NOT_HARD: &[&str] = &[
    "temporar",
    "locked",
    "account disabled",
    "disabled recipient",
    "mailbox disabled",
    "sender address rejected",
    "domain of sender",
    "account has been disabled",
    "is disabled",
];

fn decide(status: Option<&str>, hay: &str, whole: &str) -> bool {
    if any(hay, NOT_HARD) || status.is_some_and(|s| s == "5.1.7" || s == "5.1.8") {
        return false;
    }
    let data_phase =
        whole.contains("in reply to end of data") || whole.contains("after end of data") || whole.contains(">>> data");
    let hard_txt = any(hay, HARD);
    let soft_txt = any(hay, SOFT);
    if status.is_some_and(|s| s.starts_with('4')) {
        return false;
    }
    let hard_st = status.is_some_and(|s| HARD_STATUS.contains(&s));
    if status.is_some_and(|s| s.starts_with("5.2.") || s.starts_with("5.7.")) && !hard_txt {
        return false;
    }
    if status == Some("5.2.2") {
        return false;
    }
    if data_phase && !hard_st {
        return false;
    }
    if hard_txt {
        return true;
    }
    hard_st && !soft_txt
}

fn is_daemon(m: &ParsedMail) -> bool {
    let from = m.header("from").unwrap_or("").to_lowercase();
    ["mailer-daemon", "postmaster", "mail delivery", "mailerdaemon", "maildelivery", "mail-daemon"]
        .iter()
        .any(|p| from.contains(p))
}

fn looks_like_ndr(m: &ParsedMail) -> bool {
    let s = m.subject.to_lowercase();
    const SUBJECTS: &[&str] = &[
        "undeliver",
        "delivery status",
        "delivery failure",
        "delivery failed",
        "failure notice",
        "returned mail",
        "mail delivery",
        "non-delivery",
        "nondelivery",
        "non delivery",
        "could not be delivered",
        "not delivered",
        "delivery notification",
        "delivery problem",
        "mail system error",
        "rejected",
        "failed",
        "bounce",
        "error",
    ];
    is_daemon(m) || any(&s, SUBJECTS)
}

/// Classifies a message as a report.
pub fn classify(m: &ParsedMail) -> Report {
    let whole = m.report_text.to_lowercase();
    let rt = m.report_type.as_deref().unwrap_or("");
    if rt == "feedback-report" || (rt != "delivery-status" && whole.contains("feedback-type:")) {
        return Report::Feedback;
    }
    let auto = m.header("auto-submitted").unwrap_or("").to_lowercase();
    let subject = m.subject.to_lowercase();
    let vacation_subject = [
        "out of office",
        "out of the office",
        "vacation",
        "autoreply",
        "auto-reply",
        "automatic reply",
        "abwesen",
        "absence",
    ]
    .iter()
    .any(|p| subject.contains(p));
    if rt != "delivery-status" && !is_daemon(m) && (auto.starts_with("auto-replied") || vacation_subject) {
        return Report::Vacation;
    }
    if rt != "delivery-status" && !looks_like_ndr(m) {
        return Report::None;
    }
    // Per-recipient blocks of a DSN.
    let blocks: Vec<&str> = whole
        .split("\n\n")
        .flat_map(|b| b.split("\r\n\r\n"))
        .filter(|b| {
            (field(b, "final-recipient").is_some() || field(b, "original-recipient").is_some())
                && (field(b, "action").is_some() || field(b, "status").is_some())
        })
        .collect();
    let actions: Vec<String> = blocks.iter().filter_map(|b| field(b, "action")).map(|a| a.to_lowercase()).collect();
    if !actions.is_empty()
        && actions.iter().all(|a| a.starts_with("delivered") || a.starts_with("relayed") || a.starts_with("expanded"))
    {
        return Report::Delivered;
    }
    let mut failures = Vec::new();
    for b in &blocks {
        let status = field(b, "status").and_then(|s| find_status(&s)).or_else(|| find_status(b));
        let diagnostic = field(b, "diagnostic-code").unwrap_or_default();
        let hay = if diagnostic.is_empty() { b.to_string() } else { diagnostic.clone() };
        let recipient = field(b, "final-recipient")
            .or_else(|| field(b, "original-recipient"))
            .map(|r| r.rsplit(';').next().unwrap_or("").trim().trim_matches(['<', '>']).to_string());
        let hard = decide(status.as_deref(), &hay, &whole);
        failures.push(Failure { recipient, status, diagnostic, hard });
    }
    if failures.is_empty() {
        let status = field(&whole, "status").and_then(|s| find_status(&s)).or_else(|| find_status(&whole));
        let diagnostic = field(&whole, "diagnostic-code").unwrap_or_default();
        let hay = if diagnostic.is_empty() { whole.clone() } else { diagnostic.clone() };
        let hard = decide(status.as_deref(), &hay, &whole);
        failures.push(Failure { recipient: None, status, diagnostic, hard });
    }
    Report::Failed(failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    #[test]
    fn status_codes_are_found() {
        assert_eq!(find_status("smtp; 550 5.1.1 <a@b>... User unknown").as_deref(), Some("5.1.1"));
        assert_eq!(find_status("Status: 4.4.7 (delayed)").as_deref(), Some("4.4.7"));
        assert_eq!(find_status("version 1.5.1.2 x"), None);
        assert_eq!(find_status("nothing here"), None);
    }

    #[test]
    fn a_postfix_dsn_is_a_hard_bounce() {
        let raw = "From: MAILER-DAEMON@mx.example (Mail Delivery System)\r\nSubject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n\
Final-Recipient: rfc822; gone@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@acme.example>: User unknown\r\n\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <x@y>\r\nSubject: hi\r\n\r\n--b--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        match classify(&m) {
            Report::Failed(f) => {
                assert_eq!(f.len(), 1);
                assert!(f[0].hard, "{f:?}");
                assert_eq!(f[0].recipient.as_deref(), Some("gone@acme.example"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// The real-world corpus (sisimai's set of emails): bounce detection and hard/soft
    /// classification against `expected.tsv`.
    #[test]
    fn corpus_classification() {
        let Some(dir) = crate::mail::shared_corpus("bounces") else {
            assert!(std::env::var_os("CI").is_none(), "../shared/mail is missing and CI is set");
            eprintln!("skipped: ../shared/mail is missing");
            return;
        };
        let tsv = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
        let (mut ok, mut total, mut wrong_hard) = (0, 0, Vec::new());
        let mut misses = Vec::new();
        for line in tsv.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 6 {
                continue;
            }
            let raw = std::fs::read(dir.join(cols[0])).unwrap();
            let m = parse(&raw).unwrap();
            let report = classify(&m);
            let idx: usize = cols[1].parse().unwrap_or(1);
            let expect_hard = cols[5] == "true";
            if matches!(cols[4], "delivered" | "feedback" | "vacation") {
                if let Report::Failed(f) = &report {
                    if f.iter().any(|x| x.hard) {
                        wrong_hard.push(cols[0].to_string());
                    }
                }
                continue;
            }
            total += 1;
            match &report {
                Report::Failed(f) => {
                    let got = f.get(idx - 1).or(f.first()).map(|x| x.hard).unwrap_or(false);
                    if got == expect_hard {
                        ok += 1;
                    } else {
                        misses.push(format!("{} {} {} got hard={got}", cols[0], cols[4], cols[2]));
                    }
                }
                other => misses.push(format!("{} {} not detected ({other:?})", cols[0], cols[4])),
            }
        }
        let rate = ok as f64 / total as f64;
        eprintln!("bounce classification: {ok}/{total} = {:.1} %\n{}", rate * 100.0, misses.join("\n"));
        assert!(wrong_hard.is_empty(), "ARF/vacation/delivered taken for a hard bounce: {wrong_hard:?}");
        assert!(rate >= BOUNCE_FLOOR, "only {:.1} % classified right", rate * 100.0);
    }

    /// The classification rate the corpus test holds us to (see the report: the aim
    /// is 0.95).
    const BOUNCE_FLOOR: f64 = 0.85;
}
