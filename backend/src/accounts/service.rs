//! Rules and permissions for companies, contacts, staff users, queues, sign-in and API tokens.

use super::auth::{self, Principal, Scope, Subject};
use super::model::{ApiToken, Company, Contact, Queue, QueueMember, Role, TokenScope, User};
use super::{password, store};
use crate::app::App;
use crate::audit;
use crate::changelog;
use crate::db::{write_tx, DbConn};
use crate::error::{Checks, ServiceError, ServiceResult};
use crate::paging::{Page, PageRequest};
use crate::schema::{
    api_tokens, companies, company_domains, contacts, queue_members, queues, ticket_watchers, tickets, users,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use validator::ValidateEmail;

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn check_email(checks: &mut Checks, field: &str, email: &str) {
    if email.is_empty() {
        checks.add(field, "is required");
    } else if email.len() > 254 || !email.validate_email() {
        checks.add(field, "is not a valid email address");
    }
}

fn check_len(checks: &mut Checks, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n < min {
        checks.add(
            field,
            if min == 1 { "is required".to_string() } else { format!("must be at least {min} characters") },
        );
    } else if n > max {
        checks.add(field, format!("must be at most {max} characters"));
    }
}

pub fn check_timezone(checks: &mut Checks, tz: &str) {
    if tz.parse::<chrono_tz::Tz>().is_err() {
        checks.add("timezone", "is not an IANA time zone such as Europe/London");
    }
}

// ---------------------------------------------------------------- sign-in

/// Checks an email and password (staff first, then contacts). Every attempt reserves a slot
/// in the per-account and per-address limits; a success gives it back. A wrong email and a
/// wrong password get the same answer and timing. Shared by the API's `login` and the web
/// sign-in, so both surfaces have the same limits and the same rules.
pub fn authenticate(app: &App, email: &str, password_text: &str, client: &str) -> ServiceResult<Subject> {
    let email = normalize_email(email);
    let now = app.clock.now();
    let acct_key = format!("acct:{email}");
    let addr_key = format!("addr:{client}");
    app.login_limiter.reserve(&acct_key, now).map_err(ServiceError::RateLimited)?;
    if let Err(wait) = app.login_ip_limiter.reserve(&addr_key, now) {
        app.login_limiter.forgive(&acct_key);
        return Err(ServiceError::RateLimited(wait));
    }
    let mut conn = app.conn()?;
    let subject = if let Some(user) = store::user_by_email(&mut conn, &email)? {
        // Verify before looking at `active`, so a deactivated account answers as slowly as any other.
        (password::verify(password_text, &user.password_hash) && user.active).then_some(Subject::User(user))
    } else if let Some(contact) = store::contact_by_email(&mut conn, &email)? {
        let hash = contact.password_hash.clone();
        match hash {
            Some(h) if contact.active && password::verify(password_text, &h) => Some(Subject::Contact(contact)),
            _ => {
                password::verify(password_text, password::dummy_hash());
                None
            }
        }
    } else {
        password::verify(password_text, password::dummy_hash());
        None
    };
    let Some(subject) = subject else {
        return Err(ServiceError::invalid("password", "the email or password is wrong"));
    };
    app.login_limiter.forgive(&acct_key);
    app.login_ip_limiter.forgive(&addr_key);
    Ok(subject)
}

/// Signs in over the API and issues a JWT. Staff who turned on two-factor sign-in must also
/// give a current code (or a recovery code); when an admin requires two-factor sign-in, staff
/// without it are told to set it up in the web UI first.
pub fn login(
    app: &App,
    email: &str,
    password_text: &str,
    totp_code: Option<&str>,
    client: &str,
) -> ServiceResult<(String, Principal)> {
    let subject = authenticate(app, email, password_text, client)?;
    if let Subject::User(u) = &subject {
        match super::totp::second_factor(app, u)? {
            super::totp::SecondFactor::NotNeeded => {}
            super::totp::SecondFactor::MustEnrol => {
                return Err(ServiceError::invalid(
                    "totpCode",
                    "two-factor sign-in is required: set it up by signing in to the web UI first",
                ))
            }
            super::totp::SecondFactor::Code => match totp_code.map(str::trim).filter(|c| !c.is_empty()) {
                None => return Err(ServiceError::invalid("totpCode", "enter the code from your authenticator app")),
                Some(code) => super::totp::check_sign_in_code(app, u.id, code)?,
            },
        }
    }
    let token = auth::issue_jwt(app, &subject)?;
    let principal = match &subject {
        Subject::User(u) => Principal::staff(u, Scope::Full),
        Subject::Contact(c) => Principal::contact(c),
    };
    Ok((token, principal))
}

/// Verifies a password for an existing principal (used to confirm sensitive changes).
pub fn verify_password(app: &App, who: &Principal, password_text: &str) -> ServiceResult<bool> {
    let mut conn = app.conn()?;
    let hash = match who {
        Principal::Staff(s) => store::user(&mut conn, s.user_id)?.map(|u| u.password_hash),
        Principal::Contact(c) => store::contact(&mut conn, c.contact_id)?.and_then(|c| c.password_hash),
        _ => None,
    };
    Ok(hash.is_some_and(|h| password::verify(password_text, &h)))
}

/// A person changing their own password proves they know the current one (a stolen session
/// or token alone must not be enough to take the account over). Attempts count against the
/// same limit as sign-ins.
fn confirm_current_password(app: &App, who: &Principal, current: Option<&str>) -> ServiceResult<()> {
    let email = match who {
        Principal::Staff(s) => s.email.clone(),
        Principal::Contact(c) => c.email.clone(),
        _ => return Ok(()),
    };
    let key = format!("acct:{email}");
    app.login_limiter.reserve(&key, app.clock.now()).map_err(ServiceError::RateLimited)?;
    if verify_password(app, who, current.unwrap_or_default())? {
        app.login_limiter.forgive(&key);
        Ok(())
    } else {
        Err(ServiceError::invalid("currentPassword", "give your current password to set a new one"))
    }
}

/// Creates the first admin when none exists: from `WRENCH_ADMIN_EMAIL`/`_PASSWORD` if set,
/// else with a random password written to `DATA_DIR/initial-admin-password` (0600).
/// Never touches an existing admin's password. Returns what the operator should be told.
pub fn ensure_initial_admin(app: &App) -> ServiceResult<Option<String>> {
    let mut conn = app.conn()?;
    if store::admin_count(&mut conn)? > 0
        || users::table.filter(users::role.eq("admin")).count().get_result::<i64>(&mut conn)? > 0
    {
        return Ok(None);
    }
    let (email, pw, generated) = match (&app.config.admin_email, &app.config.admin_password) {
        (Some(e), Some(p)) => (normalize_email(e), p.clone(), false),
        (email, _) => {
            let email =
                email.as_deref().map(normalize_email).unwrap_or_else(|| format!("admin@{}", app.config.public_host()));
            (email, crate::keys::random_token(18), true)
        }
    };
    let hash = password::hash(&pw).map_err(ServiceError::internal)?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        insert_user(conn, &email, "Administrator", Role::Admin, &hash, now)?;
        audit::record(conn, &Principal::System, "user.create", "user", None, &format!("initial admin {email}"), now)?;
        Ok::<_, ServiceError>(())
    })?;
    if generated {
        let path = app.config.data_dir.join("initial-admin-password");
        std::fs::create_dir_all(&app.config.data_dir).map_err(ServiceError::internal)?;
        crate::files::write_private(&path, format!("{email}\n{pw}\n").as_bytes()).map_err(ServiceError::internal)?;
        Ok(Some(format!("initial admin {email}: password in {} (mode 0600)", path.display())))
    } else {
        Ok(Some(format!("initial admin {email} created from WRENCH_ADMIN_EMAIL")))
    }
}

