//! `wrench backup PATH` and `wrench restore PATH`: one tar archive holding a consistent
//! snapshot of the SQLite database (`VACUUM INTO`, safe while the server runs), the
//! attachments and the secret. With PostgreSQL the archive holds the files and the secret;
//! the database itself is left to `pg_dump`.

use crate::config::{Config, DatabaseUrl};
use anyhow::{bail, Context};
use diesel::prelude::*;
use std::fs::File;
use std::path::Path;

const DB_ENTRY: &str = "wrench.db";
const SECRET_ENTRY: &str = "secret";
const ATTACHMENTS: &str = "attachments";
const MANIFEST: &str = "wrench-backup.json";

pub fn backup(config: &Config, target: &Path) -> anyhow::Result<String> {
    let tmp = tempdir_in(target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;
    let result = write_archive(config, target, &tmp);
    // The snapshot holds password hashes and the secret: never leave it behind.
    let _ = std::fs::remove_dir_all(&tmp);
    if result.is_err() {
        let _ = std::fs::remove_file(target);
    }
    result
}

fn write_archive(config: &Config, target: &Path, tmp: &Path) -> anyhow::Result<String> {
    // The archive holds the secret and password hashes: readable by its owner only.
    let file = private_file(target).with_context(|| format!("creating {}", target.display()))?;
    let mut tar = tar::Builder::new(file);
    let mut what = Vec::new();
    let manifest = serde_json::json!({
        "format": 1,
        "database": config.database.backend_name(),
        "created_at": chrono::Utc::now().to_rfc3339(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let m = tmp.join(MANIFEST);
    std::fs::write(&m, manifest.to_string())?;
    tar.append_path_with_name(&m, MANIFEST)?;
    if let DatabaseUrl::Sqlite(path) = &config.database {
        let snapshot = tmp.join(DB_ENTRY);
        let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
            .with_context(|| format!("opening {}", path.display()))?;
        diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn)?;
        diesel::sql_query(format!("VACUUM INTO '{}'", snapshot.to_string_lossy().replace('\'', "''")))
            .execute(&mut conn)
            .context("snapshotting the database (VACUUM INTO)")?;
        tar.append_path_with_name(&snapshot, DB_ENTRY)?;
        what.push("the SQLite database".to_string());
    }
    let secret = config.data_dir.join("secret");
    if secret.exists() {
        tar.append_path_with_name(&secret, SECRET_ENTRY)?;
        what.push("the secret".into());
    } else if config.secret.is_some() {
        what.push("no secret file (WRENCH_SECRET is set in the environment: keep it safe separately)".into());
    }
    let att = config.data_dir.join(ATTACHMENTS);
    if att.is_dir() {
        tar.append_dir_all(ATTACHMENTS, &att)?;
        what.push("the attachments".into());
    }
    tar.into_inner()?.sync_all()?;
    let mut msg = format!("backup written to {}: {}", target.display(), what.join(", "));
    if matches!(config.database, DatabaseUrl::Postgres(_)) {
        msg.push_str("; the PostgreSQL database is not included: back it up with pg_dump");
    }
    Ok(msg)
}

pub fn restore(config: &Config, source: &Path, force: bool) -> anyhow::Result<String> {
    let file = File::open(source).with_context(|| format!("opening {}", source.display()))?;
    std::fs::create_dir_all(&config.data_dir)?;
    let staging = tempdir_in(&config.data_dir)?;
    let result = restore_from(config, source, file, &staging, force);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn restore_from(config: &Config, source: &Path, file: File, staging: &Path, force: bool) -> anyhow::Result<String> {
    tar::Archive::new(file).unpack(staging).context("reading the archive")?;
    if !staging.join(MANIFEST).exists() {
        bail!("{} is not a Wrench backup (no {MANIFEST})", source.display());
    }
    let mut what = Vec::new();
    if let DatabaseUrl::Sqlite(path) = &config.database {
        let snap = staging.join(DB_ENTRY);
        if !snap.exists() {
            bail!("the backup holds no SQLite database (was it taken from PostgreSQL?)");
        }
        if path.exists() && !force {
            bail!("{} already exists; stop the server and pass --force to replace it", path.display());
        }
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(&snap, path).or_else(|_| std::fs::copy(&snap, path).map(|_| ()))?;
        what.push("the SQLite database");
    }
    let secret = staging.join(SECRET_ENTRY);
    if secret.exists() {
        let content = std::fs::read(&secret)?;
        crate::files::write_private(&config.data_dir.join("secret"), &content)?;
        what.push("the secret");
    }
    let att = staging.join(ATTACHMENTS);
    if att.is_dir() {
        let dest = config.data_dir.join(ATTACHMENTS);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::rename(&att, &dest)?;
        what.push("the attachments");
    }
    Ok(format!("restored {} from {}", what.join(", "), source.display()))
}

fn tempdir_in(parent: &Path) -> anyhow::Result<std::path::PathBuf> {
    let dir = parent.join(format!(".wrench-tmp-{}", crate::keys::random_token(6)));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn private_file(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}
