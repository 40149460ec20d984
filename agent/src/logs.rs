//! The tail of the system logs since the last report: the journal (with its cursor) where
//! systemd runs, else plain files under /var/log (with an inode and byte offset per file).
//! A cursor only moves once the lines it covers are safely in the spool, so each line is
//! sent once. `WRENCH_AGENT_LOG_FILES` (colon-separated) names the files to follow instead.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// At most this many lines per report; the rest follows in the next one.
pub const MAX_LINES: usize = 500;
/// A file seen for the first time: send at most its last this-many bytes.
const FIRST_TAIL: u64 = 16 * 1024;
const MAX_READ: u64 = 256 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileCursor {
    pub inode: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cursors {
    #[serde(default)]
    pub files: BTreeMap<String, FileCursor>,
    #[serde(default)]
    pub journal: Option<String>,
}

enum Source {
    Journal,
    Files(Vec<String>),
}

fn source() -> Source {
    if let Ok(list) = std::env::var("WRENCH_AGENT_LOG_FILES") {
        return Source::Files(list.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect());
    }
    if std::path::Path::new("/run/systemd/journal").exists() {
        return Source::Journal;
    }
    Source::Files(vec!["/var/log/syslog".into(), "/var/log/messages".into()])
}

/// New lines since `cursors`, and the cursors that follow them.
pub fn tail(cursors: &Cursors) -> (Vec<Value>, Cursors) {
    let mut next = cursors.clone();
    let mut lines = Vec::new();
    match source() {
        Source::Journal => {
            let mut args = vec!["--no-pager".to_string(), "-q".into(), "-o".into(), "short-iso".into()];
            args.push("--show-cursor".into());
            match &cursors.journal {
                Some(c) => args.push(format!("--after-cursor={c}")),
                None => args.push("--lines=50".into()),
            }
            let out = Command::new("journalctl").args(&args).env("LC_ALL", "C").output();
            if let Ok(out) = out {
                let text = String::from_utf8_lossy(&out.stdout);
                for l in text.lines() {
                    if let Some(c) = l.strip_prefix("-- cursor: ") {
                        next.journal = Some(c.trim().to_string());
                    } else if !l.trim().is_empty() && lines.len() < MAX_LINES * 4 {
                        lines.push(json!({ "source": "journal", "line": l }));
                    }
                }
            }
            // The journal returns everything after the cursor; keep the newest lines.
            if lines.len() > MAX_LINES {
                lines.drain(..lines.len() - MAX_LINES);
            }
        }
        Source::Files(files) => {
            for path in files {
                if lines.len() >= MAX_LINES {
                    break;
                }
                let Ok(meta) = std::fs::metadata(&path) else { continue };
                let known = cursors.files.get(&path);
                let mut start = match known {
                    // Same file, not truncated: carry on where we stopped.
                    Some(c) if c.inode == meta.ino() && c.offset <= meta.len() => c.offset,
                    // Rotated or truncated: the new file from its start.
                    Some(_) => 0,
                    None => meta.len().saturating_sub(FIRST_TAIL),
                };
                let Ok(mut f) = std::fs::File::open(&path) else { continue };
                let mut buf = Vec::new();
                if f.seek(SeekFrom::Start(start)).is_err() || f.take(MAX_READ).read_to_end(&mut buf).is_err() {
                    continue;
                }
                if known.is_none() && start > 0 {
                    // Begin at a line boundary.
                    match buf.iter().position(|b| *b == b'\n') {
                        Some(p) => {
                            buf.drain(..=p);
                            start += p as u64 + 1;
                        }
                        None => buf.clear(),
                    }
                }
                // Only whole lines; a line still being written waits for the next report.
                let end = buf.iter().rposition(|b| *b == b'\n').map(|p| p + 1).unwrap_or(0);
                let mut consumed = 0usize;
                for raw in buf[..end].split_inclusive(|b| *b == b'\n') {
                    if lines.len() >= MAX_LINES {
                        break;
                    }
                    consumed += raw.len();
                    let text = String::from_utf8_lossy(raw).trim_end_matches(['\n', '\r']).to_string();
                    if !text.is_empty() {
                        lines.push(json!({ "source": path, "line": text }));
                    }
                }
                next.files.insert(path.clone(), FileCursor { inode: meta.ino(), offset: start + consumed as u64 });
            }
        }
    }
    (lines, next)
}