fn insert_user(
    conn: &mut DbConn,
    email: &str,
    name: &str,
    role: Role,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values((
            users::email.eq(email),
            users::name.eq(name),
            users::role.eq(role.as_str()),
            users::password_hash.eq(hash),
            users::active.eq(true),
            users::auth_version.eq(1),
            users::timezone.eq("UTC"),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::id)
        .get_result(conn)
}

// ---------------------------------------------------------------- companies

#[derive(Debug, Clone, Default)]
pub struct CompanyInput {
    pub name: Option<String>,
    pub email_domains: Option<Vec<String>>,
    pub phone: Option<String>,
    pub notes: Option<String>,
}

fn normalize_domain(d: &str) -> String {
    d.trim().trim_start_matches('@').trim_end_matches('.').to_lowercase()
}

fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn check_company(conn: &mut DbConn, input: &CompanyInput, existing: Option<i64>) -> ServiceResult<Vec<String>> {
    let mut checks = Checks::new();
    if let Some(name) = &input.name {
        check_len(&mut checks, "name", name, 1, 200);
        let key = name.trim().to_lowercase();
        let clash: Option<i64> =
            companies::table.filter(companies::name_key.eq(&key)).select(companies::id).first(conn).optional()?;
        if clash.is_some_and(|id| Some(id) != existing) {
            checks.add("name", "another company already has this name");
        }
    }
    if let Some(p) = &input.phone {
        check_len(&mut checks, "phone", p, 0, 50);
    }
    if let Some(n) = &input.notes {
        check_len(&mut checks, "notes", n, 0, 20_000);
    }
    let mut domains = Vec::new();
    for d in input.email_domains.iter().flatten() {
        let d = normalize_domain(d);
        if d.is_empty() {
            continue;
        }
        if !valid_domain(&d) {
            checks.add("emailDomains", format!("{d:?} is not a domain like example.com"));
            continue;
        }
        let owner: Option<i64> = company_domains::table
            .filter(company_domains::domain.eq(&d))
            .select(company_domains::company_id)
            .first(conn)
            .optional()?;
        if owner.is_some_and(|id| Some(id) != existing) {
            checks.add("emailDomains", format!("{d} already belongs to another company"));
        }
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    checks.finish()?;
    Ok(domains)
}

fn set_domains(conn: &mut DbConn, company_id: i64, domains: &[String]) -> QueryResult<()> {
    diesel::delete(company_domains::table.filter(company_domains::company_id.eq(company_id))).execute(conn)?;
    for d in domains {
        diesel::insert_into(company_domains::table)
            .values((company_domains::domain.eq(d), company_domains::company_id.eq(company_id)))
            .execute(conn)?;
    }
    Ok(())
}

pub fn create_company(app: &App, who: &Principal, input: CompanyInput) -> ServiceResult<Company> {
    who.require_staff_write()?;
    if input.name.is_none() {
        return Err(ServiceError::invalid("name", "is required"));
    }
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let domains = check_company(conn, &input, None)?;
        let name = input.name.as_deref().unwrap_or_default().trim();
        let id: i64 = diesel::insert_into(companies::table)
            .values((
                companies::name.eq(name),
                companies::name_key.eq(name.to_lowercase()),
                companies::phone.eq(input.phone.as_deref().unwrap_or("").trim()),
                companies::notes.eq(input.notes.as_deref().unwrap_or("")),
                companies::created_at.eq(now),
                companies::updated_at.eq(now),
            ))
            .returning(companies::id)
            .get_result(conn)
            .map_err(|e| conflict_or(e, "name", "another company already has this name"))?;
        set_domains(conn, id, &domains)?;
        changelog::record(conn, "company", id, now)?;
        audit::record(conn, who, "company.create", "company", Some(id), name, now)?;
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    get_company_unchecked(&mut conn, id)
}

pub fn update_company(app: &App, who: &Principal, id: i64, input: CompanyInput) -> ServiceResult<Company> {
    who.require_staff_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let current = store::company(conn, id)?.ok_or(ServiceError::NotFound("company"))?;
        let domains = check_company(conn, &input, Some(id))?;
        let name = input.name.as_deref().map(str::trim).unwrap_or(&current.name).to_string();
        diesel::update(companies::table.find(id))
            .set((
                companies::name.eq(&name),
                companies::name_key.eq(name.to_lowercase()),
                companies::phone.eq(input.phone.as_deref().map(str::trim).unwrap_or(&current.phone)),
                companies::notes.eq(input.notes.as_deref().unwrap_or(&current.notes)),
                companies::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| conflict_or(e, "name", "another company already has this name"))?;
        if input.email_domains.is_some() {
            set_domains(conn, id, &domains)?;
        }
        changelog::record(conn, "company", id, now)?;
        audit::record(conn, who, "company.update", "company", Some(id), &name, now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    get_company_unchecked(&mut conn, id)
}

fn conflict_or(e: diesel::result::Error, field: &str, message: &str) -> ServiceError {
    if crate::db::is_unique_violation(&e) {
        ServiceError::invalid(field, message)
    } else {
        e.into()
    }
}

fn get_company_unchecked(conn: &mut DbConn, id: i64) -> ServiceResult<Company> {
    store::company(conn, id)?.ok_or(ServiceError::NotFound("company"))
}

/// A company, if the caller may see it (staff: any; a contact: only their own).
pub fn get_company(app: &App, who: &Principal, id: i64) -> ServiceResult<Company> {
    who.require_signed_in()?;
    if who.confined_to_company().is_some_and(|c| c != id) {
        return Err(ServiceError::NotFound("company"));
    }
    let mut conn = app.conn()?;
    get_company_unchecked(&mut conn, id)
}

pub fn company_domains(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<String>> {
    get_company(app, who, id)?;
    let mut conn = app.conn()?;
    Ok(store::company_domains(&mut conn, id)?)
}

pub fn list_companies(
    app: &App,
    who: &Principal,
    search: Option<&str>,
    page: &PageRequest,
) -> ServiceResult<Page<Company>> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    let offset = page.offset()?;
    let build = || {
        let mut q = companies::table.into_boxed();
        if let Some(c) = who.confined_to_company() {
            q = q.filter(companies::id.eq(c));
        }
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            q = q.filter(companies::name_key.like(format!("%{}%", escape_like(&s.to_lowercase()))).escape('\\'));
        }
        q
    };
    let total: i64 = build().count().get_result(&mut conn)?;
    let rows = build()
        .order((companies::name_key.asc(), companies::id.asc()))
        .offset(offset)
        .limit(page.first + 1)
        .select(Company::as_select())
        .load(&mut conn)?;
    Ok(Page::from_offset(rows, offset, page.first, total))
}

/// Names of the given companies in one query (staff only; for lists of contacts).
pub fn company_names(app: &App, who: &Principal, ids: &[i64]) -> ServiceResult<std::collections::HashMap<i64, String>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(companies::table
        .filter(companies::id.eq_any(ids))
        .select((companies::id, companies::name))
        .load::<(i64, String)>(&mut conn)?
        .into_iter()
        .collect())
}

pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

// ---------------------------------------------------------------- contacts

#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub company_id: Option<i64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Sets (or, with an empty string, removes) the portal password.
    pub password: Option<String>,
    pub active: Option<bool>,
    pub timezone: Option<String>,
    /// Needed when a contact changes their own password.
    pub current_password: Option<String>,
}

fn check_contact(conn: &mut DbConn, input: &ContactInput, existing: Option<i64>) -> ServiceResult<()> {
    let mut checks = Checks::new();
    if let Some(name) = &input.name {
        check_len(&mut checks, "name", name, 1, 200);
    }
    if let Some(email) = &input.email {
        let email = normalize_email(email);
        check_email(&mut checks, "email", &email);
        let clash: Option<i64> =
            contacts::table.filter(contacts::email.eq(&email)).select(contacts::id).first(conn).optional()?;
        if clash.is_some_and(|id| Some(id) != existing) {
            checks.add("email", "another contact already has this email");
        } else if store::user_by_email(conn, &email)?.is_some() {
            checks.add("email", "this email belongs to a staff user");
        }
    }
    if let Some(p) = &input.phone {
        check_len(&mut checks, "phone", p, 0, 50);
    }
    if let Some(p) = input.password.as_deref().filter(|p| !p.is_empty()) {
        if let Some(msg) = password::check_strength(p) {
            checks.add("password", msg);
        }
    }
    if let Some(tz) = &input.timezone {
        check_timezone(&mut checks, tz);
    }
    if let Some(c) = input.company_id {
        if store::company(conn, c)?.is_none() {
            checks.add("companyId", "no such company");
        }
    }
    checks.finish()
}

fn hash_optional(p: &str) -> ServiceResult<Option<String>> {
    if p.is_empty() {
        Ok(None)
    } else {
        password::hash(p).map(Some).map_err(ServiceError::internal)
    }
}

pub fn create_contact(app: &App, who: &Principal, input: ContactInput) -> ServiceResult<Contact> {
    who.require_staff_write()?;
    let mut checks = Checks::new();
    checks.check(input.company_id.is_some(), "companyId", "is required");
    checks.check(input.name.is_some(), "name", "is required");
    checks.check(input.email.is_some(), "email", "is required");
    checks.finish()?;
    let mut conn = app.conn()?;
    let hash = match input.password.as_deref() {
        Some(p) if password::check_strength(p).is_none() => hash_optional(p)?,
        _ => None,
    };
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        check_contact(conn, &input, None)?;
        let id = insert_contact(
            conn,
            input.company_id.unwrap_or_default(),
            input.name.as_deref().unwrap_or_default().trim(),
            &normalize_email(input.email.as_deref().unwrap_or_default()),
            input.phone.as_deref().unwrap_or("").trim(),
            hash.as_deref(),
            now,
        )
        .map_err(|e| conflict_or(e, "email", "another contact already has this email"))?;
        if let Some(tz) = &input.timezone {
            diesel::update(contacts::table.find(id)).set(contacts::timezone.eq(tz)).execute(conn)?;
        }
        if hash.is_some() {
            audit::record(conn, who, "contact.password", "contact", Some(id), "portal password set", now)?;
        }
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    store::contact(&mut conn, id)?.ok_or(ServiceError::NotFound("contact"))
}

/// Inserts a contact row and its change-log entry (shared with the mail gateway, which
/// creates contacts for senders from a company's domains).
pub fn insert_contact(
    conn: &mut DbConn,
    company_id: i64,
    name: &str,
    email: &str,
    phone: &str,
    password_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let id = diesel::insert_into(contacts::table)
        .values((
            contacts::company_id.eq(company_id),
            contacts::email.eq(email),
            contacts::name.eq(name),
            contacts::phone.eq(phone),
            contacts::password_hash.eq(password_hash),
            contacts::active.eq(true),
            contacts::auth_version.eq(1),
            contacts::timezone.eq("UTC"),
            contacts::created_at.eq(now),
            contacts::updated_at.eq(now),
        ))
        .returning(contacts::id)
        .get_result(conn)?;
    changelog::record(conn, "contact", id, now)?;
    Ok(id)
}

pub fn update_contact(app: &App, who: &Principal, id: i64, input: ContactInput) -> ServiceResult<Contact> {
    // A contact may edit their own name, phone, time zone and password; staff edit anything.
    let own = who.contact_id() == Some(id);
    if own {
        who.require_write()?;
        if input.company_id.is_some() || input.email.is_some() || input.active.is_some() {
            return Err(ServiceError::Forbidden);
        }
    } else {
        who.require_staff_write()?;
    }
    if own && input.password.is_some() {
        confirm_current_password(app, who, input.current_password.as_deref())?;
    }
    let hash = match input.password.as_deref() {
        Some(p) if password::check_strength(p).is_none() => Some(hash_optional(p)?),
        _ => None,
    };
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let current = store::contact(conn, id)?.ok_or(ServiceError::NotFound("contact"))?;
        check_contact(conn, &input, Some(id))?;
        let deactivating = input.active == Some(false) && current.active;
        let bump = hash.is_some() || deactivating;
        let new_email = input.email.as_deref().map(normalize_email).unwrap_or(current.email.clone());
        if bump || new_email != current.email {
            super::resets::void_links(conn, None, Some(id), now)?;
        }
        diesel::update(contacts::table.find(id))
            .set((
                contacts::company_id.eq(input.company_id.unwrap_or(current.company_id)),
                contacts::name.eq(input.name.as_deref().map(str::trim).unwrap_or(&current.name)),
                contacts::email.eq(&new_email),
                contacts::phone.eq(input.phone.as_deref().map(str::trim).unwrap_or(&current.phone)),
                contacts::active.eq(input.active.unwrap_or(current.active)),
                contacts::timezone.eq(input.timezone.as_deref().unwrap_or(&current.timezone)),
                contacts::auth_version.eq(current.auth_version + i64::from(bump)),
                contacts::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| conflict_or(e, "email", "another contact already has this email"))?;
        if let Some(h) = &hash {
            diesel::update(contacts::table.find(id)).set(contacts::password_hash.eq(h)).execute(conn)?;
            audit::record(
                conn,
                who,
                "contact.password",
                "contact",
                Some(id),
                if h.is_some() { "portal password set" } else { "portal password removed" },
                now,
            )?;
        }
        if deactivating {
            audit::record(conn, who, "contact.deactivate", "contact", Some(id), &current.email, now)?;
        }
        if let Some(company) = input.company_id.filter(|c| *c != current.company_id) {
            // Moved to another company: stop following the old company's tickets.
            let foreign: Vec<i64> = ticket_watchers::table
                .inner_join(tickets::table)
                .filter(ticket_watchers::contact_id.eq(id))
                .filter(tickets::company_id.ne(company).or(tickets::company_id.is_null()))
                .select(ticket_watchers::id)
                .load(conn)?;
            diesel::delete(ticket_watchers::table.filter(ticket_watchers::id.eq_any(foreign))).execute(conn)?;
            audit::record(
                conn,
                who,
                "contact.move",
                "contact",
                Some(id),
                &format!("company {} -> {company}", current.company_id),
                now,
            )?;
        }
        changelog::record(conn, "contact", id, now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    store::contact(&mut conn, id)?.ok_or(ServiceError::NotFound("contact"))
}

/// A contact, if the caller may see it: staff any; a contact only themselves.
pub fn get_contact(app: &App, who: &Principal, id: i64) -> ServiceResult<Contact> {
    who.require_signed_in()?;
    if matches!(who, Principal::Contact(c) if c.contact_id != id) {
        return Err(ServiceError::NotFound("contact"));
    }
    let mut conn = app.conn()?;
    store::contact(&mut conn, id)?.ok_or(ServiceError::NotFound("contact"))
}

/// A contact by email address (staff only; the web UI's "new ticket for" field).
pub fn find_contact_by_email(app: &App, who: &Principal, email: &str) -> ServiceResult<Option<Contact>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(store::contact_by_email(&mut conn, &normalize_email(email))?)
}

pub fn list_contacts(
    app: &App,
    who: &Principal,
    company_id: Option<i64>,
    search: Option<&str>,
    page: &PageRequest,
) -> ServiceResult<Page<Contact>> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    let offset = page.offset()?;
    let build = || {
        let mut q = contacts::table.into_boxed();
        if let Principal::Contact(c) = who {
            q = q.filter(contacts::id.eq(c.contact_id));
        }
        if let Some(c) = company_id {
            q = q.filter(contacts::company_id.eq(c));
        }
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            let pat = format!("%{}%", escape_like(&s.to_lowercase()));
            q = q.filter(
                contacts::email.like(pat.clone()).escape('\\').or(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "lower(contacts.name) LIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(pat)
                .sql(" ESCAPE '\\'")),
            );
        }
        q
    };
    let total: i64 = build().count().get_result(&mut conn)?;
    let rows = build()
        .order((contacts::name.asc(), contacts::id.asc()))
        .offset(offset)
        .limit(page.first + 1)
        .select(Contact::as_select())
        .load(&mut conn)?;
    Ok(Page::from_offset(rows, offset, page.first, total))
}

