//! The on-disk spool: one file per report, named by a growing sequence number, written to
//! a temporary name and renamed so a crash never leaves half a report. Bounded: when full,
//! the oldest reports go first (the newest say the most about the machine now).

use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Spool {
    dir: PathBuf,
    max: usize,
}

impl Spool {
    pub fn open(state_dir: &Path) -> Result<Spool, String> {
        let dir = state_dir.join("spool");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let max = std::env::var("WRENCH_AGENT_SPOOL_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(1000usize).max(1);
        Ok(Spool { dir, max })
    }

    /// Reports waiting, oldest first.
    pub fn pending(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn next_seq(&self) -> u64 {
        self.pending()
            .last()
            .and_then(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok()))
            .map(|n| n + 1)
            .unwrap_or(1)
    }

    pub fn push(&self, report: &Value) -> Result<(), String> {
        let mut pending = self.pending();
        while pending.len() >= self.max {
            let oldest = pending.remove(0);
            crate::log(&format!("spool full ({} reports): dropping the oldest, {}", self.max, oldest.display()));
            self.remove(&oldest);
        }
        let seq = self.next_seq();
        let path = self.dir.join(format!("{seq:016}.json"));
        let tmp = self.dir.join(format!("{seq:016}.tmp"));
        let body = serde_json::to_vec(report).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, body)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    pub fn remove(&self, path: &Path) {
        if let Err(e) = std::fs::remove_file(path) {
            crate::log(&format!("cannot remove {}: {e}", path.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_ordered() {
        let dir = std::env::temp_dir().join(format!("wrench-spool-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Spool { dir: dir.join("spool"), max: 3 };
        std::fs::create_dir_all(&s.dir).unwrap();
        for i in 0..5 {
            s.push(&serde_json::json!({ "n": i })).unwrap();
        }
        let p = s.pending();
        assert_eq!(p.len(), 3);
        let first: Value = serde_json::from_slice(&std::fs::read(&p[0]).unwrap()).unwrap();
        assert_eq!(first["n"], 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
