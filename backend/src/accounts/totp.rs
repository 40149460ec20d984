//! Two-factor sign-in for staff: TOTP codes from an authenticator app (RFC 6238: SHA-1,
//! six digits, 30-second steps, one step of clock skew either way — what the apps expect)
//! and one-time recovery codes for a lost phone.
//!
//! - The shared secret is stored encrypted with a key derived from the master secret (and
//!   its key id), so a copy of the database alone does not give away anyone's codes.
//! - A code is accepted once: the step it belongs to is remembered, and a code of that step
//!   or an earlier one is refused, so a code seen over someone's shoulder cannot be replayed.
//! - Code attempts share the sign-in rate limiter (per account), so six digits cannot be
//!   guessed by brute force.
//! - Recovery codes are stored as hashes, shown once, and each works once.
//! - An admin may require two-factor sign-in for every staff user; whoever has not set it up
//!   is then sent to set it up before anything else (web) or told to (API).

use super::auth::Principal;
use super::model::User;
use crate::app::App;
use crate::audit;
use crate::db::{write_tx, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::keys::{Keys, Purpose};
use crate::schema::{recovery_codes, user_totp};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;

pub const REQUIRE_SETTING: &str = "web.require_totp";
pub const RECOVERY_CODE_COUNT: usize = 10;
const STEP_SECONDS: u64 = 30;
const ISSUER: &str = "Wrench";

/// What a staff user must do after their password was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    NotNeeded,
    /// Give a code (or a recovery code).
    Code,
    /// An admin requires two-factor sign-in and this user has not set it up yet.
    MustEnrol,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_totp)]
struct TotpRow {
    secret_enc: String,
    confirmed_at: Option<NaiveDateTime>,
    last_step: i64,
}

fn row(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<TotpRow>> {
    user_totp::table.find(user_id).select(TotpRow::as_select()).first(conn).optional()
}

/// True when the user has confirmed a TOTP device.
pub fn is_enabled(conn: &mut DbConn, user_id: i64) -> QueryResult<bool> {
    Ok(row(conn, user_id)?.is_some_and(|r| r.confirmed_at.is_some()))
}

/// Whether an admin requires two-factor sign-in for staff.
pub fn required(conn: &mut DbConn) -> QueryResult<bool> {
    Ok(crate::settings::get(conn, REQUIRE_SETTING)?.as_deref() == Some("on"))
}

pub fn is_required(app: &App, who: &Principal) -> ServiceResult<bool> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(required(&mut conn)?)
}

/// Turns the requirement on or off (admins only; audited).
pub fn set_required(app: &App, who: &Principal, on: bool) -> ServiceResult<bool> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        crate::settings::set(conn, REQUIRE_SETTING, if on { "on" } else { "off" })?;
        audit::record(
            conn,
            who,
            "settings.update",
            "setting",
            None,
            &format!("two-factor sign-in for staff {}", if on { "required" } else { "optional" }),
            now,
        )?;
        Ok::<_, ServiceError>(())
    })?;
    Ok(on)
}

pub fn second_factor(app: &App, user: &User) -> ServiceResult<SecondFactor> {
    let mut conn = app.conn()?;
    if is_enabled(&mut conn, user.id)? {
        Ok(SecondFactor::Code)
    } else if required(&mut conn)? {
        Ok(SecondFactor::MustEnrol)
    } else {
        Ok(SecondFactor::NotNeeded)
    }
}

// ---------------------------------------------------------------- the secret at rest

fn keystream(key: &[u8], user_id: i64, nonce: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut block = Vec::with_capacity(48);
        block.extend_from_slice(b"totp");
        block.extend_from_slice(&user_id.to_be_bytes());
        block.extend_from_slice(nonce);
        block.extend_from_slice(&counter.to_be_bytes());
        out.extend(crate::keys::hmac_sha256(key, &block));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// Encrypts a secret: "key id:nonce:ciphertext" (hex), the keystream an HMAC-SHA256 PRF.
fn seal(keys: &Keys, user_id: i64, secret: &[u8]) -> String {
    let key = keys.current(Purpose::TotpSecret);
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let ks = keystream(&key.bytes, user_id, &nonce, secret.len());
    let ct: Vec<u8> = secret.iter().zip(ks).map(|(a, b)| a ^ b).collect();
    format!("{}:{}:{}", key.id, hex::encode(nonce), hex::encode(ct))
}

fn open(keys: &Keys, user_id: i64, sealed: &str) -> Option<Vec<u8>> {
    let mut parts = sealed.split(':');
    let key = keys.by_id(Purpose::TotpSecret, parts.next()?)?;
    let nonce = hex::decode(parts.next()?).ok()?;
    let ct = hex::decode(parts.next()?).ok()?;
    let ks = keystream(&key.bytes, user_id, &nonce, ct.len());
    Some(ct.iter().zip(ks).map(|(a, b)| a ^ b).collect())
}

fn totp_of(secret: Vec<u8>, account: &str) -> ServiceResult<totp_rs::TOTP> {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret,
        Some(ISSUER.to_string()),
        account.replace(':', "_"),
    )
    .map_err(|e| ServiceError::internal(format!("TOTP parameters: {e}")))
}