// ---------------------------------------------------------------- staff users

#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub active: Option<bool>,
    pub timezone: Option<String>,
    /// Needed when someone changes their own password.
    pub current_password: Option<String>,
}

fn check_user(conn: &mut DbConn, input: &UserInput, existing: Option<i64>) -> ServiceResult<()> {
    let mut checks = Checks::new();
    if let Some(name) = &input.name {
        check_len(&mut checks, "name", name, 1, 200);
    }
    if let Some(email) = &input.email {
        let email = normalize_email(email);
        check_email(&mut checks, "email", &email);
        if store::user_by_email(conn, &email)?.is_some_and(|u| Some(u.id) != existing) {
            checks.add("email", "another user already has this email");
        } else if store::contact_by_email(conn, &email)?.is_some() {
            checks.add("email", "this email belongs to a customer contact");
        }
    }
    if let Some(p) = &input.password {
        if let Some(msg) = password::check_strength(p) {
            checks.add("password", msg);
        }
    }
    if let Some(tz) = &input.timezone {
        check_timezone(&mut checks, tz);
    }
    checks.finish()
}

pub fn create_user(app: &App, who: &Principal, input: UserInput) -> ServiceResult<User> {
    who.require_admin()?;
    let mut checks = Checks::new();
    checks.check(input.email.is_some(), "email", "is required");
    checks.check(input.name.is_some(), "name", "is required");
    checks.check(input.password.is_some(), "password", "is required");
    checks.finish()?;
    let mut conn = app.conn()?;
    {
        // Validate before the (slow) hash so that mistakes come back at once.
        let mut c = app.conn()?;
        check_user(&mut c, &input, None)?;
    }
    let hash = password::hash(input.password.as_deref().unwrap_or_default()).map_err(ServiceError::internal)?;
    let now = app.now();
    let role = input.role.unwrap_or(Role::Technician);
    let id = write_tx(&mut conn, |conn| {
        check_user(conn, &input, None)?;
        let email = normalize_email(input.email.as_deref().unwrap_or_default());
        let id = insert_user(conn, &email, input.name.as_deref().unwrap_or_default().trim(), role, &hash, now)
            .map_err(|e| conflict_or(e, "email", "another user already has this email"))?;
        if let Some(tz) = &input.timezone {
            diesel::update(users::table.find(id)).set(users::timezone.eq(tz)).execute(conn)?;
        }
        changelog::record(conn, "user", id, now)?;
        audit::record(conn, who, "user.create", "user", Some(id), &format!("{email} as {}", role.as_str()), now)?;
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    store::user(&mut conn, id)?.ok_or(ServiceError::NotFound("user"))
}

/// Admins change anyone; a staff user may change their own name, time zone and password.
/// Deactivating a user or changing their password ends every session and token at once.
pub fn update_user(app: &App, who: &Principal, id: i64, input: UserInput) -> ServiceResult<User> {
    let own = who.user_id() == Some(id);
    if who.require_admin().is_err() {
        who.require_write()?;
        if !own || input.role.is_some() || input.active.is_some() || input.email.is_some() {
            return Err(ServiceError::Forbidden);
        }
    }
    {
        let mut c = app.conn()?;
        check_user(&mut c, &input, Some(id))?;
    }
    if own && input.password.is_some() {
        confirm_current_password(app, who, input.current_password.as_deref())?;
    }
    let hash = input.password.as_deref().map(password::hash).transpose().map_err(ServiceError::internal)?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let current = store::user(conn, id)?.ok_or(ServiceError::NotFound("user"))?;
        check_user(conn, &input, Some(id))?;
        // Lock the admins' rows first, so two admins demoting each other at once cannot
        // leave the instance without one (SQLite's IMMEDIATE transaction is already alone).
        if let DbConn::Postgres(pg) = conn {
            users::table.filter(users::role.eq("admin")).select(users::id).for_update().load::<i64>(pg)?;
        }
        let new_role = input.role.unwrap_or(current.role());
        let new_active = input.active.unwrap_or(current.active);
        if current.role() == Role::Admin
            && current.active
            && (new_role != Role::Admin || !new_active)
            && store::admin_count(conn)? <= 1
        {
            return Err(ServiceError::invalid(
                if new_active { "role" } else { "active" },
                "this is the last active admin; make someone else admin first",
            ));
        }
        let bump = hash.is_some() || (current.active && !new_active);
        let new_email = input.email.as_deref().map(normalize_email).unwrap_or(current.email.clone());
        if bump || new_email != current.email {
            super::resets::void_links(conn, Some(id), None, now)?;
        }
        diesel::update(users::table.find(id))
            .set((
                users::email.eq(&new_email),
                users::name.eq(input.name.as_deref().map(str::trim).unwrap_or(&current.name)),
                users::role.eq(new_role.as_str()),
                users::active.eq(new_active),
                users::timezone.eq(input.timezone.as_deref().unwrap_or(&current.timezone)),
                users::password_hash.eq(hash.as_deref().unwrap_or(&current.password_hash)),
                users::auth_version.eq(current.auth_version + i64::from(bump)),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| conflict_or(e, "email", "another user already has this email"))?;
        let mut what = Vec::new();
        if new_role != current.role() {
            what.push(format!("role {} -> {}", current.role, new_role.as_str()));
        }
        if new_active != current.active {
            what.push(if new_active { "reactivated".into() } else { "deactivated".to_string() });
        }
        if hash.is_some() {
            what.push("password changed".into());
        }
        if !what.is_empty() || !own {
            audit::record(conn, who, "user.update", "user", Some(id), &what.join(", "), now)?;
        }
        changelog::record(conn, "user", id, now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    store::user(&mut conn, id)?.ok_or(ServiceError::NotFound("user"))
}

/// Staff see every staff user; contacts see none (staff names reach them only through
/// ticket fields such as reply authors).
pub fn get_user(app: &App, who: &Principal, id: i64) -> ServiceResult<User> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    store::user(&mut conn, id)?.ok_or(ServiceError::NotFound("user"))
}

pub fn list_users(app: &App, who: &Principal, include_inactive: bool, page: &PageRequest) -> ServiceResult<Page<User>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let offset = page.offset()?;
    let build = || {
        let mut q = users::table.into_boxed();
        if !include_inactive {
            q = q.filter(users::active.eq(true));
        }
        q
    };
    let total: i64 = build().count().get_result(&mut conn)?;
    let rows = build()
        .order((users::name.asc(), users::id.asc()))
        .offset(offset)
        .limit(page.first + 1)
        .select(User::as_select())
        .load(&mut conn)?;
    Ok(Page::from_offset(rows, offset, page.first, total))
}

// ---------------------------------------------------------------- queues

#[derive(Debug, Clone, Default)]
pub struct QueueInput {
    pub name: Option<String>,
    pub is_triage: Option<bool>,
    /// Replaces the member list when given: (user id, is dispatcher).
    pub members: Option<Vec<(i64, bool)>>,
}

fn check_queue(conn: &mut DbConn, input: &QueueInput, existing: Option<i64>) -> ServiceResult<()> {
    let mut checks = Checks::new();
    if let Some(n) = &input.name {
        check_len(&mut checks, "name", n, 1, 100);
        let clash: Option<i64> =
            queues::table.filter(queues::name.eq(n.trim())).select(queues::id).first(conn).optional()?;
        if clash.is_some_and(|id| Some(id) != existing) {
            checks.add("name", "another queue already has this name");
        }
    }
    for (uid, _) in input.members.iter().flatten() {
        match store::user(conn, *uid)? {
            None => checks.add("members", format!("no staff user with id {uid}")),
            Some(u) if !u.active => checks.add("members", format!("{} is deactivated", u.name)),
            _ => {}
        }
    }
    checks.finish()
}

fn set_members(conn: &mut DbConn, queue_id: i64, members: &[(i64, bool)]) -> QueryResult<()> {
    diesel::delete(queue_members::table.filter(queue_members::queue_id.eq(queue_id))).execute(conn)?;
    let mut seen = std::collections::HashSet::new();
    for (uid, dispatcher) in members {
        if seen.insert(*uid) {
            diesel::insert_into(queue_members::table)
                .values((
                    queue_members::queue_id.eq(queue_id),
                    queue_members::user_id.eq(uid),
                    queue_members::is_dispatcher.eq(dispatcher),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn create_queue(app: &App, who: &Principal, input: QueueInput) -> ServiceResult<Queue> {
    who.require_admin()?;
    if input.name.is_none() {
        return Err(ServiceError::invalid("name", "is required"));
    }
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        check_queue(conn, &input, None)?;
        let name = input.name.as_deref().unwrap_or_default().trim();
        let id: i64 = diesel::insert_into(queues::table)
            .values((
                queues::name.eq(name),
                queues::is_triage.eq(input.is_triage.unwrap_or(false)),
                queues::created_at.eq(now),
            ))
            .returning(queues::id)
            .get_result(conn)
            .map_err(|e| conflict_or(e, "name", "another queue already has this name"))?;
        set_members(conn, id, input.members.as_deref().unwrap_or_default())?;
        audit::record(conn, who, "queue.create", "queue", Some(id), name, now)?;
        Ok::<_, ServiceError>(id)
    })?;
    store::queue(&mut conn, id)?.ok_or(ServiceError::NotFound("queue"))
}

pub fn update_queue(app: &App, who: &Principal, id: i64, input: QueueInput) -> ServiceResult<Queue> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let current = store::queue(conn, id)?.ok_or(ServiceError::NotFound("queue"))?;
        check_queue(conn, &input, Some(id))?;
        diesel::update(queues::table.find(id))
            .set((
                queues::name.eq(input.name.as_deref().map(str::trim).unwrap_or(&current.name)),
                queues::is_triage.eq(input.is_triage.unwrap_or(current.is_triage)),
            ))
            .execute(conn)
            .map_err(|e| conflict_or(e, "name", "another queue already has this name"))?;
        if let Some(m) = &input.members {
            set_members(conn, id, m)?;
        }
        let detail = match &input.members {
            Some(m) => format!("{} members", m.len()),
            None => String::new(),
        };
        audit::record(conn, who, "queue.update", "queue", Some(id), &detail, now)?;
        Ok::<_, ServiceError>(())
    })?;
    store::queue(&mut conn, id)?.ok_or(ServiceError::NotFound("queue"))
}

pub fn list_queues(app: &App, who: &Principal) -> ServiceResult<Vec<Queue>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(queues::table.order(queues::name).select(Queue::as_select()).load(&mut conn)?)
}

pub fn get_queue(app: &App, who: &Principal, id: i64) -> ServiceResult<Queue> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    store::queue(&mut conn, id)?.ok_or(ServiceError::NotFound("queue"))
}

