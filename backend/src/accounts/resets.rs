//! Password reset by a mailed one-time link, for staff users and portal contacts.
//!
//! - Asking never says whether an account exists: a known address, an unknown one and a
//!   deactivated account get the same answer; only an active account with a password is sent
//!   a link. Requests are limited per email address and per client address.
//! - Only a hash of the token is stored. A link works for `VALID_MINUTES`, once (a
//!   conditional update marks it used, so two simultaneous uses cannot both win), and a
//!   successful reset voids the account's other open links.
//! - A reset changes the password, bumps the account's `auth_version` (every web session and
//!   JWT ends) and carries the user's API tokens over to the new version, so integrations keep
//!   working. It signs nobody in: staff with two-factor sign-in still give a code afterwards.

use super::auth::Principal;
use super::model::{Contact, User};
use super::{password, service::normalize_email, store};
use crate::app::App;
use crate::audit;
use crate::changelog;
use crate::db::{write_tx, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::mail::outbound::{self, OutMail};
use crate::schema::{api_tokens, contacts, password_resets, users, web_sessions};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use validator::ValidateEmail;

pub const VALID_MINUTES: i64 = 60;
/// Requests for one email address per hour (a mailbox is not flooded with links).
pub const PER_ADDRESS_PER_HOUR: usize = 5;
/// Requests from one client address per hour (addresses cannot be probed in bulk).
pub const PER_CLIENT_PER_HOUR: usize = 30;

fn hash(token: &str) -> String {
    crate::keys::sha256_hex(format!("reset:{token}").as_bytes())
}

/// The account a reset link is for.
#[derive(Debug, Clone)]
pub enum Account {
    User(User),
    Contact(Contact),
}

impl Account {
    pub fn email(&self) -> &str {
        match self {
            Account::User(u) => &u.email,
            Account::Contact(c) => &c.email,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Account::User(u) => &u.name,
            Account::Contact(c) => &c.name,
        }
    }
}

/// The active account behind an address that may sign in with a password: staff first,
/// then contacts (as sign-in looks them up). Contacts without a password have no portal
/// access to recover; staff invite them instead.
fn account_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<Account>> {
    if let Some(u) = store::user_by_email(conn, email)? {
        return Ok(u.active.then_some(Account::User(u)));
    }
    Ok(store::contact_by_email(conn, email)?.filter(|c| c.active && c.password_hash.is_some()).map(Account::Contact))
}

/// Asks for a reset link for `email`. `Ok(())` whether or not an account exists; the link
/// goes only to an active account's own address.
pub fn request(app: &App, email: &str, client: &str) -> ServiceResult<()> {
    let email = normalize_email(email);
    if email.is_empty() {
        return Err(ServiceError::invalid("email", "enter your email address"));
    }
    if email.len() > 254 || !email.validate_email() {
        return Err(ServiceError::invalid("email", "is not a valid email address"));
    }
    let now_utc = app.clock.now();
    app.reset_ip_limiter.reserve(&format!("addr:{client}"), now_utc).map_err(ServiceError::RateLimited)?;
    app.reset_limiter.reserve(&format!("acct:{email}"), now_utc).map_err(ServiceError::RateLimited)?;
    let now = app.now();
    let mut conn = app.conn()?;
    let queued = write_tx(&mut conn, |conn| {
        let Some(account) = account_by_email(conn, &email)? else { return Ok::<_, ServiceError>(false) };
        let token = crate::keys::random_token(32);
        let (user_id, contact_id) = match &account {
            Account::User(u) => (Some(u.id), None),
            Account::Contact(c) => (None, Some(c.id)),
        };
        let client_addr: String = client.chars().take(64).collect();
        diesel::insert_into(password_resets::table)
            .values((
                password_resets::user_id.eq(user_id),
                password_resets::contact_id.eq(contact_id),
                password_resets::token_hash.eq(hash(&token)),
                password_resets::client_addr.eq(&client_addr),
                password_resets::created_at.eq(now),
                password_resets::expires_at.eq(now + Duration::minutes(VALID_MINUTES)),
            ))
            .execute(conn)?;
        let link = format!("{}/reset/{token}", app.config.public_url);
        let body = format!(
            "Hello {name},\n\n\
             someone, hopefully you, asked to reset the password of the Wrench\n\
             account {email}. To choose a new password, open this link\n\
             within {VALID_MINUTES} minutes:\n\n\
             {link}\n\n\
             The link works once. If you did not ask for it, ignore this message:\n\
             your password stays as it is. The request came from {from}.\n",
            name = account.name(),
            email = account.email(),
            from = if client_addr.is_empty() { "an unknown address" } else { client_addr.as_str() },
        );
        let sent = outbound::queue(
            conn,
            app,
            OutMail {
                to: account.email().to_string(),
                to_name: account.name().to_string(),
                subject: "Reset your Wrench password".into(),
                body,
                ticket: None,
                kind: "reset",
                automatic: true,
                answers: None,
            },
            now,
        )?;
        Ok(sent.is_some())
    })?;
    if queued {
        app.committed();
    }
    Ok(())
}

fn open_link(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> ServiceResult<(i64, Account)> {
    if token.is_empty() || token.len() > 100 {
        return Err(ServiceError::NotFound("reset link"));
    }
    let row: Option<(i64, Option<i64>, Option<i64>)> = password_resets::table
        .filter(password_resets::token_hash.eq(hash(token)))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.gt(now))
        .select((password_resets::id, password_resets::user_id, password_resets::contact_id))
        .first(conn)
        .optional()?;
    let account = match row {
        Some((id, Some(u), _)) => store::user(conn, u)?.filter(|u| u.active).map(|u| (id, Account::User(u))),
        Some((id, _, Some(c))) => store::contact(conn, c)?
            .filter(|c| c.active && c.password_hash.is_some())
            .map(|c| (id, Account::Contact(c))),
        _ => None,
    };
    account.ok_or(ServiceError::NotFound("reset link"))
}

/// Ends the open reset links of a user or a contact: when a link is used, and whenever the
/// account's password or address changes or it is deactivated (a link mailed to the old
/// address, or sent before staff removed a portal password, must not outlive that).
pub(crate) fn void_links(
    conn: &mut DbConn,
    user: Option<i64>,
    contact: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let open =
        password_resets::table.filter(password_resets::used_at.is_null()).filter(password_resets::expires_at.gt(now));
    match (user, contact) {
        (Some(u), _) => diesel::update(open.filter(password_resets::user_id.eq(u)))
            .set(password_resets::expires_at.eq(now))
            .execute(conn),
        (None, Some(c)) => diesel::update(open.filter(password_resets::contact_id.eq(c)))
            .set(password_resets::expires_at.eq(now))
            .execute(conn),
        (None, None) => Ok(0),
    }
}

/// The account a reset link is for, while the link is good (anyone holding it may ask).
pub fn lookup(app: &App, token: &str) -> ServiceResult<Account> {
    let mut conn = app.conn()?;
    open_link(&mut conn, token, app.now()).map(|(_, a)| a)
}

/// Sets a new password with a reset link. The link is used up, the account's other links are
/// voided, every session of the account ends (API tokens keep working), and the audit log
/// records it. Returns the account, whose owner signs in afterwards as usual.
pub fn reset(app: &App, token: &str, password_text: &str) -> ServiceResult<Account> {
    let now = app.now();
    // A bad link is refused before the (deliberately slow) password hashing.
    lookup(app, token)?;
    if let Some(msg) = password::check_strength(password_text) {
        return Err(ServiceError::invalid("password", msg));
    }
    let hash_text = password::hash(password_text).map_err(ServiceError::internal)?;
    let mut conn = app.conn()?;
    let account = write_tx(&mut conn, |conn| {
        let (link_id, account) = open_link(conn, token, now)?;
        // Conditional, so that two simultaneous uses of one link cannot both succeed.
        let used = diesel::update(password_resets::table.find(link_id).filter(password_resets::used_at.is_null()))
            .set(password_resets::used_at.eq(now))
            .execute(conn)?;
        if used == 0 {
            return Err(ServiceError::NotFound("reset link"));
        }
        match &account {
            Account::User(u) => {
                let version = u.auth_version + 1;
                diesel::update(users::table.find(u.id))
                    .set((
                        users::password_hash.eq(&hash_text),
                        users::auth_version.eq(version),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                // API tokens are not sessions: they were made on purpose and keep working.
                diesel::update(
                    api_tokens::table
                        .filter(api_tokens::user_id.eq(u.id))
                        .filter(api_tokens::auth_version.eq(u.auth_version)),
                )
                .set(api_tokens::auth_version.eq(version))
                .execute(conn)?;
                diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(u.id))).execute(conn)?;
                void_links(conn, Some(u.id), None, now)?;
                audit::record(conn, &Principal::Anonymous, "user.password", "user", Some(u.id), "reset by mail", now)?;
                changelog::record(conn, "user", u.id, now)?;
            }
            Account::Contact(c) => {
                diesel::update(contacts::table.find(c.id))
                    .set((
                        contacts::password_hash.eq(Some(&hash_text)),
                        contacts::auth_version.eq(c.auth_version + 1),
                        contacts::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::delete(web_sessions::table.filter(web_sessions::contact_id.eq(c.id))).execute(conn)?;
                void_links(conn, None, Some(c.id), now)?;
                audit::record(
                    conn,
                    &Principal::Anonymous,
                    "contact.password",
                    "contact",
                    Some(c.id),
                    "reset by mail",
                    now,
                )?;
                changelog::record(conn, "contact", c.id, now)?;
            }
        }
        Ok::<_, ServiceError>(account)
    })?;
    app.committed();
    Ok(account)
}