/// The step (30-second window) a code belongs to, within one step of `now`; `None` when
/// the code matches none.
fn matching_step(totp: &totp_rs::TOTP, code: &str, now: i64) -> Option<i64> {
    let now = u64::try_from(now).ok()?;
    let current = now / STEP_SECONDS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| {
            let expected = totp.generate(step * STEP_SECONDS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
        .and_then(|s| i64::try_from(s).ok())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------- enrolment

/// What the enrolment page shows: the secret (for typing in), the otpauth URL and its QR
/// code as inline SVG.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

fn own_staff(who: &Principal) -> ServiceResult<(i64, String)> {
    who.require_staff_write()?;
    match who {
        Principal::Staff(s) if s.scope == super::auth::Scope::Full => Ok((s.user_id, s.email.clone())),
        _ => Err(ServiceError::Forbidden),
    }
}

fn enrolment_of(secret: Vec<u8>, email: &str) -> ServiceResult<Enrolment> {
    let totp = totp_of(secret, email)?;
    let url = totp.get_url();
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| ServiceError::internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    // Inline in the page: drop the XML declaration and label the image.
    let svg = match svg.find("<svg") {
        Some(i) => {
            svg[i..].replacen("<svg ", "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ", 1)
        }
        None => svg,
    };
    Ok(Enrolment { secret_base32: totp.get_secret_base32(), otpauth_url: url, qr_svg: svg })
}

/// Starts (or restarts) setting up TOTP for the signed-in staff user: a new secret, not yet
/// in force until a code from it is confirmed.
pub fn begin_enrolment(app: &App, who: &Principal) -> ServiceResult<Enrolment> {
    let (user_id, email) = own_staff(who)?;
    let mut conn = app.conn()?;
    if is_enabled(&mut conn, user_id)? {
        return Err(ServiceError::Conflict(
            "two-factor sign-in is already on; turn it off first to change the device".into(),
        ));
    }
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let sealed = seal(&app.keys, user_id, &secret);
    let now = app.now();
    write_tx(&mut conn, |conn| {
        diesel::delete(user_totp::table.find(user_id)).execute(conn)?;
        diesel::insert_into(user_totp::table)
            .values((
                user_totp::user_id.eq(user_id),
                user_totp::secret_enc.eq(&sealed),
                user_totp::last_step.eq(0),
                user_totp::created_at.eq(now),
            ))
            .execute(conn)
    })?;
    enrolment_of(secret, &email)
}

/// The enrolment in progress (not yet confirmed), if any: the page shows it again after a
/// wrong code instead of starting over.
pub fn pending_enrolment(app: &App, who: &Principal) -> ServiceResult<Option<Enrolment>> {
    let (user_id, email) = own_staff(who)?;
    let mut conn = app.conn()?;
    match row(&mut conn, user_id)? {
        Some(r) if r.confirmed_at.is_none() => {
            let secret = open(&app.keys, user_id, &r.secret_enc)
                .ok_or_else(|| ServiceError::internal("cannot decrypt a TOTP secret (was WRENCH_SECRET changed?)"))?;
            enrolment_of(secret, &email).map(Some)
        }
        _ => Ok(None),
    }
}

fn new_recovery_codes(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<Vec<String>> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let code = random_recovery_code();
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(recovery_hash(user_id, &code)),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
        codes.push(code);
    }
    Ok(codes)
}

/// Ten letters and digits without look-alikes, shown as two groups of five.
fn random_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut raw = [0u8; 10];
    rand::rng().fill_bytes(&mut raw);
    let chars: String = raw.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

fn normalize_recovery(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
}

fn recovery_hash(user_id: i64, code: &str) -> String {
    crate::keys::sha256_hex(format!("recovery:{user_id}:{}", normalize_recovery(code)).as_bytes())
}

/// Confirms the enrolment with a code from the app; two-factor sign-in is on from now.
/// Returns the recovery codes, shown only this once.
pub fn confirm_enrolment(app: &App, who: &Principal, code: &str) -> ServiceResult<Vec<String>> {
    let (user_id, email) = own_staff(who)?;
    let code = code.trim().replace(' ', "");
    if code.is_empty() {
        return Err(ServiceError::invalid("code", "enter the six-digit code your app shows"));
    }
    let now = app.now();
    let stamp = app.clock.now().timestamp();
    let mut conn = app.conn()?;
    let codes = write_tx(&mut conn, |conn| {
        let r = row(conn, user_id)?
            .filter(|r| r.confirmed_at.is_none())
            .ok_or_else(|| ServiceError::Conflict("start setting up two-factor sign-in first".into()))?;
        let secret = open(&app.keys, user_id, &r.secret_enc)
            .ok_or_else(|| ServiceError::internal("cannot decrypt a TOTP secret (was WRENCH_SECRET changed?)"))?;
        let totp = totp_of(secret, &email)?;
        let Some(step) = matching_step(&totp, &code, stamp) else {
            return Err(ServiceError::invalid(
                "code",
                "that code does not match; check the time on your phone and enter the current code",
            ));
        };
        diesel::update(user_totp::table.find(user_id))
            .set((user_totp::confirmed_at.eq(now), user_totp::last_step.eq(step)))
            .execute(conn)?;
        let codes = new_recovery_codes(conn, user_id, now)?;
        audit::record(conn, who, "totp.enable", "user", Some(user_id), "two-factor sign-in turned on", now)?;
        Ok::<_, ServiceError>(codes)
    })?;
    Ok(codes)
}

/// Checks a sign-in code (TOTP or recovery) for a user whose password was just accepted.
/// Wrong codes count against the account's sign-in limit.
pub fn check_sign_in_code(app: &App, user_id: i64, code: &str) -> ServiceResult<()> {
    let key = format!("totp:{user_id}");
    app.login_limiter.reserve(&key, app.clock.now()).map_err(ServiceError::RateLimited)?;
    let ok = verify_code(app, user_id, code)?;
    if ok {
        app.login_limiter.forgive(&key);
        Ok(())
    } else {
        Err(ServiceError::invalid("code", "that code is wrong or was already used"))
    }
}

fn verify_code(app: &App, user_id: i64, code: &str) -> ServiceResult<bool> {
    let code = code.trim();
    let now = app.now();
    let stamp = app.clock.now().timestamp();
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        let Some(r) = row(conn, user_id)?.filter(|r| r.confirmed_at.is_some()) else { return Ok(false) };
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
            let account = crate::accounts::store::user(conn, user_id)?.map(|u| u.email).unwrap_or_default();
            let secret = open(&app.keys, user_id, &r.secret_enc)
                .ok_or_else(|| ServiceError::internal("cannot decrypt a TOTP secret (was WRENCH_SECRET changed?)"))?;
            let totp = totp_of(secret, &account)?;
            return match matching_step(&totp, &digits, stamp) {
                Some(step) if step > r.last_step => {
                    // Conditional, so one code cannot be accepted twice by simultaneous sign-ins.
                    let n = diesel::update(user_totp::table.find(user_id).filter(user_totp::last_step.lt(step)))
                        .set(user_totp::last_step.eq(step))
                        .execute(conn)?;
                    Ok(n == 1)
                }
                _ => Ok(false),
            };
        }
        // A recovery code: works once.
        let n = diesel::update(
            recovery_codes::table
                .filter(recovery_codes::user_id.eq(user_id))
                .filter(recovery_codes::code_hash.eq(recovery_hash(user_id, code)))
                .filter(recovery_codes::used_at.is_null()),
        )
        .set(recovery_codes::used_at.eq(now))
        .execute(conn)?;
        if n > 0 {
            let who = Principal::System;
            audit::record(conn, &who, "totp.recovery_code", "user", Some(user_id), "a recovery code was used", now)?;
        }
        Ok::<_, ServiceError>(n > 0)
    })
}