pub fn queue_members(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<(QueueMember, User)>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(store::queue_members(&mut conn, id)?)
}

// ---------------------------------------------------------------- API tokens

#[derive(Debug, Clone)]
pub struct TokenInput {
    pub name: String,
    pub scope: TokenScope,
    pub expires_at: Option<NaiveDateTime>,
    /// Admins may create tokens for another staff user; default: the caller.
    pub user_id: Option<i64>,
}

/// Creates an API token; returns the stored row and the secret, which is shown only now.
pub fn create_api_token(app: &App, who: &Principal, input: TokenInput) -> ServiceResult<(ApiToken, String)> {
    who.require_staff()?;
    // Only a signed-in person (not a token) mints tokens, so a leaked token cannot breed.
    let Principal::Staff(staff) = who else { return Err(ServiceError::Forbidden) };
    if staff.scope != Scope::Full {
        return Err(ServiceError::Forbidden);
    }
    let owner = input.user_id.unwrap_or(staff.user_id);
    if owner != staff.user_id {
        who.require_admin()?;
    }
    let mut checks = Checks::new();
    check_len(&mut checks, "name", &input.name, 1, 100);
    if input.expires_at.is_some_and(|e| e <= app.now()) {
        checks.add("expiresAt", "must be in the future");
    }
    let mut conn = app.conn()?;
    let user = store::user(&mut conn, owner)?.ok_or(ServiceError::NotFound("user"))?;
    if input.scope == TokenScope::Admin && user.role() != Role::Admin {
        checks.add("scope", "only admins can hold admin-scoped tokens");
    }
    checks.finish()?;
    let (secret, hash, prefix) = auth::new_api_token();
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let id: i64 = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(owner),
                api_tokens::name.eq(input.name.trim()),
                api_tokens::token_hash.eq(&hash),
                api_tokens::token_prefix.eq(&prefix),
                api_tokens::scope.eq(input.scope.as_str()),
                api_tokens::auth_version.eq(user.auth_version),
                api_tokens::expires_at.eq(input.expires_at),
                api_tokens::created_at.eq(now),
            ))
            .returning(api_tokens::id)
            .get_result(conn)?;
        audit::record(
            conn,
            who,
            "token.create",
            "api_token",
            Some(id),
            &format!("{} ({}) for {}", input.name.trim(), input.scope.as_str(), user.email),
            now,
        )?;
        Ok::<_, ServiceError>(id)
    })?;
    let row = api_tokens::table.find(id).select(ApiToken::as_select()).first(&mut conn)?;
    Ok((row, secret))
}

