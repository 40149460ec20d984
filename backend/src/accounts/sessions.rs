//! Web sign-in sessions: the browser holds a random token in an HttpOnly cookie; the
//! server keeps only its SHA-256, so a copy of the database cannot be replayed as cookies.
//!
//! A session is tied to the account's `auth_version` exactly like a JWT: deactivating the
//! account or changing its password ends every session at once, and so does signing out
//! (the row is deleted). Sessions expire after `IDLE_HOURS` without use and at the latest
//! `MAX_DAYS` after sign-in, both on the injected clock.
//!
//! Sign-in uses the API's `authenticate` (same rate limits, same timing). Staff with
//! two-factor sign-in get a session in the `Totp` stage that can do nothing but give a code;
//! when an admin requires two-factor sign-in, staff without it get an `Enrol` session that
//! can only set it up. Moving to the next stage issues a new token (no fixation).
//!
//! CSRF tokens are derived from the session token with the CSRF key, so they need no
//! storage and change with every session.

use super::auth::{Principal, Scope, Subject};
use super::{service, store, totp};
use crate::app::App;
use crate::db::write_tx;
use crate::error::{ServiceError, ServiceResult};
use crate::keys::{sha256_hex, Keys, Purpose};
use crate::schema::web_sessions;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

pub const COOKIE: &str = "wrench_session";
/// Carries the CSRF token of forms shown before sign-in (the login and invite forms).
pub const PRE_COOKIE: &str = "wrench_pre";
pub const IDLE_HOURS: i64 = 12;
pub const MAX_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    SignedIn,
    /// Password accepted; waiting for the second factor.
    Totp,
    /// Password accepted; must set up two-factor sign-in before anything else.
    Enrol,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::SignedIn => "",
            Stage::Totp => "totp",
            Stage::Enrol => "enrol",
        }
    }
    fn parse(s: &str) -> Stage {
        match s {
            "" => Stage::SignedIn,
            "enrol" => Stage::Enrol,
            // Anything unknown is treated as the most restricted stage.
            _ => Stage::Totp,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = web_sessions)]
pub struct WebSession {
    pub id: i64,
    pub token_hash: String,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub auth_version: i64,
    pub pending: String,
    pub client_addr: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A new session: the cookie value (shown to the browser only) and its stage.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub token: String,
    pub stage: Stage,
}

/// Who a session cookie belongs to, with what the pages need about them.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub principal: Principal,
    pub stage: Stage,
    pub timezone: String,
    pub session_id: i64,
}

fn hash(token: &str) -> String {
    sha256_hex(format!("session:{token}").as_bytes())
}

fn expiry(created: NaiveDateTime, now: NaiveDateTime) -> NaiveDateTime {
    (now + Duration::hours(IDLE_HOURS)).min(created + Duration::days(MAX_DAYS))
}

fn insert(app: &App, subject: &Subject, stage: Stage, client: &str) -> ServiceResult<String> {
    let token = crate::keys::random_token(32);
    let now = app.now();
    let (user_id, contact_id, version) = match subject {
        Subject::User(u) => (Some(u.id), None, u.auth_version),
        Subject::Contact(c) => (None, Some(c.id), c.auth_version),
    };
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        // Tidy up: this account's expired sessions go when it signs in again.
        let mine = web_sessions::table.filter(web_sessions::expires_at.le(now));
        match (user_id, contact_id) {
            (Some(u), _) => diesel::delete(mine.filter(web_sessions::user_id.eq(u))).execute(conn)?,
            (_, Some(c)) => diesel::delete(mine.filter(web_sessions::contact_id.eq(c))).execute(conn)?,
            _ => 0,
        };
        diesel::insert_into(web_sessions::table)
            .values((
                web_sessions::token_hash.eq(hash(&token)),
                web_sessions::user_id.eq(user_id),
                web_sessions::contact_id.eq(contact_id),
                web_sessions::auth_version.eq(version),
                web_sessions::pending.eq(stage.as_str()),
                web_sessions::client_addr.eq(client.chars().take(64).collect::<String>()),
                web_sessions::created_at.eq(now),
                web_sessions::last_seen_at.eq(now),
                web_sessions::expires_at.eq(expiry(now, now)),
            ))
            .execute(conn)
    })?;
    Ok(token)
}