/// What the security page shows about a user.
#[derive(Debug, Clone, Copy)]
pub struct TotpStatus {
    pub enabled: bool,
    pub recovery_codes_left: i64,
}

pub fn status(app: &App, who: &Principal, user_id: i64) -> ServiceResult<TotpStatus> {
    if who.user_id() != Some(user_id) {
        who.require_admin()?;
    }
    who.require_staff()?;
    let mut conn = app.conn()?;
    let enabled = is_enabled(&mut conn, user_id)?;
    let left: i64 = recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(&mut conn)?;
    Ok(TotpStatus { enabled, recovery_codes_left: left })
}

/// New recovery codes (the old ones stop working); asks for the password again.
pub fn regenerate_recovery_codes(app: &App, who: &Principal, password_text: &str) -> ServiceResult<Vec<String>> {
    let (user_id, _) = own_staff(who)?;
    confirm_password(app, who, password_text)?;
    let now = app.now();
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        if !is_enabled(conn, user_id)? {
            return Err(ServiceError::Conflict("turn on two-factor sign-in first".into()));
        }
        let codes = new_recovery_codes(conn, user_id, now)?;
        audit::record(conn, who, "totp.recovery_codes", "user", Some(user_id), "new recovery codes", now)?;
        Ok(codes)
    })
}

