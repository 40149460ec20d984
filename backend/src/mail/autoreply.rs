//! Recognising mail no person wrote: auto-replies, bulk and list mail, bounces, and
//! Wrench's own mail coming back. Such mail never triggers an automatic answer, so two
//! robots cannot talk to each other forever.

use super::parse::ParsedMail;

/// Wrench's loop header: every outbound message carries it with the instance's host.
pub const LOOP_HEADER: &str = "X-Wrench-Loop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// A person wrote it.
    No,
    /// An auto-reply, list, bulk or robot message.
    Yes,
    /// Wrench's own mail came back.
    Own,
}

fn is_robot_local(local: &str) -> bool {
    let l = local.to_ascii_lowercase();
    l == "mailer-daemon"
        || l == "postmaster"
        || l.starts_with("mailer-daemon")
        || l == "noreply"
        || l == "no-reply"
        || l == "do-not-reply"
        || l == "donotreply"
}

/// Classifies a message. `own_host` is the host in Wrench's loop header and Message-IDs;
/// `own_from` the sender address Wrench uses.
pub fn classify(m: &ParsedMail, own_host: &str, own_from: &str) -> Automatic {
    let loop_name = LOOP_HEADER.to_ascii_lowercase();
    let mut looped = false;
    for v in m.headers_named(&loop_name) {
        if v.trim().eq_ignore_ascii_case(own_host) {
            return Automatic::Own;
        }
        // Another Wrench's notification: a robot all the same.
        looped = true;
    }
    if looped {
        return Automatic::Yes;
    }
    if m.from.as_ref().is_some_and(|f| f.address.eq_ignore_ascii_case(own_from)) {
        return Automatic::Own;
    }
    if let Some(v) = m.header("auto-submitted") {
        if !v.trim().to_ascii_lowercase().starts_with("no") {
            return Automatic::Yes;
        }
    }
    if let Some(p) = m.header("precedence") {
        if matches!(p.trim().to_ascii_lowercase().as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Automatic::Yes;
        }
    }
    for h in
        ["x-autoreply", "x-autorespond", "x-auto-response-suppress", "list-id", "list-unsubscribe", "x-autoresponder"]
    {
        if m.header(h).is_some() {
            return Automatic::Yes;
        }
    }
    if let Some(rp) = m.header("return-path") {
        let rp = rp.trim();
        if rp == "<>" || rp.is_empty() {
            return Automatic::Yes;
        }
    }
    if let Some(f) = &m.from {
        let local = f.address.split('@').next().unwrap_or("");
        if is_robot_local(local) {
            return Automatic::Yes;
        }
    }
    if m.report_type.is_some() {
        return Automatic::Yes;
    }
    Automatic::No
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    fn kind(headers: &str) -> Automatic {
        let raw = format!("From: Pat <pat@acme.example>\r\nSubject: hi\r\n{headers}\r\nbody\r\n");
        classify(&parse(raw.as_bytes()).unwrap(), "help.msp.test", "support@msp.test")
    }

    #[test]
    fn robots_are_recognised() {
        assert_eq!(kind(""), Automatic::No);
        assert_eq!(kind("Auto-Submitted: no\r\n"), Automatic::No);
        assert_eq!(kind("Auto-Submitted: auto-replied\r\n"), Automatic::Yes);
        assert_eq!(kind("Precedence: bulk\r\n"), Automatic::Yes);
        assert_eq!(kind("X-Autoreply: yes\r\n"), Automatic::Yes);
        assert_eq!(kind("X-Autorespond: yes\r\n"), Automatic::Yes);
        assert_eq!(kind("X-Auto-Response-Suppress: All\r\n"), Automatic::Yes);
        assert_eq!(kind("List-Id: <x.lists.example>\r\n"), Automatic::Yes);
        assert_eq!(kind("List-Unsubscribe: <mailto:u@x>\r\n"), Automatic::Yes);
        assert_eq!(kind("Return-Path: <>\r\n"), Automatic::Yes);
        assert_eq!(kind("X-Wrench-Loop: help.msp.test\r\n"), Automatic::Own);
        assert_eq!(kind("X-Wrench-Loop: other.example\r\n"), Automatic::Yes);
        let raw = b"From: MAILER-DAEMON@mx.example\r\nSubject: x\r\n\r\nb";
        assert_eq!(classify(&parse(raw).unwrap(), "h", "s@h"), Automatic::Yes);
    }
}