/// Checks the email and password and starts a session in the stage the account needs.
pub fn sign_in(app: &App, email: &str, password_text: &str, client: &str) -> ServiceResult<SignIn> {
    let subject = service::authenticate(app, email, password_text, client)?;
    let stage = match &subject {
        Subject::User(u) => match totp::second_factor(app, u)? {
            totp::SecondFactor::NotNeeded => Stage::SignedIn,
            totp::SecondFactor::Code => Stage::Totp,
            totp::SecondFactor::MustEnrol => Stage::Enrol,
        },
        Subject::Contact(_) => Stage::SignedIn,
    };
    let token = insert(app, &subject, stage, client)?;
    Ok(SignIn { token, stage })
}

fn load(app: &App, token: &str) -> ServiceResult<Option<WebSession>> {
    let mut conn = app.conn()?;
    Ok(web_sessions::table
        .filter(web_sessions::token_hash.eq(hash(token)))
        .select(WebSession::as_select())
        .first(&mut conn)
        .optional()?)
}

/// The session behind a cookie, if it is still good: not expired, the account still active
/// and at the same `auth_version`. Refreshes the idle expiry at most once a minute.
pub fn resolve(app: &App, token: &str) -> ServiceResult<Option<Resolved>> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let Some(s) = load(app, token)? else { return Ok(None) };
    let now = app.now();
    let mut conn = app.conn()?;
    if s.expires_at <= now {
        diesel::delete(web_sessions::table.find(s.id)).execute(&mut conn)?;
        return Ok(None);
    }
    let (principal, timezone) = match (s.user_id, s.contact_id) {
        (Some(u), _) => match store::user(&mut conn, u)? {
            Some(user) if user.active && user.auth_version == s.auth_version => {
                (Principal::staff(&user, Scope::Full), user.timezone)
            }
            _ => return Ok(None),
        },
        (_, Some(c)) => match store::contact(&mut conn, c)? {
            Some(contact) if contact.active && contact.auth_version == s.auth_version => {
                (Principal::contact(&contact), contact.timezone)
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    if now - s.last_seen_at > Duration::minutes(1) {
        diesel::update(web_sessions::table.find(s.id))
            .set((web_sessions::last_seen_at.eq(now), web_sessions::expires_at.eq(expiry(s.created_at, now))))
            .execute(&mut conn)?;
    }
    Ok(Some(Resolved { principal, stage: Stage::parse(&s.pending), timezone, session_id: s.id }))
}

/// Replaces a session by one in `stage` for the same account (a new token).
fn advance(app: &App, s: &WebSession, stage: Stage) -> ServiceResult<String> {
    let mut conn = app.conn()?;
    let subject = match (s.user_id, s.contact_id) {
        (Some(u), _) => Subject::User(store::user(&mut conn, u)?.ok_or(ServiceError::Unauthenticated)?),
        (_, Some(c)) => Subject::Contact(store::contact(&mut conn, c)?.ok_or(ServiceError::Unauthenticated)?),
        _ => return Err(ServiceError::Unauthenticated),
    };
    let token = insert(app, &subject, stage, &s.client_addr)?;
    diesel::delete(web_sessions::table.find(s.id)).execute(&mut conn)?;
    Ok(token)
}

/// The second step of a staff sign-in: a code from the app (or a recovery code). Returns
/// the new, fully signed-in session token.
pub fn give_code(app: &App, token: &str, code: &str) -> ServiceResult<String> {
    let s = load(app, token)?.filter(|s| s.expires_at > app.now()).ok_or(ServiceError::Unauthenticated)?;
    if Stage::parse(&s.pending) != Stage::Totp {
        return Err(ServiceError::Conflict("this sign-in does not wait for a code".into()));
    }
    let user_id = s.user_id.ok_or(ServiceError::Unauthenticated)?;
    if code.trim().is_empty() {
        return Err(ServiceError::invalid("code", "enter the code from your authenticator app"));
    }
    totp::check_sign_in_code(app, user_id, code)?;
    advance(app, &s, Stage::SignedIn)
}

/// After a staff user in the `Enrol` stage turned two-factor sign-in on: the session becomes
/// a full one (new token).
pub fn finish_enrolment(app: &App, token: &str) -> ServiceResult<String> {
    let s = load(app, token)?.ok_or(ServiceError::Unauthenticated)?;
    let user_id = s.user_id.ok_or(ServiceError::Unauthenticated)?;
    let mut conn = app.conn()?;
    if !totp::is_enabled(&mut conn, user_id)? {
        return Err(ServiceError::Conflict("two-factor sign-in is not set up yet".into()));
    }
    advance(app, &s, Stage::SignedIn)
}

/// Signs out: the session row goes, so the cookie is worthless even if it was copied.
pub fn sign_out(app: &App, token: &str) -> ServiceResult<()> {
    let mut conn = app.conn()?;
    diesel::delete(web_sessions::table.filter(web_sessions::token_hash.eq(hash(token)))).execute(&mut conn)?;
    Ok(())
}

/// The job that deletes expired sessions (they are refused anyway; this keeps the table
/// small). It runs hourly and schedules its next run itself.
pub const PRUNE_JOB: &str = "web.sessions.prune";

fn schedule_prune(conn: &mut crate::db::DbConn, now: NaiveDateTime) -> QueryResult<()> {
    crate::jobs::schedule(conn, PRUNE_JOB, &serde_json::json!({}), now + Duration::hours(1), Some(PRUNE_JOB), now)
}

/// Makes sure the pruning job is queued (at start; a restart does not stack copies).
pub fn ensure_prune_scheduled(app: &App) -> ServiceResult<()> {
    let mut conn = app.conn()?;
    let now = app.now();
    let queued: i64 = crate::schema::jobs::table
        .filter(crate::schema::jobs::dedupe_key.eq(PRUNE_JOB))
        .count()
        .get_result(&mut conn)?;
    if queued == 0 {
        schedule_prune(&mut conn, now)?;
    }
    Ok(())
}

/// Job handler: deletes expired sessions, then queues the next run.
pub fn prune(app: &App, _payload: &serde_json::Value) -> Result<(), crate::jobs::JobError> {
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let n = diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(now))).execute(conn)?;
        if n > 0 {
            tracing::debug!("pruned {n} expired web sessions");
        }
        schedule_prune(conn, now)
    })?;
    Ok(())
}

