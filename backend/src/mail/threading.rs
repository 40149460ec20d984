//! What ties a message to a ticket, and what proves Wrench sent a message:
//! - the reply token `T-KID-MAC` (MAC over the ticket number with the derived reply-token
//!   key), carried in the Reply-To plus-address and inside the Message-ID;
//! - the stamp: every outbound Message-ID is `wr.TOKEN.NONCE.KID.MAC@host`, the last MAC
//!   keyed with the mail-stamp key over everything before it, so a bounce can be checked
//!   against mail Wrench really sent;
//! - the `[#NUMBER]` subject tag;
//! - trimming quoted history and signatures for display.
//!
//! Keys carry their id, so mail signed before a secret rotation still threads.

use crate::keys::{Keys, Purpose};

const TOKEN_MAC_BYTES: usize = 10;
const STAMP_MAC_BYTES: usize = 10;

fn short_mac(keys: &Keys, purpose: Purpose, kid: &str, data: &str, n: usize) -> Option<String> {
    let key = keys.by_id(purpose, kid)?;
    let mac = crate::keys::hmac_sha256(&key.bytes, data.as_bytes());
    Some(hex::encode(&mac[..n.min(mac.len())]))
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The signed reply token of a ticket: `NUMBER-KID-MAC`.
pub fn reply_token(keys: &Keys, ticket: i64) -> String {
    let kid = keys.current(Purpose::ReplyToken).id;
    let mac =
        short_mac(keys, Purpose::ReplyToken, &kid, &format!("ticket:{ticket}"), TOKEN_MAC_BYTES).unwrap_or_default();
    format!("{ticket}-{kid}-{mac}")
}

/// The ticket a reply token names, if its MAC verifies under any key of the purpose.
pub fn verify_token(keys: &Keys, token: &str) -> Option<i64> {
    let mut it = token.split('-');
    let (n, kid, mac) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let ticket: i64 = n.parse().ok()?;
    let want =
        short_mac(keys, Purpose::ReplyToken, &kid.to_ascii_lowercase(), &format!("ticket:{ticket}"), TOKEN_MAC_BYTES)?;
    ct_eq(&want, &mac.to_ascii_lowercase()).then_some(ticket)
}

/// `support@x` + token → `support+TOKEN@x`.
pub fn plus_address(base: &str, token: &str) -> String {
    match base.rsplit_once('@') {
        Some((local, domain)) => format!("{}+{token}@{domain}", local.split('+').next().unwrap_or(local)),
        None => base.to_string(),
    }
}

/// The token in an address's plus part, when it verifies.
pub fn token_in_address(keys: &Keys, address: &str) -> Option<i64> {
    let local = address.rsplit_once('@').map(|(l, _)| l).unwrap_or(address);
    let (_, tag) = local.split_once('+')?;
    verify_token(keys, tag)
}

/// A fresh stamped Message-ID (without angle brackets) for mail about `ticket`.
pub fn stamped_message_id(keys: &Keys, ticket: Option<i64>, host: &str) -> String {
    let token = match ticket {
        Some(t) => reply_token(keys, t),
        None => "0".into(),
    };
    let nonce = crate::keys::random_token(9).replace(['-', '_'], "0");
    let body = format!("wr.{token}.{nonce}");
    let kid = keys.current(Purpose::MailStamp).id;
    let mac = short_mac(keys, Purpose::MailStamp, &kid, &body, STAMP_MAC_BYTES).unwrap_or_default();
    format!("{body}.{kid}.{mac}@{host}")
}

/// Whether a Message-ID carries a valid Wrench stamp; returns the ticket it was about
/// (`Some(None)` for stamped mail about no ticket).
pub fn verify_stamp(keys: &Keys, message_id: &str) -> Option<Option<i64>> {
    let id = message_id.trim().trim_matches(['<', '>']);
    let (local, _host) = id.rsplit_once('@')?;
    let parts: Vec<&str> = local.split('.').collect();
    if parts.len() != 5 || parts[0] != "wr" {
        return None;
    }
    let body = format!("{}.{}.{}", parts[0], parts[1], parts[2]);
    let want = short_mac(keys, Purpose::MailStamp, &parts[3].to_ascii_lowercase(), &body, STAMP_MAC_BYTES)?;
    if !ct_eq(&want, &parts[4].to_ascii_lowercase()) {
        return None;
    }
    if parts[1] == "0" {
        return Some(None);
    }
    Some(verify_token(keys, parts[1]))
}

/// The ticket named by the reply token inside a stamped Message-ID.
pub fn token_in_message_id(keys: &Keys, message_id: &str) -> Option<i64> {
    verify_stamp(keys, message_id).flatten()
}

/// Every stamped Message-ID-looking string in a text (bounces quote the original).
pub fn stamped_ids_in(keys: &Keys, text: &str) -> Vec<(String, Option<i64>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("wr.") {
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@')))
            .unwrap_or(tail.len());
        let candidate = tail[..end].trim_end_matches('.');
        if let Some(t) = verify_stamp(keys, candidate) {
            if !out.iter().any(|(c, _)| c == candidate) {
                out.push((candidate.to_string(), t));
            }
        }
        rest = &rest[pos + 3..];
    }
    out
}

/// The ticket number in a `[#NUMBER]` subject tag.
pub fn subject_tag(subject: &str) -> Option<i64> {
    let start = subject.find("[#")?;
    let rest = &subject[start + 2..];
    let end = rest.find(']')?;
    rest[..end].trim().parse().ok().filter(|n: &i64| *n > 0)
}

/// The subject with reply prefixes and the tag removed, for a new ticket's subject.
pub fn clean_subject(subject: &str) -> String {
    let mut s = subject.trim().to_string();
    if let Some(n) = subject_tag(&s) {
        s = s.replace(&format!("[#{n}]"), "");
    }
    loop {
        let lower = s.trim_start().to_lowercase();
        let cut = ["re:", "fw:", "fwd:", "aw:", "wg:", "sv:", "vs:", "antw:"].iter().find(|p| lower.starts_with(**p));
        match cut {
            Some(p) => s = s.trim_start()[p.len()..].to_string(),
            None => break,
        }
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() {
        "(no subject)".into()
    } else {
        s.chars().take(200).collect()
    }
}

/// The reply as it should be shown: quoted history below common reply separators and the
/// signature are cut; the original stays in the stored message.
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        let lower = l.to_lowercase();
        let separator = l == "-- "
            || line.trim_end_matches('\r') == "-- "
            || l == "--"
            || (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || (lower.starts_with("am ") && lower.ends_with("schrieb:"))
            || (lower.starts_with("le ") && lower.ends_with("a écrit :"))
            || lower.starts_with("-----original message-----")
            || lower.starts_with("-----ursprüngliche nachricht-----")
            || lower.starts_with("________________________________")
            || lower == "sent from my iphone"
            || lower.starts_with("sent from my ")
            || (lower.starts_with("from:") && i > 0 && lines[..i].iter().rev().take(2).any(|p| p.trim().is_empty()))
            || lower.starts_with("## reply above this line")
            || lower.contains("reply above this line");
        if separator && i > 0 {
            end = i;
            break;
        }
        if l.starts_with('>') && i > 0 && lines[i..].iter().all(|r| r.trim().is_empty() || r.trim().starts_with('>')) {
            end = i;
            break;
        }
    }
    let shown = lines[..end].join("\n").trim_end().to_string();
    if shown.trim().is_empty() {
        text.trim_end().to_string()
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_stamps_verify_and_survive_rotation() {
        let keys = Keys::from_secrets("s1").unwrap();
        let tok = reply_token(&keys, 42);
        assert_eq!(verify_token(&keys, &tok), Some(42));
        assert_eq!(verify_token(&keys, &tok.replace("42-", "43-")), None);
        let addr = plus_address("support@msp.test", &tok);
        assert_eq!(token_in_address(&keys, &addr), Some(42));
        let mid = stamped_message_id(&keys, Some(42), "msp.test");
        assert_eq!(verify_stamp(&keys, &mid), Some(Some(42)));
        assert_eq!(verify_stamp(&keys, &format!("<{mid}>")), Some(Some(42)));
        let forged = mid.replacen("wr.42", "wr.43", 1);
        assert_eq!(verify_stamp(&keys, &forged), None);
        let rotated = Keys::from_secrets("s2,s1").unwrap();
        assert_eq!(verify_stamp(&rotated, &mid), Some(Some(42)));
        assert_eq!(token_in_address(&rotated, &addr), Some(42));
        let other = Keys::from_secrets("x").unwrap();
        assert_eq!(verify_stamp(&other, &mid), None);
        let text = format!("Original-Message-ID: <{mid}>\nsomething <wr.1.2.3.4@x>");
        assert_eq!(stamped_ids_in(&keys, &text), vec![(mid.clone(), Some(42))]);
    }

    #[test]
    fn subject_tags_and_cleaning() {
        assert_eq!(subject_tag("Re: [#17] Printer"), Some(17));
        assert_eq!(subject_tag("[#x] Printer"), None);
        assert_eq!(clean_subject("RE: Fwd: [#17] Printer  offline"), "Printer offline");
        assert_eq!(clean_subject("  "), "(no subject)");
    }

    #[test]
    fn quoted_history_and_signatures_are_trimmed() {
        let t = "Thanks, works now.\n\nOn Mon, 1 Jan 2026, Support wrote:\n> old text\n";
        assert_eq!(trim_reply(t), "Thanks, works now.");
        let t = "Fine.\n-- \nPat\nACME";
        assert_eq!(trim_reply(t), "Fine.");
        let t = "Yes\n> quoted\n> more\n";
        assert_eq!(trim_reply(t), "Yes");
        let t = "> only quote";
        assert_eq!(trim_reply(t), "> only quote");
    }
}
