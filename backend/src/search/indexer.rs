//! The one writer: a task that owns the current generation's `IndexWriter`, tails the
//! change log and applies each change idempotently (delete the entity's documents by key,
//! then add what the database holds now). Commits are batched (a few hundred changes or
//! `COMMIT_DELAY`) and carry the highest change-log id applied, so a restart resumes there.
//!
//! PostgreSQL hands out sequence values at insert time but transactions commit in any
//! order: a lower id can appear after a higher one was read. So every step also re-reads
//! the last `LOOK_BACK` ids below the cursor and applies any not seen yet.
//!
//! `rebuild` fills a new generation from the database (used by `wrench reindex`, and by the
//! server when there is no index or its schema version differs). The cursor of a rebuild is
//! the change-log head read *before* reading any row, so replaying from there loses nothing.
//! The server polls `CURRENT` and switches to a newer generation within about a second.

use super::documents::{self, KINDS};
use super::schema::{SearchDoc, SCHEMA_VERSION};
use super::{read_pointer, remove_older_generations, write_pointer, Generation, Payload, Search};
use crate::app::App;
use crate::changelog::{self, Change};
use crate::db::{DbConn, DbPool};
use anyhow::Context as _;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tantivy::IndexWriter;

/// Change-log ids below the cursor re-read every step (late commits on PostgreSQL).
pub const LOOK_BACK: i64 = 1000;
/// Changes read per step.
pub const BATCH: i64 = 500;
/// Commit when this many changes wait…
pub const COMMIT_CHANGES: usize = 300;
/// …or when the oldest waiting change is this old.
pub const COMMIT_DELAY: Duration = Duration::from_millis(300);
/// How often the server looks for a new generation named by `CURRENT`.
pub const POINTER_POLL: Duration = Duration::from_secs(1);
const WRITER_MEMORY: usize = 50_000_000;
const REBUILD_MEMORY: usize = 100_000_000;
const REBUILD_PAGE: i64 = 500;

/// What the owners' documents share, as last written (the committed index, overridden by
/// what was written since the last commit).
#[derive(Default)]
pub struct Written {
    since_commit: HashMap<String, String>,
}

impl Written {
    fn get(&self, g: &Generation, searcher: &tantivy::Searcher, key: &str) -> Option<String> {
        if let Some(s) = self.since_commit.get(key) {
            return Some(s.clone());
        }
        use tantivy::schema::Value;
        let q = tantivy::query::TermQuery::new(g.fields.key_term(key), tantivy::schema::IndexRecordOption::Basic);
        let top = searcher.search(&q, &tantivy::collector::TopDocs::with_limit(1).order_by_score()).ok()?;
        let (_, addr) = top.first()?;
        let doc: tantivy::TantivyDocument = searcher.doc(*addr).ok()?;
        doc.get_first(g.fields.shared).and_then(|v| v.as_str()).map(str::to_string)
    }
}

/// Applies one batch of changes: every document a change's entity produced goes, then what
/// the database holds now comes back. When an owner (a ticket, a thread) still shares with
/// its documents what they were indexed with, only its own document is rewritten. Returns
/// how many documents were added.
pub fn apply(
    conn: &mut DbConn,
    g: &Generation,
    writer: &IndexWriter,
    written: &mut Written,
    changes: &[Change],
) -> anyhow::Result<usize> {
    let mut by_entity: HashMap<&str, BTreeSet<i64>> = HashMap::new();
    for c in changes {
        by_entity.entry(c.entity.as_str()).or_default().insert(c.entity_id);
    }
    let searcher = g.reader.searcher();
    let mut added = 0;
    for kind in KINDS {
        let Some(ids) = by_entity.get(kind.entity) else { continue };
        let ids: Vec<i64> = ids.iter().copied().collect();
        for chunk in ids.chunks(REBUILD_PAGE as usize) {
            let docs = (kind.documents)(conn, chunk).with_context(|| format!("loading {} documents", kind.entity))?;
            let mut by_owner: HashMap<&str, Vec<&SearchDoc>> = HashMap::new();
            for d in &docs {
                by_owner.entry(d.owner.as_str()).or_default().push(d);
            }
            for id in chunk {
                let key = documents::owner_key(kind.entity, *id);
                let mine = by_owner.remove(key.as_str()).unwrap_or_default();
                let head = mine.iter().find(|d| d.key == key && !d.shared.is_empty());
                let unchanged =
                    head.is_some_and(|h| written.get(g, &searcher, &key).as_deref() == Some(h.shared.as_str()));
                if let (true, Some(h)) = (unchanged, head) {
                    writer.delete_term(g.fields.key_term(&key));
                    writer.add_document(g.fields.to_document(h))?;
                    added += 1;
                    continue;
                }
                writer.delete_term(g.fields.owner_term(&key));
                writer.delete_term(g.fields.key_term(&key));
                if let Some(h) = head {
                    written.since_commit.insert(key.clone(), h.shared.clone());
                }
                let owned: Vec<SearchDoc> = mine.into_iter().cloned().collect();
                added += add_all(g, writer, &owned)?;
            }
            // Documents announced by their own key whose owner is another entity (a reply,
            // owned by its ticket): each replaces its earlier version.
            let rest: Vec<SearchDoc> = by_owner.into_values().flatten().cloned().collect();
            added += add_all(g, writer, &rest)?;
        }
    }
    Ok(added)
}