fn confirm_password(app: &App, who: &Principal, password_text: &str) -> ServiceResult<()> {
    if !super::service::verify_password(app, who, password_text)? {
        return Err(ServiceError::invalid("password", "that is not your current password"));
    }
    Ok(())
}

/// Turns two-factor sign-in off: the user themselves (with their password), or an admin
/// for someone who lost their phone (audited).
pub fn disable(app: &App, who: &Principal, user_id: i64, password_text: Option<&str>) -> ServiceResult<()> {
    who.require_staff_write()?;
    if who.user_id() == Some(user_id) {
        let mut conn = app.conn()?;
        if required(&mut conn)? {
            return Err(ServiceError::Conflict("an admin requires two-factor sign-in, so it stays on".into()));
        }
        confirm_password(app, who, password_text.unwrap_or_default())?;
    } else {
        who.require_admin()?;
    }
    let now = app.now();
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        let n = diesel::delete(user_totp::table.find(user_id)).execute(conn)?;
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
        if n > 0 {
            audit::record(conn, who, "totp.disable", "user", Some(user_id), "two-factor sign-in turned off", now)?;
        }
        Ok::<_, ServiceError>(())
    })
}

/// Staff user ids with two-factor sign-in on (for the admin's user list).
pub fn enabled_users(app: &App, who: &Principal) -> ServiceResult<Vec<i64>> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    Ok(user_totp::table.filter(user_totp::confirmed_at.is_not_null()).select(user_totp::user_id).load(&mut conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_only_within_a_step_of_now() {
        let totp = totp_of(b"12345678901234567890".to_vec(), "a@b").unwrap();
        // RFC 6238 test vector (SHA-1, 59 s): 94287082 → six digits 287082.
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(matching_step(&totp, "287082", 59), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 + 30), Some(1), "one step late is fine");
        assert_eq!(matching_step(&totp, "287082", 59 + 90), None, "three steps late is not");
        assert_eq!(matching_step(&totp, "000000", 59), None);
    }

    #[test]
    fn recovery_codes_ignore_case_spaces_and_dashes() {
        let c = random_recovery_code();
        assert_eq!(c.len(), 11);
        assert_eq!(recovery_hash(3, &c), recovery_hash(3, &c.to_uppercase().replace('-', " ")));
        assert_ne!(recovery_hash(3, &c), recovery_hash(4, &c), "bound to the user");
    }

    #[test]
    fn secrets_round_trip_survive_a_rotation_and_are_bound_to_the_user() {
        let keys = Keys::from_secrets("s").unwrap();
        let secret = b"12345678901234567890";
        let sealed = seal(&keys, 1, secret);
        assert!(!sealed.contains(&hex::encode(secret)), "not stored in the clear");
        assert_eq!(open(&keys, 1, &sealed).unwrap(), secret);
        assert_ne!(open(&keys, 2, &sealed).unwrap(), secret, "another user's row does not decrypt to it");
        let rotated = Keys::from_secrets("new,s").unwrap();
        assert_eq!(open(&rotated, 1, &sealed).unwrap(), secret, "older key ids still open");
        assert!(open(&Keys::from_secrets("other").unwrap(), 1, &sealed).is_none());
    }
}
