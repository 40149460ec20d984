//! Instance settings an admin changes at run time (stored in the `settings` table).

use crate::accounts::auth::Principal;
use crate::app::App;
use crate::db::{write_tx, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::schema::settings;
use diesel::prelude::*;
use std::sync::atomic::Ordering;

pub const GRAPHQL_INTROSPECTION: &str = "graphql.introspection";

pub fn get(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    settings::table.find(key).select(settings::value).first(conn).optional()
}

pub fn set(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<()> {
    diesel::delete(settings::table.find(key)).execute(conn)?;
    diesel::insert_into(settings::table).values((settings::key.eq(key), settings::value.eq(value))).execute(conn)?;
    Ok(())
}

/// Loads the cached settings into the app at start.
pub fn load(app: &App) -> ServiceResult<()> {
    let mut conn = app.conn()?;
    let introspection = get(&mut conn, GRAPHQL_INTROSPECTION)?.map(|v| v != "off").unwrap_or(true);
    app.introspection.store(introspection, Ordering::Relaxed);
    Ok(())
}

/// Turns GraphQL introspection on or off (admins only; audited).
pub fn set_introspection(app: &App, who: &Principal, enabled: bool) -> ServiceResult<bool> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        set(conn, GRAPHQL_INTROSPECTION, if enabled { "on" } else { "off" })?;
        crate::audit::record(
            conn,
            who,
            "settings.update",
            "setting",
            None,
            &format!("graphql introspection {}", if enabled { "on" } else { "off" }),
            now,
        )?;
        Ok::<_, ServiceError>(())
    })?;
    app.introspection.store(enabled, Ordering::Relaxed);
    Ok(enabled)
}
