//! Migration drift: migrate both backends from scratch and compare every table, column,
//! type and nullability with the hand-written `schema.rs`.

use crate::support::{temp_dir, Backend, TestDb};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use std::collections::BTreeMap;

type Columns = BTreeMap<(String, String), (String, bool)>;

/// table -> column -> (diesel type, nullable), read from schema.rs.
fn schema_rs() -> Columns {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/backend/src/schema.rs")).unwrap();
    let mut out = Columns::new();
    let mut table: Option<String> = None;
    for line in src.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_suffix('{').map(str::trim) {
            if let Some((name, _)) = rest.split_once(" (") {
                if !name.contains(' ') && !name.contains('!') {
                    table = Some(name.to_string());
                }
                continue;
            }
        }
        if l == "}" {
            table = None;
            continue;
        }
        if let (Some(t), Some((col, ty))) = (&table, l.trim_end_matches(',').split_once(" -> ")) {
            let nullable = ty.starts_with("Nullable<");
            let base = ty.trim_start_matches("Nullable<").trim_end_matches('>').to_string();
            out.insert((t.clone(), col.trim().to_string()), (base, nullable));
        }
    }
    assert!(out.len() > 50, "parsed schema.rs: {} columns", out.len());
    out
}

fn normalise(db_type: &str) -> String {
    let t = db_type.to_lowercase();
    match t.as_str() {
        "integer" | "bigint" | "int8" => "BigInt",
        "text" | "character varying" => "Text",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        "boolean" | "bool" => "Bool",
        "int4" => "Integer",
        _ => "unknown",
    }
    .to_string()
}

#[derive(QueryableByName)]
struct SqliteTable {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text, column_name = "type")]
    ty: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

fn migrate(env: &[(&str, String)]) {
    let mut cmd = std::process::Command::new(crate::support::wrench_bin());
    cmd.arg("migrate").env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "migrate failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn sqlite_columns() -> Columns {
    let dir = temp_dir("drift");
    let db = dir.join("drift.db");
    migrate(&[
        ("WRENCH_DATA_DIR", dir.display().to_string()),
        ("WRENCH_DATABASE_URL", format!("sqlite://{}", db.display())),
    ]);
    let mut conn = SqliteConnection::establish(&db.to_string_lossy()).unwrap();
    let tables: Vec<SqliteTable> = diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%'").load(&mut conn).unwrap();
    let mut out = Columns::new();
    for t in tables {
        let cols: Vec<SqliteColumn> =
            diesel::sql_query(format!("SELECT name, type, \"notnull\" FROM pragma_table_info('{}')", t.name))
                .load(&mut conn)
                .unwrap();
        for c in cols {
            out.insert((t.name.clone(), c.name), (normalise(&c.ty), c.notnull == 0));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    out
}

fn postgres_columns() -> Columns {
    crate::support::mark_postgres_ran("drift::postgres");
    let db = TestDb::new(Backend::Postgres);
    let url = db.url.clone().unwrap();
    migrate(&[("WRENCH_DATA_DIR", temp_dir("drift").display().to_string()), ("WRENCH_DATABASE_URL", url.clone())]);
    let mut conn = PgConnection::establish(&url).unwrap();
    let cols: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%'",
    )
    .load(&mut conn)
    .unwrap();
    cols.into_iter()
        .map(|c| ((c.table_name, c.column_name), (normalise(&c.data_type), c.is_nullable == "YES")))
        .collect()
}

fn compare(backend: &str, db: Columns) {
    let rs = schema_rs();
    let mut problems = Vec::new();
    for (k, v) in &rs {
        match db.get(k) {
            None => problems.push(format!("{}.{} is in schema.rs but not in the {backend} database", k.0, k.1)),
            Some(d) if d != v => problems.push(format!("{}.{}: schema.rs says {v:?}, {backend} has {d:?}", k.0, k.1)),
            _ => {}
        }
    }
    for k in db.keys() {
        if !rs.contains_key(k) {
            problems.push(format!("{}.{} is in the {backend} database but not in schema.rs", k.0, k.1));
        }
    }
    assert!(problems.is_empty(), "migration drift:\n{}", problems.join("\n"));
}

#[test]
fn sqlite_migrations_match_schema_rs() {
    compare("sqlite", sqlite_columns());
}

#[test]
fn postgres_migrations_match_schema_rs() {
    compare("postgres", postgres_columns());
}
