//! Full-text search over tickets, their thread, companies, contacts and development threads.
//!
//! The index lives under `$WRENCH_DATA_DIR/index`: each build is a generation in its own
//! folder (`gen-<millis>`), and the file `CURRENT` names the one in use, so `wrench
//! reindex` can build a new generation while the server serves the old one. One writer
//! task (`indexer`) tails the change log and owns the generation's `IndexWriter`; the last
//! change-log id it indexed is kept in the tantivy commit itself (`Payload`).

pub mod documents;
pub mod graphql;
pub mod indexer;
pub mod query;
pub mod schema;
pub mod service;

use schema::{DocKind, Fields};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
/// The tantivy this index is built with (for benchmarks and tools that open it directly).
pub use tantivy;
use tantivy::{Index, IndexReader, ReloadPolicy};

pub const POINTER: &str = "CURRENT";
const GENERATION_PREFIX: &str = "gen-";

/// What each commit records: the schema it was built with and how far it has read.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Payload {
    pub schema: u32,
    /// The highest change-log id whose change is in this commit.
    pub cursor: i64,
}

/// One built index: a folder with its own tantivy index.
pub struct Generation {
    pub name: String,
    pub path: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
}

impl Generation {
    pub fn create(dir: &Path, name: &str) -> tantivy::Result<Generation> {
        let path = dir.join(name);
        std::fs::create_dir_all(&path)?;
        let (schema, _) = schema::build();
        let index = Index::create_in_dir(&path, schema)?;
        Generation::from_index(name, path, index)
    }

    pub fn open(dir: &Path, name: &str) -> tantivy::Result<Generation> {
        let path = dir.join(name);
        let index = Index::open_in_dir(&path)?;
        Generation::from_index(name, path, index)
    }

    fn from_index(name: &str, path: PathBuf, index: Index) -> tantivy::Result<Generation> {
        let fields = Fields::of(&index.schema())?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Generation { name: name.to_string(), path, index, reader, fields })
    }

    /// The payload of the last commit; `None` for an index never committed or built by
    /// another schema version's code that wrote something else.
    pub fn payload(&self) -> Option<Payload> {
        let metas = self.index.load_metas().ok()?;
        serde_json::from_str(metas.payload.as_deref()?).ok()
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        std::fs::read_dir(&self.path)
            .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }
}

/// A fresh generation name; names sort in creation order.
pub fn new_generation_name() -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{GENERATION_PREFIX}{millis:015}")
}

pub fn read_pointer(dir: &Path) -> Option<String> {
    let name = std::fs::read_to_string(dir.join(POINTER)).ok()?;
    let name = name.trim();
    (name.starts_with(GENERATION_PREFIX) && !name.contains('/')).then(|| name.to_string())
}

/// Points `CURRENT` at a generation (write a temporary file, then rename: atomic).
pub fn write_pointer(dir: &Path, name: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!("{POINTER}.tmp"));
    std::fs::write(&tmp, format!("{name}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(POINTER))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes generations older than `keep` (a newer one may be a rebuild in progress).
pub fn remove_older_generations(dir: &Path, keep: &str) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(GENERATION_PREFIX) && name.as_str() < keep {
            if let Err(err) = std::fs::remove_dir_all(e.path()) {
                tracing::warn!("search: could not remove old index generation {name}: {err}");
            }
        }
    }
}

/// The app's handle on search: the generation queries use, and how far it has indexed.
pub struct Search {
    pub dir: PathBuf,
    current: RwLock<Option<Arc<Generation>>>,
    indexed: AtomicI64,
}

impl Search {
    pub fn new(dir: PathBuf) -> Search {
        Search { dir, current: RwLock::new(None), indexed: AtomicI64::new(-1) }
    }

    /// The generation to query; `None` while the first build runs.
    pub fn current(&self) -> Option<Arc<Generation>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    pub fn set_current(&self, g: Arc<Generation>, cursor: i64) {
        if let Ok(mut cur) = self.current.write() {
            *cur = Some(g);
        }
        self.set_indexed(cursor);
    }

    pub fn set_indexed(&self, cursor: i64) {
        self.indexed.store(cursor, Ordering::Relaxed);
    }

    /// The change-log id the searchable index has reached (-1 before the first commit).
    pub fn indexed(&self) -> i64 {
        self.indexed.load(Ordering::Relaxed)
    }

    /// Operational figures: generation, size, lag, counts by kind.
    pub fn status(&self, change_log_head: i64) -> IndexStatus {
        let indexed = self.indexed();
        let mut st = IndexStatus {
            ready: false,
            generation: String::new(),
            size_bytes: 0,
            documents: 0,
            by_kind: Vec::new(),
            indexed_change: indexed,
            change_log_head,
            lag: (change_log_head - indexed.max(0)).max(0),
        };
        let Some(g) = self.current() else { return st };
        let searcher = g.reader.searcher();
        st.ready = true;
        st.generation = g.name.clone();
        st.size_bytes = g.size_bytes();
        st.documents = searcher.num_docs();
        for k in DocKind::ALL {
            let q = tantivy::query::TermQuery::new(
                tantivy::Term::from_field_text(g.fields.kind, k.as_str()),
                tantivy::schema::IndexRecordOption::Basic,
            );
            let n = searcher.search(&q, &tantivy::collector::Count).unwrap_or(0);
            st.by_kind.push((k, n as u64));
        }
        st
    }

    /// The same figures as JSON, for `/healthz` (admins only).
    pub fn health(&self, change_log_head: i64) -> serde_json::Value {
        let st = self.status(change_log_head);
        if !st.ready {
            return serde_json::json!({ "state": "building", "change_log_head": change_log_head });
        }
        let by_kind: serde_json::Map<String, serde_json::Value> =
            st.by_kind.iter().map(|(k, n)| (k.as_str().to_string(), (*n).into())).collect();
        serde_json::json!({
            "state": "ready",
            "generation": st.generation,
            "schema_version": schema::SCHEMA_VERSION,
            "size_bytes": st.size_bytes,
            "documents": st.documents,
            "documents_by_kind": by_kind,
            "indexed_change": st.indexed_change,
            "change_log_head": st.change_log_head,
            "lag": st.lag,
        })
    }
}

/// How the index stands (for admins).
#[derive(Debug, Clone)]
pub struct IndexStatus {
    pub ready: bool,
    pub generation: String,
    pub size_bytes: u64,
    pub documents: u64,
    pub by_kind: Vec<(DocKind, u64)>,
    /// The change-log id the searchable index has reached.
    pub indexed_change: i64,
    pub change_log_head: i64,
    /// Changes written but not yet searchable.
    pub lag: i64,
}