fn add_all(g: &Generation, writer: &IndexWriter, docs: &[SearchDoc]) -> anyhow::Result<usize> {
    for d in docs {
        // A document is also keyed alone (a reply re-read after a merge moved it).
        writer.delete_term(g.fields.key_term(&d.key));
        writer.add_document(g.fields.to_document(d))?;
    }
    Ok(docs.len())
}

fn commit(writer: &mut IndexWriter, cursor: i64) -> anyhow::Result<()> {
    let payload = serde_json::to_string(&Payload { schema: SCHEMA_VERSION, cursor })?;
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&payload);
    prepared.commit()?;
    Ok(())
}

/// Progress of a rebuild: documents written so far of about how many.
pub trait Progress {
    fn update(&mut self, done: u64, total: u64);
}

impl<F: FnMut(u64, u64)> Progress for F {
    fn update(&mut self, done: u64, total: u64) {
        self(done, total)
    }
}

/// Builds a new generation from the database and points `CURRENT` at it. Returns the
/// generation's name and its payload.
pub fn rebuild(pool: &DbPool, dir: &Path, progress: &mut dyn Progress) -> anyhow::Result<(String, Payload)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut conn = pool.get().context("connecting to the database")?;
    // Read the head first: whatever commits later has a higher id, or a lower one still in
    // the look-back window, and the server replays it.
    let cursor = changelog::head(&mut conn)?;
    let mut total: i64 = 0;
    for k in KINDS {
        if let Some(count) = k.count {
            total += count(&mut conn)?;
        }
    }
    let total = total.max(0) as u64;
    let name = super::new_generation_name();
    let g = Generation::create(dir, &name).with_context(|| format!("creating index generation {name}"))?;
    let mut writer: IndexWriter = g.index.writer_with_num_threads(1, REBUILD_MEMORY)?;
    let mut done: u64 = 0;
    progress.update(0, total);
    for k in KINDS {
        let Some(all_ids) = k.all_ids else { continue };
        let mut after = 0;
        loop {
            let ids = all_ids(&mut conn, after, REBUILD_PAGE)?;
            let Some(last) = ids.last().copied() else { break };
            let docs = (k.documents)(&mut conn, &ids)?;
            for d in &docs {
                writer.add_document(g.fields.to_document(d))?;
            }
            done += docs.len() as u64;
            progress.update(done, total.max(done));
            after = last;
        }
    }
    commit(&mut writer, cursor)?;
    writer.wait_merging_threads()?;
    write_pointer(dir, &name).context("writing the index pointer")?;
    progress.update(done, done);
    Ok((name, Payload { schema: SCHEMA_VERSION, cursor }))
}

/// The writer task's state: the generation it writes, its writer and where it has read.
struct Indexer {
    g: Arc<Generation>,
    writer: IndexWriter,
    /// Highest change-log id applied.
    cursor: i64,
    /// Ids applied in the look-back window (so a late id is applied once).
    seen: BTreeSet<i64>,
    /// Changes applied but not yet committed, and since when.
    pending: usize,
    pending_since: Option<Instant>,
    pointer_checked: Instant,
    written: Written,
}

impl Indexer {
    fn open(search: &Search, g: Arc<Generation>) -> anyhow::Result<Indexer> {
        let cursor = g.payload().map(|p| p.cursor).unwrap_or(0);
        let writer = g.index.writer_with_num_threads(1, WRITER_MEMORY)?;
        g.reader.reload()?;
        search.set_current(g.clone(), cursor);
        remove_older_generations(&search.dir, &g.name);
        tracing::info!("search: serving index generation {} from change {cursor}", g.name);
        Ok(Indexer {
            g,
            writer,
            cursor,
            seen: BTreeSet::new(),
            pending: 0,
            pending_since: None,
            pointer_checked: Instant::now(),
            written: Written::default(),
        })
    }

