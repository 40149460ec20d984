//! One-time invite links for contacts without a portal password: staff create one, give the
//! link to the customer, and the customer sets a password with it. The link works once and
//! for `VALID_DAYS`; a newer invite replaces older ones. Only a hash of the token is stored.

use super::auth::Principal;
use super::model::Contact;
use super::{password, store};
use crate::app::App;
use crate::audit;
use crate::changelog;
use crate::db::write_tx;
use crate::error::{ServiceError, ServiceResult};
use crate::schema::{contact_invites, contacts};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

pub const VALID_DAYS: i64 = 7;

fn hash(token: &str) -> String {
    crate::keys::sha256_hex(format!("invite:{token}").as_bytes())
}

/// A new invite link for a contact (staff only): the full URL, shown once, and its expiry.
pub fn create(app: &App, who: &Principal, contact_id: i64) -> ServiceResult<(String, NaiveDateTime)> {
    who.require_staff_write()?;
    let token = crate::keys::random_token(32);
    let now = app.now();
    let expires = now + Duration::days(VALID_DAYS);
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        let c = store::contact(conn, contact_id)?.ok_or(ServiceError::NotFound("contact"))?;
        if !c.active {
            return Err(ServiceError::Conflict(format!("{} is deactivated; reactivate the contact first", c.email)));
        }
        // Older links of this contact stop working.
        diesel::update(
            contact_invites::table
                .filter(contact_invites::contact_id.eq(contact_id))
                .filter(contact_invites::used_at.is_null()),
        )
        .set(contact_invites::expires_at.eq(now))
        .execute(conn)?;
        diesel::insert_into(contact_invites::table)
            .values((
                contact_invites::contact_id.eq(contact_id),
                contact_invites::token_hash.eq(hash(&token)),
                contact_invites::created_by.eq(who.user_id()),
                contact_invites::created_at.eq(now),
                contact_invites::expires_at.eq(expires),
            ))
            .execute(conn)?;
        audit::record(conn, who, "contact.invite", "contact", Some(contact_id), &c.email, now)?;
        Ok::<_, ServiceError>(())
    })?;
    Ok((format!("{}/invite/{token}", app.config.public_url), expires))
}

fn open_invite(conn: &mut crate::db::DbConn, token: &str, now: NaiveDateTime) -> ServiceResult<(i64, Contact)> {
    let row: Option<(i64, i64)> = contact_invites::table
        .filter(contact_invites::token_hash.eq(hash(token)))
        .filter(contact_invites::used_at.is_null())
        .filter(contact_invites::expires_at.gt(now))
        .select((contact_invites::id, contact_invites::contact_id))
        .first(conn)
        .optional()?;
    let (id, contact_id) = row.ok_or(ServiceError::NotFound("invite"))?;
    let c = store::contact(conn, contact_id)?.filter(|c| c.active).ok_or(ServiceError::NotFound("invite"))?;
    Ok((id, c))
}

/// The contact an invite link is for (anyone holding the link may ask).
pub fn lookup(app: &App, token: &str) -> ServiceResult<Contact> {
    let mut conn = app.conn()?;
    open_invite(&mut conn, token, app.now()).map(|(_, c)| c)
}

/// Sets the contact's password with the invite; the link is used up, and any earlier
/// sign-ins of the contact end.
pub fn accept(app: &App, token: &str, password_text: &str) -> ServiceResult<Contact> {
    if let Some(msg) = password::check_strength(password_text) {
        return Err(ServiceError::invalid("password", msg));
    }
    let hash_text = password::hash(password_text).map_err(ServiceError::internal)?;
    let now = app.now();
    let mut conn = app.conn()?;
    let contact_id = write_tx(&mut conn, |conn| {
        let (invite_id, c) = open_invite(conn, token, now)?;
        // Conditional, so that two simultaneous uses of one link cannot both succeed.
        let used = diesel::update(contact_invites::table.find(invite_id).filter(contact_invites::used_at.is_null()))
            .set(contact_invites::used_at.eq(now))
            .execute(conn)?;
        if used == 0 {
            return Err(ServiceError::NotFound("invite"));
        }
        diesel::update(contacts::table.find(c.id))
            .set((
                contacts::password_hash.eq(Some(&hash_text)),
                contacts::auth_version.eq(c.auth_version + 1),
                contacts::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &Principal::Anonymous,
            "contact.password",
            "contact",
            Some(c.id),
            "set with an invite",
            now,
        )?;
        changelog::record(conn, "contact", c.id, now)?;
        Ok::<_, ServiceError>(c.id)
    })?;
    app.committed();
    store::contact(&mut conn, contact_id)?.ok_or(ServiceError::NotFound("contact"))
}