pub fn revoke_api_token(app: &App, who: &Principal, id: i64) -> ServiceResult<ApiToken> {
    who.require_staff_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let tok = api_tokens::table
            .find(id)
            .select(ApiToken::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("API token"))?;
        if Some(tok.user_id) != who.user_id() {
            who.require_admin().map_err(|_| ServiceError::NotFound("API token"))?;
        }
        if tok.revoked_at.is_none() {
            diesel::update(api_tokens::table.find(id)).set(api_tokens::revoked_at.eq(now)).execute(conn)?;
            audit::record(conn, who, "token.revoke", "api_token", Some(id), &tok.name, now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    Ok(api_tokens::table.find(id).select(ApiToken::as_select()).first(&mut conn)?)
}

/// The caller's tokens; admins may list everyone's.
pub fn list_api_tokens(app: &App, who: &Principal, all: bool) -> ServiceResult<Vec<(ApiToken, User)>> {
    who.require_staff()?;
    if all {
        who.require_admin()?;
    }
    let mut conn = app.conn()?;
    let mut q = api_tokens::table.inner_join(users::table).into_boxed();
    if !all {
        q = q.filter(api_tokens::user_id.eq(who.user_id().unwrap_or(-1)));
    }
    Ok(q.order(api_tokens::id.desc()).select((ApiToken::as_select(), User::as_select())).load(&mut conn)?)
}

// ---------------------------------------------------------------- look-ups used by other features

pub fn user_names(conn: &mut DbConn, ids: &[i64]) -> QueryResult<std::collections::HashMap<i64, String>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

pub fn members_of(conn: &mut DbConn, queue_id: i64) -> QueryResult<Vec<QueueMember>> {
    queue_members::table.filter(queue_members::queue_id.eq(queue_id)).select(QueueMember::as_select()).load(conn)
}