    /// Opens the generation `CURRENT` names, or builds one when there is none or its schema
    /// version differs.
    fn start(app: &App) -> anyhow::Result<Indexer> {
        let search = &app.search;
        if let Some(name) = read_pointer(&search.dir) {
            match Generation::open(&search.dir, &name) {
                Ok(g) if g.payload().is_some_and(|p| p.schema == SCHEMA_VERSION) => {
                    return Indexer::open(search, Arc::new(g))
                }
                Ok(g) => tracing::warn!(
                    "search: index generation {name} has schema {:?}, this build writes {SCHEMA_VERSION}: rebuilding",
                    g.payload().map(|p| p.schema)
                ),
                Err(e) => tracing::warn!("search: cannot open index generation {name} ({e}): rebuilding"),
            }
        }
        tracing::info!("search: building the index from the database");
        let started = Instant::now();
        let (name, _) = rebuild(&app.pool, &search.dir, &mut |_: u64, _: u64| {})?;
        tracing::info!("search: index built in {:.1} s", started.elapsed().as_secs_f64());
        let g = Generation::open(&search.dir, &name)?;
        Indexer::open(search, Arc::new(g))
    }

    /// One step: switch generation if `CURRENT` moved, apply new (and late) changes, commit
    /// when due. Returns how long the task may sleep before the next step.
    fn step(&mut self, app: &App) -> anyhow::Result<Duration> {
        if self.pointer_checked.elapsed() >= POINTER_POLL {
            self.pointer_checked = Instant::now();
            if let Some(name) = read_pointer(&app.search.dir).filter(|n| *n != self.g.name) {
                return Err(Switch(name).into());
            }
        }
        let mut conn = app.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        let low = (self.cursor - LOOK_BACK).max(0);
        let mut changes: Vec<Change> = changelog::between(&mut conn, low, self.cursor)?
            .into_iter()
            .filter(|c| !self.seen.contains(&c.id))
            .collect();
        let late = changes.len();
        let fresh = changelog::since(&mut conn, self.cursor, BATCH)?;
        let full = fresh.len() as i64 >= BATCH;
        changes.extend(fresh);
        if !changes.is_empty() {
            if late > 0 {
                tracing::debug!("search: {late} change(s) committed late below the cursor");
            }
            apply(&mut conn, &self.g, &self.writer, &mut self.written, &changes)?;
            for c in &changes {
                self.seen.insert(c.id);
                self.cursor = self.cursor.max(c.id);
            }
            let floor = self.cursor - LOOK_BACK;
            self.seen = self.seen.split_off(&floor);
            self.pending += changes.len();
            self.pending_since.get_or_insert_with(Instant::now);
        }
        drop(conn);
        if self.pending > 0 {
            let waited = self.pending_since.map(|t| t.elapsed()).unwrap_or_default();
            if self.pending >= COMMIT_CHANGES || waited >= COMMIT_DELAY {
                commit(&mut self.writer, self.cursor)?;
                self.g.reader.reload()?;
                self.written.since_commit.clear();
                app.search.set_indexed(self.cursor);
                self.pending = 0;
                self.pending_since = None;
            } else if !full {
                return Ok(COMMIT_DELAY - waited);
            }
        }
        Ok(if full { Duration::ZERO } else { POINTER_POLL })
    }
}

/// `CURRENT` names another generation: the task reopens.
#[derive(Debug, thiserror::Error)]
#[error("index generation changed to {0}")]
struct Switch(String);

/// The writer task. Runs each step on the blocking pool; sleeps until a commit wakes it,
/// a batch is due, or it is time to look at `CURRENT` again.
pub async fn run(app: Arc<App>) {
    let mut state: Option<Indexer> = None;
    loop {
        let wake = app.changes_wake.clone();
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let a = app.clone();
        let taken = state.take();
        let result = tokio::task::spawn_blocking(move || {
            let mut indexer = match taken {
                Some(s) => s,
                None => match Indexer::start(&a) {
                    Ok(s) => s,
                    Err(e) => return (None, Err(e)),
                },
            };
            match indexer.step(&a) {
                Ok(wait) => (Some(indexer), Ok(wait)),
                Err(e) if e.downcast_ref::<Switch>().is_some() => {
                    tracing::info!("search: {e}");
                    // Drop the old writer before opening the new generation.
                    drop(indexer);
                    (None, Ok(Duration::ZERO))
                }
                Err(e) => (Some(indexer), Err(e)),
            }
        })
        .await;
        let wait = match result {
            Ok((s, Ok(wait))) => {
                state = s;
                wait
            }
            Ok((s, Err(e))) => {
                state = s;
                tracing::error!("search indexer: {e:#}");
                Duration::from_secs(1)
            }
            Err(e) => {
                tracing::error!("search indexer task failed: {e}");
                Duration::from_secs(1)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut notified => {}
        }
    }
}