/// The CSRF token of forms shown to the holder of `cookie` (a session or pre-session cookie).
pub fn csrf_token(keys: &Keys, cookie: &str) -> String {
    hex::encode(keys.sign(Purpose::Csrf, hash(cookie).as_bytes()))
}

/// Constant-time check of a submitted CSRF token against the cookie it must derive from;
/// tokens made under an older secret still pass.
pub fn csrf_ok(keys: &Keys, cookie: &str, token: &str) -> bool {
    if cookie.is_empty() {
        return false;
    }
    match hex::decode(token.trim()) {
        Ok(mac) => keys.verify(Purpose::Csrf, hash(cookie).as_bytes(), &mac),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_their_cookie() {
        let keys = Keys::from_secrets("k").unwrap();
        let t = csrf_token(&keys, "cookie-a");
        assert!(csrf_ok(&keys, "cookie-a", &t));
        assert!(!csrf_ok(&keys, "cookie-b", &t));
        assert!(!csrf_ok(&keys, "", &t));
        assert!(!csrf_ok(&keys, "cookie-a", "not hex"));
        let rotated = Keys::from_secrets("new,k").unwrap();
        assert!(csrf_ok(&rotated, "cookie-a", &t), "a rotation keeps open forms working");
    }

    #[test]
    fn sessions_expire_when_idle_and_at_the_latest_after_max_days() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        assert_eq!(expiry(t0, t0), t0 + Duration::hours(IDLE_HOURS));
        let late = t0 + Duration::days(MAX_DAYS) - Duration::hours(1);
        assert_eq!(expiry(t0, late), t0 + Duration::days(MAX_DAYS));
    }
}
