//! Rules and permissions for development threads.
//!
//! Who sees what: staff see everything; every customer reads public threads (internal ones
//! do not exist for them) and sees counts, never which people or companies reported, voted
//! or subscribed; customer comments show to other customers without a name.
//! Writes record a change-log row ("dev_thread") in the same transaction.

use super::model::{DevComment, DevThread, Product, Release, ReleaseStatus, ThreadKind, ThreadStatus, Visibility};
use crate::accounts::auth::Principal;
use crate::app::App;
use crate::changelog;
use crate::db::{read_tx, write_tx, DbConn};
use crate::error::{Checks, ServiceError, ServiceResult};
use crate::jobs;
use crate::mail::outbound::{self, OutMail};
use crate::notifications::service::{self as notify, NewNotification, Recipient};
use crate::paging::{Page, PageRequest};
use crate::schema::{
    contacts, dev_comments, dev_labels, dev_release_notices, dev_subscriptions, dev_threads, dev_ticket_links,
    dev_votes, products, releases, tickets, users,
};
use crate::tickets as ticketing;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};

pub const RELEASE_FANOUT_JOB: &str = "dev.release_fanout";
const SHORTCUT_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const SHORTCUT_LEN: usize = 10;

fn person(who: &Principal) -> ServiceResult<Recipient> {
    match who {
        Principal::Staff(s) => Ok(Recipient::User(s.user_id)),
        Principal::Contact(c) => Ok(Recipient::Contact(c.contact_id)),
        Principal::Anonymous => Err(ServiceError::Unauthenticated),
        Principal::System => Err(ServiceError::Forbidden),
    }
}

fn check_len(checks: &mut Checks, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n < min {
        checks.add(field, "is required");
    } else if n > max {
        checks.add(field, format!("must be at most {max} characters"));
    }
}

/// A random, unguessable shortcut (10 characters from 31: about 50 bits).
pub fn new_shortcut() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..SHORTCUT_LEN).map(|_| SHORTCUT_ALPHABET[rng.random_range(0..SHORTCUT_ALPHABET.len())] as char).collect()
}

// ---------------------------------------------------------------- products and releases

pub fn list_products(app: &App, who: &Principal) -> ServiceResult<Vec<Product>> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    Ok(products::table.order(products::name).select(Product::as_select()).load(&mut conn)?)
}

pub fn get_product(app: &App, who: &Principal, id: i64) -> ServiceResult<Product> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    products::table
        .find(id)
        .select(Product::as_select())
        .first(&mut conn)
        .optional()?
        .ok_or(ServiceError::NotFound("product"))
}

pub fn create_product(app: &App, who: &Principal, name: &str, description: &str) -> ServiceResult<Product> {
    who.require_staff_write()?;
    let mut checks = Checks::new();
    check_len(&mut checks, "name", name, 1, 100);
    check_len(&mut checks, "description", description, 0, 5000);
    checks.finish()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let id: i64 = diesel::insert_into(products::table)
            .values((
                products::name.eq(name.trim()),
                products::description.eq(description.trim()),
                products::created_at.eq(now),
            ))
            .returning(products::id)
            .get_result(conn)
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    ServiceError::invalid("name", "a product with this name exists")
                } else {
                    e.into()
                }
            })?;
        crate::audit::record(conn, who, "product.create", "product", Some(id), name.trim(), now)?;
        Ok::<_, ServiceError>(id)
    })?;
    get_product(app, who, id)
}

#[derive(Debug, Clone, Default)]
pub struct ReleaseInput {
    pub product_id: Option<i64>,
    pub version: Option<String>,
    pub build: Option<String>,
    pub status: Option<ReleaseStatus>,
    pub notes: Option<String>,
}

fn check_release(checks: &mut Checks, r: &ReleaseInput) {
    if let Some(v) = &r.version {
        check_len(checks, "version", v, 1, 50);
    }
    if let Some(b) = &r.build {
        check_len(checks, "build", b, 1, 50);
    }
    if let Some(n) = &r.notes {
        check_len(checks, "notes", n, 0, 50_000);
    }
}

fn release_row(conn: &mut DbConn, id: i64) -> ServiceResult<Release> {
    releases::table
        .find(id)
        .select(Release::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("release"))
}

pub fn get_release(app: &App, who: &Principal, id: i64) -> ServiceResult<Release> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    release_row(&mut conn, id)
}

pub fn list_releases(app: &App, who: &Principal, product_id: Option<i64>) -> ServiceResult<Vec<Release>> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    let mut q = releases::table.into_boxed();
    if let Some(p) = product_id {
        q = q.filter(releases::product_id.eq(p));
    }
    Ok(q.order(releases::id.desc()).select(Release::as_select()).load(&mut conn)?)
}

pub fn create_release(app: &App, who: &Principal, input: ReleaseInput) -> ServiceResult<Release> {
    who.require_staff_write()?;
    let mut checks = Checks::new();
    checks.check(input.product_id.is_some(), "productId", "is required");
    checks.check(input.version.is_some(), "version", "is required");
    checks.check(input.build.is_some(), "build", "is required");
    check_release(&mut checks, &input);
    if input.status == Some(ReleaseStatus::Released) {
        checks.add("status", "create the release first, then mark it released");
    }
    checks.finish()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let product = input.product_id.unwrap_or_default();
        if products::table.find(product).count().get_result::<i64>(conn)? == 0 {
            return Err(ServiceError::invalid("productId", "no such product"));
        }
        let id: i64 = diesel::insert_into(releases::table)
            .values((
                releases::product_id.eq(product),
                releases::version.eq(input.version.as_deref().unwrap_or_default().trim()),
                releases::build.eq(input.build.as_deref().unwrap_or_default().trim()),
                releases::status.eq(input.status.unwrap_or(ReleaseStatus::Planned).as_str()),
                releases::notes.eq(input.notes.as_deref().unwrap_or_default()),
                releases::created_at.eq(now),
            ))
            .returning(releases::id)
            .get_result(conn)
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    ServiceError::invalid("build", "this product already has a release with this build")
                } else {
                    e.into()
                }
            })?;
        Ok::<_, ServiceError>(id)
    })?;
    get_release(app, who, id)
}

/// Changes a release; moving it to `released` closes the loop (see `mark_released`).
pub fn update_release(app: &App, who: &Principal, id: i64, input: ReleaseInput) -> ServiceResult<Release> {
    who.require_staff_write()?;
    let mut checks = Checks::new();
    check_release(&mut checks, &input);
    checks.finish()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let r = release_row(conn, id)?;
        if r.status() == ReleaseStatus::Released && input.status.is_some_and(|s| s != ReleaseStatus::Released) {
            return Err(ServiceError::invalid("status", "a released release cannot go back to planned or beta"));
        }
        diesel::update(releases::table.find(id))
            .set((
                releases::version.eq(input.version.as_deref().map(str::trim).unwrap_or(&r.version)),
                releases::build.eq(input.build.as_deref().map(str::trim).unwrap_or(&r.build)),
                releases::notes.eq(input.notes.as_deref().unwrap_or(&r.notes)),
            ))
            .execute(conn)
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    ServiceError::invalid("build", "this product already has a release with this build")
                } else {
                    e.into()
                }
            })?;
        match input.status {
            Some(ReleaseStatus::Released) if r.status() != ReleaseStatus::Released => release_in(conn, who, &r, now)?,
            Some(s) if s != ReleaseStatus::Released => {
                diesel::update(releases::table.find(id)).set(releases::status.eq(s.as_str())).execute(conn)?;
            }
            _ => {}
        }
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    get_release(app, who, id)
}

/// Marks a release released: every thread fixed in it becomes released, and a job tells
/// each subscriber and each linked ticket's requester exactly once, and replies on the
/// linked tickets still open.
pub fn mark_released(app: &App, who: &Principal, id: i64) -> ServiceResult<Release> {
    update_release(app, who, id, ReleaseInput { status: Some(ReleaseStatus::Released), ..Default::default() })
}

fn release_in(conn: &mut DbConn, who: &Principal, r: &Release, now: NaiveDateTime) -> ServiceResult<()> {
    diesel::update(releases::table.find(r.id))
        .set((releases::status.eq(ReleaseStatus::Released.as_str()), releases::release_date.eq(now)))
        .execute(conn)?;
    let fixed: Vec<i64> = dev_threads::table
        .filter(dev_threads::fixed_in_release_id.eq(r.id))
        .filter(dev_threads::status.eq(ThreadStatus::Fixed.as_str()))
        .select(dev_threads::id)
        .load(conn)?;
    diesel::update(dev_threads::table.filter(dev_threads::id.eq_any(&fixed)))
        .set((dev_threads::status.eq(ThreadStatus::Released.as_str()), dev_threads::last_activity_at.eq(now)))
        .execute(conn)?;
    for t in &fixed {
        changelog::record(conn, "dev_thread", *t, now)?;
    }
    crate::audit::record(conn, who, "release.released", "release", Some(r.id), &r.label(), now)?;
    jobs::schedule(
        conn,
        RELEASE_FANOUT_JOB,
        &json!({ "release": r.id }),
        now,
        Some(&format!("release-fanout:{}", r.id)),
        now,
    )?;
    Ok(())
}

/// Contacts who requested tickets linked to public threads of the release.
fn subs_public_contacts(linked: &[(i64, Option<i64>, String, i64)], public: &HashSet<i64>) -> HashSet<i64> {
    linked.iter().filter(|l| public.contains(&l.3)).filter_map(|l| l.1).collect()
}

/// One mail per customer newly told of this release who follows public threads fixed in it,
/// listing those threads (never an internal one), queued in bulk in the fan-out's transaction.
#[allow(clippy::too_many_arguments)]
fn release_mail(
    conn: &mut DbConn,
    app: &App,
    product: &str,
    r: &Release,
    threads: &[(i64, String, String)],
    fresh: &[Recipient],
    follows: &HashMap<i64, Vec<i64>>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let wanted: Vec<i64> = fresh
        .iter()
        .filter_map(|r| match r {
            Recipient::Contact(c) if follows.contains_key(c) => Some(*c),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let titles: HashMap<i64, &str> = threads.iter().map(|t| (t.0, t.1.as_str())).collect();
    let notes =
        if r.notes.trim().is_empty() { String::new() } else { format!("Release notes:\n{}\n\n", r.notes.trim()) };
    let mut mails = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(500) {
        let people: Vec<(i64, String, String)> = contacts::table
            .filter(contacts::id.eq_any(chunk))
            .filter(contacts::active.eq(true))
            .select((contacts::id, contacts::email, contacts::name))
            .load(conn)?;
        for (id, email, name) in people {
            let mut followed: Vec<i64> = follows.get(&id).cloned().unwrap_or_default();
            followed.sort_unstable();
            followed.dedup();
            let list: String = followed
                .iter()
                .filter_map(|t| {
                    titles.get(t).map(|title| format!("- {title}\n  {}/development/{t}\n", app.config.public_url))
                })
                .collect();
            let what = if followed.len() == 1 {
                "a fix you follow".to_string()
            } else {
                format!("{} fixes you follow", followed.len())
            };
            mails.push(OutMail {
                to: email,
                to_name: name.clone(),
                subject: format!("{product} {} shipped {what}", r.label()),
                body: format!(
                    "Hello {name},\n\n{product} {} has shipped with {what}:\n\n{list}\n{notes}\
                     You receive this because you follow these threads; stop following a thread on its\n\
                     page to hear no more about it.\n",
                    r.label()
                ),
                ticket: None,
                kind: "release",
                automatic: true,
                answers: None,
            });
        }
    }
    outbound::queue_many(conn, app, mails, now)
}

/// Job: tells everyone who should hear that a release shipped, once each. Idempotent: the
/// notices table remembers who was told and which tickets got their reply, in the same
/// transaction as the notifications and replies.
pub fn release_fanout(app: &App, payload: &serde_json::Value) -> Result<(), jobs::JobError> {
    let id = payload
        .get("release")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| jobs::JobError::Fatal("payload lacks release".into()))?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let r = release_row(conn, id)?;
        let product: String = products::table.find(r.product_id).select(products::name).first(conn)?;
        let threads: Vec<(i64, String, String)> = dev_threads::table
            .filter(dev_threads::fixed_in_release_id.eq(id))
            .filter(dev_threads::status.eq(ThreadStatus::Released.as_str()))
            .select((dev_threads::id, dev_threads::title, dev_threads::visibility))
            .load(conn)?;
        if threads.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = threads.iter().map(|t| t.0).collect();
        let public: HashSet<i64> = threads.iter().filter(|t| t.2 == Visibility::Public.as_str()).map(|t| t.0).collect();
        // Customers follow only public threads; on internal ones only staff are told by title.
        let sub_rows: Vec<(i64, Option<i64>, Option<i64>)> = dev_subscriptions::table
            .filter(dev_subscriptions::thread_id.eq_any(&ids))
            .select((dev_subscriptions::thread_id, dev_subscriptions::user_id, dev_subscriptions::contact_id))
            .load(conn)?;
        // The public threads of this release each customer follows (they are mailed the list).
        let mut follows: HashMap<i64, Vec<i64>> = HashMap::new();
        for (t, _, c) in &sub_rows {
            if let Some(c) = c.filter(|_| public.contains(t)) {
                follows.entry(c).or_default().push(*t);
            }
        }
        let subs: Vec<(Option<i64>, Option<i64>)> = sub_rows
            .into_iter()
            .filter(|(t, u, _)| u.is_some() || public.contains(t))
            .map(|(_, u, c)| (u, c))
            .collect();
        let linked: Vec<(i64, Option<i64>, String, i64)> = dev_ticket_links::table
            .inner_join(tickets::table)
            .filter(dev_ticket_links::thread_id.eq_any(&ids))
            .select((tickets::id, tickets::requester_id, tickets::status, dev_ticket_links::thread_id))
            .load(conn)?;
        let subscribed_contacts: HashSet<i64> = subs.iter().filter_map(|(_, c)| *c).collect();
        let mut wanted: Vec<Recipient> = subs
            .into_iter()
            .filter_map(|s| match s {
                (Some(u), _) => Some(Recipient::User(u)),
                (_, Some(c)) => Some(Recipient::Contact(c)),
                _ => None,
            })
            .collect();
        wanted.extend(linked.iter().filter_map(|(_, r, _, _)| r.map(Recipient::Contact)));
        let told: Vec<(Option<i64>, Option<i64>)> = dev_release_notices::table
            .filter(dev_release_notices::release_id.eq(id))
            .filter(dev_release_notices::ticket_id.is_null())
            .select((dev_release_notices::user_id, dev_release_notices::contact_id))
            .load(conn)?;
        let told: HashSet<Recipient> = told
            .into_iter()
            .filter_map(|t| match t {
                (Some(u), _) => Some(Recipient::User(u)),
                (_, Some(c)) => Some(Recipient::Contact(c)),
                _ => None,
            })
            .collect();
        let mut seen = HashSet::new();
        let fresh: Vec<Recipient> = wanted.into_iter().filter(|r| !told.contains(r) && seen.insert(*r)).collect();
        // Customers may read only public titles: those who reach this release only through a
        // ticket linked to an internal thread are told without one.
        let public_contacts: HashSet<i64> = subs_public_contacts(&linked, &public);
        let (titled, untitled): (Vec<Recipient>, Vec<Recipient>) = fresh.iter().partition(|r| {
            matches!(r, Recipient::User(_))
                || matches!(r, Recipient::Contact(c) if public_contacts.contains(c) || subscribed_contacts.contains(c))
        });
        let named: Vec<&str> = threads.iter().filter(|t| public.contains(&t.0)).map(|t| t.1.as_str()).collect();
        let what = match (threads.len(), named.as_slice()) {
            (1, [title]) => format!("the fix for “{title}”"),
            (1, []) => "a fix you asked about".to_string(),
            (n, _) => format!("{n} fixes"),
        };
        let staff_what = if threads.len() == 1 { format!("the fix for “{}”", threads[0].1) } else { what.clone() };
        for (group, what) in [(&titled, &staff_what), (&untitled, &"a fix for your ticket".to_string())] {
            let title = format!("{product} {} shipped {what}", r.label());
            notify::post(
                conn,
                group,
                &NewNotification {
                    kind: "dev.released",
                    title: &title,
                    body: &r.notes,
                    ticket_id: None,
                    link: "/development",
                },
                now,
            )?;
        }
        for chunk in fresh.chunks(500) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|r| {
                    let (u, c) = match r {
                        Recipient::User(u) => (Some(*u), None),
                        Recipient::Contact(c) => (None, Some(*c)),
                    };
                    (
                        dev_release_notices::release_id.eq(id),
                        dev_release_notices::user_id.eq(u),
                        dev_release_notices::contact_id.eq(c),
                        dev_release_notices::created_at.eq(now),
                    )
                })
                .collect();
            match conn {
                DbConn::Sqlite(c) => diesel::insert_into(dev_release_notices::table).values(&rows).execute(c)?,
                DbConn::Postgres(c) => diesel::insert_into(dev_release_notices::table).values(&rows).execute(c)?,
            };
        }
        release_mail(conn, app, &product, &r, &threads, &fresh, &follows, now)?;
        // A public reply on every linked ticket still open, naming the build.
        let replied: HashSet<i64> = dev_release_notices::table
            .filter(dev_release_notices::release_id.eq(id))
            .filter(dev_release_notices::ticket_id.is_not_null())
            .select(dev_release_notices::ticket_id)
            .load::<Option<i64>>(conn)?
            .into_iter()
            .flatten()
            .collect();
        let mut done = HashSet::new();
        for (ticket_id, _, status, thread) in &linked {
            let open = ticketing::model::Status::parse(status).is_some_and(|s| s.is_active());
            if !open || replied.contains(ticket_id) || !done.insert(*ticket_id) {
                continue;
            }
            let Some(t) = ticketing::store::lock(conn, *ticket_id)? else { continue };
            let fix = match threads.iter().find(|t| t.0 == *thread) {
                Some(t) if public.contains(&t.0) => format!("the fix for “{}”", t.1),
                _ => "the fix for this problem".to_string(),
            };
            let body = format!(
                "Good news: {fix} shipped in {product} {}. Please update and let us know if the problem persists.",
                r.label()
            );
            ticketing::service::reply_in(
                conn,
                app,
                &Principal::System,
                t,
                ticketing::service::ReplyInput { body, ..Default::default() },
                now,
            )?;
            diesel::insert_into(dev_release_notices::table)
                .values((
                    dev_release_notices::release_id.eq(id),
                    dev_release_notices::ticket_id.eq(Some(*ticket_id)),
                    dev_release_notices::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    Ok(())
}

// ---------------------------------------------------------------- threads

/// A thread the caller may see: staff any; customers only public threads.
fn visible(conn: &mut DbConn, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    who.require_signed_in()?;
    let t: DevThread = dev_threads::table
        .find(id)
        .select(DevThread::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("thread"))?;
    if !who.is_staff() && !t.is_public() {
        return Err(ServiceError::NotFound("thread"));
    }
    Ok(t)
}

pub fn get_thread(app: &App, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)
}

pub fn get_by_shortcut(app: &App, who: &Principal, shortcut: &str) -> ServiceResult<DevThread> {
    who.require_signed_in()?;
    let mut conn = app.conn()?;
    let id: i64 = dev_threads::table
        .filter(dev_threads::shortcut.eq(shortcut.trim().to_lowercase()))
        .select(dev_threads::id)
        .first(&mut conn)
        .optional()?
        .ok_or(ServiceError::NotFound("thread"))?;
    visible(&mut conn, who, id)
}

#[derive(Debug, Clone, Default)]
pub struct ThreadInput {
    pub kind: Option<ThreadKind>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub product_id: Option<i64>,
    pub affected_release_id: Option<i64>,
    pub visibility: Option<Visibility>,
    pub labels: Option<Vec<String>>,
    /// `Some(None)` clears the owner.
    pub owner_user_id: Option<Option<i64>>,
    pub status: Option<ThreadStatus>,
    pub fixed_in_release_id: Option<i64>,
}

fn normalize_labels(checks: &mut Checks, labels: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let n = ticketing::service::normalize_tag(l);
        if n.is_empty() {
            continue;
        }
        if n.chars().count() > 40 {
            checks.add("labels", format!("{l:?} is longer than 40 characters"));
        } else if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn check_refs(conn: &mut DbConn, checks: &mut Checks, product: i64, input: &ThreadInput) -> QueryResult<()> {
    if products::table.find(product).count().get_result::<i64>(conn)? == 0 {
        checks.add("productId", "no such product");
    }
    for (field, id) in
        [("affectedReleaseId", input.affected_release_id), ("fixedInReleaseId", input.fixed_in_release_id)]
    {
        if let Some(r) = id {
            match releases::table.find(r).select(releases::product_id).first::<i64>(conn).optional()? {
                None => checks.add(field, "no such release"),
                Some(p) if p != product => checks.add(field, "is a release of another product"),
                _ => {}
            }
        }
    }
    if let Some(Some(u)) = input.owner_user_id {
        if users::table.find(u).filter(users::active.eq(true)).count().get_result::<i64>(conn)? == 0 {
            checks.add("ownerId", "no such active staff user");
        }
    }
    Ok(())
}

fn set_labels(conn: &mut DbConn, id: i64, labels: &[String]) -> QueryResult<()> {
    diesel::delete(dev_labels::table.filter(dev_labels::thread_id.eq(id))).execute(conn)?;
    for l in labels {
        diesel::insert_into(dev_labels::table)
            .values((dev_labels::thread_id.eq(id), dev_labels::label.eq(l)))
            .execute(conn)?;
    }
    Ok(())
}

/// Creates a thread inside a transaction (shared with "move ticket to development").
fn create_in(conn: &mut DbConn, input: &ThreadInput, now: NaiveDateTime) -> ServiceResult<i64> {
    let mut checks = Checks::new();
    checks.check(input.kind.is_some(), "kind", "is required (bug or feature)");
    check_len(&mut checks, "title", input.title.as_deref().unwrap_or_default(), 1, 200);
    check_len(&mut checks, "description", input.description.as_deref().unwrap_or_default(), 0, 100_000);
    let product = match input.product_id {
        Some(p) => p,
        None => {
            checks.add("productId", "is required");
            0
        }
    };
    let labels = normalize_labels(&mut checks, input.labels.as_deref().unwrap_or_default());
    if input.kind == Some(ThreadKind::Feature) && input.affected_release_id.is_some() {
        checks.add("affectedReleaseId", "only bugs have an affected build");
    }
    if input.status.is_some() || input.fixed_in_release_id.is_some() {
        checks.add("status", "a new thread starts as new; change its status afterwards");
    }
    if product != 0 {
        check_refs(conn, &mut checks, product, input)?;
    }
    checks.finish()?;
    let mut shortcut = new_shortcut();
    for _ in 0..5 {
        let taken: i64 = dev_threads::table.filter(dev_threads::shortcut.eq(&shortcut)).count().get_result(conn)?;
        if taken == 0 {
            break;
        }
        shortcut = new_shortcut();
    }
    let id: i64 = diesel::insert_into(dev_threads::table)
        .values((
            dev_threads::kind.eq(input.kind.unwrap_or(ThreadKind::Bug).as_str()),
            dev_threads::title.eq(input.title.as_deref().unwrap_or_default().trim()),
            dev_threads::description.eq(input.description.as_deref().unwrap_or_default().trim()),
            dev_threads::product_id.eq(product),
            dev_threads::affected_release_id.eq(input.affected_release_id),
            dev_threads::status.eq(ThreadStatus::New.as_str()),
            dev_threads::visibility.eq(input.visibility.unwrap_or(Visibility::Public).as_str()),
            dev_threads::owner_user_id.eq(input.owner_user_id.flatten()),
            dev_threads::shortcut.eq(&shortcut),
            dev_threads::last_activity_at.eq(now),
            dev_threads::created_at.eq(now),
        ))
        .returning(dev_threads::id)
        .get_result(conn)?;
    set_labels(conn, id, &labels)?;
    changelog::record(conn, "dev_thread", id, now)?;
    Ok(id)
}

pub fn create_thread(app: &App, who: &Principal, input: ThreadInput) -> ServiceResult<DevThread> {
    who.require_staff_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let id = create_in(conn, &input, now)?;
        if let Principal::Staff(s) = who {
            subscribe_in(conn, id, Recipient::User(s.user_id), now)?;
        }
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    get_thread(app, who, id)
}

fn status_message(from: ThreadStatus, to: ThreadStatus) -> String {
    match to {
        ThreadStatus::Released => "a thread becomes released when the release that fixes it is marked released".into(),
        ThreadStatus::Duplicate => "use markThreadDuplicate to merge a thread into the one that survives".into(),
        _ if from.is_final() => format!("a {} thread is final", from.as_str()),
        _ => {
            let next: Vec<&str> =
                ThreadStatus::ALL.into_iter().filter(|s| from.can_become(*s)).map(|s| s.as_str()).collect();
            format!("cannot go from {} to {}; allowed: {}", from.as_str(), to.as_str(), next.join(", "))
        }
    }
}

/// Changes a thread (staff). Status changes follow the workflow; `fixed` needs the build
/// that fixes it (a release of the same product); subscribers hear about status changes.
pub fn update_thread(app: &App, who: &Principal, id: i64, input: ThreadInput) -> ServiceResult<DevThread> {
    who.require_staff_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let t = lock_thread(conn, who, id)?;
        let mut checks = Checks::new();
        if let Some(title) = &input.title {
            check_len(&mut checks, "title", title, 1, 200);
        }
        if let Some(d) = &input.description {
            check_len(&mut checks, "description", d, 0, 100_000);
        }
        if input.product_id.is_some_and(|p| p != t.product_id) {
            checks.add("productId", "a thread stays with its product");
        }
        let labels = input.labels.as_ref().map(|l| normalize_labels(&mut checks, l));
        check_refs(conn, &mut checks, t.product_id, &input)?;
        let from = t.status();
        let to = input.status.unwrap_or(from);
        if to != from && !from.can_become(to) {
            checks.add("status", status_message(from, to));
        }
        let fixed_in = match to {
            ThreadStatus::Fixed => input.fixed_in_release_id.or(t.fixed_in_release_id),
            // A released thread keeps the build that shipped it (later fan-outs need it).
            ThreadStatus::Released => t.fixed_in_release_id,
            _ => None,
        };
        if to == ThreadStatus::Fixed && fixed_in.is_none() {
            checks.add("fixedInReleaseId", "name the build that fixes it");
        }
        if input.fixed_in_release_id.is_some() && to != ThreadStatus::Fixed {
            checks.add("fixedInReleaseId", "only a fixed thread has a fixing build");
        }
        checks.finish()?;
        diesel::update(dev_threads::table.find(id))
            .set((
                dev_threads::title.eq(input.title.as_deref().map(str::trim).unwrap_or(&t.title)),
                dev_threads::description.eq(input.description.as_deref().map(str::trim).unwrap_or(&t.description)),
                dev_threads::affected_release_id.eq(input.affected_release_id.or(t.affected_release_id)),
                dev_threads::visibility.eq(input.visibility.map(|v| v.as_str()).unwrap_or(&t.visibility)),
                dev_threads::owner_user_id.eq(input.owner_user_id.unwrap_or(t.owner_user_id)),
                dev_threads::status.eq(to.as_str()),
                dev_threads::fixed_in_release_id.eq(fixed_in),
                dev_threads::last_activity_at.eq(now),
            ))
            .execute(conn)?;
        if let Some(l) = &labels {
            set_labels(conn, id, l)?;
        }
        if to != from {
            let mut title = format!("“{}” is now {}", t.title, to.label().to_lowercase());
            if let Some(r) = fixed_in {
                let rel = release_row(conn, r)?;
                title.push_str(&format!(" (in {})", rel.label()));
                // Fixed in a build that has already shipped: it is released at once.
                if rel.status() == ReleaseStatus::Released {
                    diesel::update(dev_threads::table.find(id))
                        .set(dev_threads::status.eq(ThreadStatus::Released.as_str()))
                        .execute(conn)?;
                    jobs::schedule(
                        conn,
                        RELEASE_FANOUT_JOB,
                        &json!({ "release": r }),
                        now,
                        Some(&format!("release-fanout:{r}")),
                        now,
                    )?;
                }
            }
            tell_subscribers(conn, who, &t, "dev.status", &title, now)?;
        }
        changelog::record(conn, "dev_thread", id, now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    get_thread(app, who, id)
}

fn subscribers(conn: &mut DbConn, thread: i64) -> QueryResult<Vec<Recipient>> {
    let rows: Vec<(Option<i64>, Option<i64>)> = dev_subscriptions::table
        .filter(dev_subscriptions::thread_id.eq(thread))
        .select((dev_subscriptions::user_id, dev_subscriptions::contact_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r {
            (Some(u), _) => Some(Recipient::User(u)),
            (_, Some(c)) => Some(Recipient::Contact(c)),
            _ => None,
        })
        .collect())
}

fn tell_subscribers(
    conn: &mut DbConn,
    who: &Principal,
    t: &DevThread,
    kind: &str,
    title: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let me = person(who).ok();
    let mut to: Vec<Recipient> = subscribers(conn, t.id)?.into_iter().filter(|r| Some(*r) != me).collect();
    // The visibility as it is now (the caller's copy may predate a change in this transaction).
    let public: bool = dev_threads::table.find(t.id).select(dev_threads::visibility).first::<String>(conn)?
        == Visibility::Public.as_str();
    if !public {
        // Customers never hear about internal threads.
        to.retain(|r| matches!(r, Recipient::User(_)));
    }
    notify::post(
        conn,
        &to,
        &NewNotification { kind, title, body: "", ticket_id: None, link: &format!("/development/{}", t.id) },
        now,
    )
}

// ---------------------------------------------------------------- votes and subscriptions

fn subscribe_in(conn: &mut DbConn, thread: i64, r: Recipient, now: NaiveDateTime) -> QueryResult<bool> {
    let exists: i64 = match r {
        Recipient::User(u) => dev_subscriptions::table
            .filter(dev_subscriptions::thread_id.eq(thread))
            .filter(dev_subscriptions::user_id.eq(u))
            .count()
            .get_result(conn)?,
        Recipient::Contact(c) => dev_subscriptions::table
            .filter(dev_subscriptions::thread_id.eq(thread))
            .filter(dev_subscriptions::contact_id.eq(c))
            .count()
            .get_result(conn)?,
    };
    if exists > 0 {
        return Ok(false);
    }
    let (u, c) = split(r);
    diesel::insert_into(dev_subscriptions::table)
        .values((
            dev_subscriptions::thread_id.eq(thread),
            dev_subscriptions::user_id.eq(u),
            dev_subscriptions::contact_id.eq(c),
            dev_subscriptions::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(dev_threads::table.find(thread))
        .set(dev_threads::subscriber_count.eq(dev_threads::subscriber_count + 1))
        .execute(conn)?;
    Ok(true)
}

fn split(r: Recipient) -> (Option<i64>, Option<i64>) {
    match r {
        Recipient::User(u) => (Some(u), None),
        Recipient::Contact(c) => (None, Some(c)),
    }
}

fn vote_in(conn: &mut DbConn, thread: i64, r: Recipient, now: NaiveDateTime) -> QueryResult<bool> {
    let exists: i64 = match r {
        Recipient::User(u) => dev_votes::table
            .filter(dev_votes::thread_id.eq(thread))
            .filter(dev_votes::user_id.eq(u))
            .count()
            .get_result(conn)?,
        Recipient::Contact(c) => dev_votes::table
            .filter(dev_votes::thread_id.eq(thread))
            .filter(dev_votes::contact_id.eq(c))
            .count()
            .get_result(conn)?,
    };
    if exists > 0 {
        return Ok(false);
    }
    let (u, c) = split(r);
    diesel::insert_into(dev_votes::table)
        .values((
            dev_votes::thread_id.eq(thread),
            dev_votes::user_id.eq(u),
            dev_votes::contact_id.eq(c),
            dev_votes::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(dev_threads::table.find(thread))
        .set(dev_threads::vote_count.eq(dev_threads::vote_count + 1))
        .execute(conn)?;
    Ok(true)
}

/// Holds the thread for the rest of the transaction (`FOR UPDATE` on PostgreSQL; SQLite's
/// IMMEDIATE transaction already holds the write lock) and reads it.
fn lock_thread(conn: &mut DbConn, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    if let DbConn::Postgres(pg) = conn {
        dev_threads::table.find(id).select(dev_threads::id).for_update().load::<i64>(pg)?;
    }
    visible(conn, who, id)
}

/// Votes for a thread (one vote per person; voting again changes nothing). Voting also
/// subscribes, so the voter hears when it ships.
pub fn vote(app: &App, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    who.require_write()?;
    let me = person(who)?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let t = lock_thread(conn, who, id)?;
        if let Some(s) = t.duplicate_of_id {
            return Err(ServiceError::invalid("id", format!("this thread is a duplicate: vote on thread {s}")));
        }
        if vote_in(conn, id, me, now)? {
            subscribe_in(conn, id, me, now)?;
            changelog::record(conn, "dev_thread", id, now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    get_thread(app, who, id)
}

pub fn unvote(app: &App, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    who.require_write()?;
    let me = person(who)?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        lock_thread(conn, who, id)?;
        let n = match me {
            Recipient::User(u) => {
                diesel::delete(dev_votes::table.filter(dev_votes::thread_id.eq(id)).filter(dev_votes::user_id.eq(u)))
                    .execute(conn)?
            }
            Recipient::Contact(c) => {
                diesel::delete(dev_votes::table.filter(dev_votes::thread_id.eq(id)).filter(dev_votes::contact_id.eq(c)))
                    .execute(conn)?
            }
        };
        if n > 0 {
            diesel::update(dev_threads::table.find(id))
                .set(dev_threads::vote_count.eq(dev_threads::vote_count - n as i64))
                .execute(conn)?;
            changelog::record(conn, "dev_thread", id, now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    get_thread(app, who, id)
}

pub fn subscribe(app: &App, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    who.require_write()?;
    let me = person(who)?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        lock_thread(conn, who, id)?;
        subscribe_in(conn, id, me, now)?;
        Ok::<_, ServiceError>(())
    })?;
    get_thread(app, who, id)
}

pub fn unsubscribe(app: &App, who: &Principal, id: i64) -> ServiceResult<DevThread> {
    who.require_write()?;
    let me = person(who)?;
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        lock_thread(conn, who, id)?;
        let n = match me {
            Recipient::User(u) => diesel::delete(
                dev_subscriptions::table
                    .filter(dev_subscriptions::thread_id.eq(id))
                    .filter(dev_subscriptions::user_id.eq(u)),
            )
            .execute(conn)?,
            Recipient::Contact(c) => diesel::delete(
                dev_subscriptions::table
                    .filter(dev_subscriptions::thread_id.eq(id))
                    .filter(dev_subscriptions::contact_id.eq(c)),
            )
            .execute(conn)?,
        };
        if n > 0 {
            diesel::update(dev_threads::table.find(id))
                .set(dev_threads::subscriber_count.eq(dev_threads::subscriber_count - n as i64))
                .execute(conn)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    get_thread(app, who, id)
}

/// Follows a thread's shortcut: the caller joins (is subscribed) in one step.
pub fn join_by_shortcut(app: &App, who: &Principal, shortcut: &str) -> ServiceResult<DevThread> {
    who.require_write()?;
    let t = get_by_shortcut(app, who, shortcut)?;
    subscribe(app, who, t.id)
}

/// What the caller has done on a thread: (voted, subscribed).
pub fn my_standing(app: &App, who: &Principal, id: i64) -> ServiceResult<(bool, bool)> {
    let Ok(me) = person(who) else { return Ok((false, false)) };
    let mut conn = app.conn()?;
    let (voted, subscribed): (i64, i64) = match me {
        Recipient::User(u) => (
            dev_votes::table
                .filter(dev_votes::thread_id.eq(id))
                .filter(dev_votes::user_id.eq(u))
                .count()
                .get_result(&mut conn)?,
            dev_subscriptions::table
                .filter(dev_subscriptions::thread_id.eq(id))
                .filter(dev_subscriptions::user_id.eq(u))
                .count()
                .get_result(&mut conn)?,
        ),
        Recipient::Contact(c) => (
            dev_votes::table
                .filter(dev_votes::thread_id.eq(id))
                .filter(dev_votes::contact_id.eq(c))
                .count()
                .get_result(&mut conn)?,
            dev_subscriptions::table
                .filter(dev_subscriptions::thread_id.eq(id))
                .filter(dev_subscriptions::contact_id.eq(c))
                .count()
                .get_result(&mut conn)?,
        ),
    };
    Ok((voted > 0, subscribed > 0))
}

/// Merges a duplicate into the surviving thread: votes and subscribers move (a person who
/// voted on both counts once), the duplicate becomes final and points at the survivor.
pub fn mark_duplicate(app: &App, who: &Principal, id: i64, survivor: i64) -> ServiceResult<DevThread> {
    who.require_staff_write()?;
    if id == survivor {
        return Err(ServiceError::invalid("survivorId", "a thread cannot duplicate itself"));
    }
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let (first, second) = if id < survivor { (id, survivor) } else { (survivor, id) };
        lock_thread(conn, who, first)?;
        lock_thread(conn, who, second)?;
        let dup = visible(conn, who, id)?;
        let keep = visible(conn, who, survivor)?;
        let mut checks = Checks::new();
        if dup.status().is_final() {
            checks.add("id", format!("the thread is already {}", dup.status().as_str()));
        }
        if keep.status() == ThreadStatus::Duplicate {
            checks.add("survivorId", "the surviving thread is itself a duplicate");
        }
        checks.finish()?;
        let votes: Vec<(Option<i64>, Option<i64>)> = dev_votes::table
            .filter(dev_votes::thread_id.eq(id))
            .select((dev_votes::user_id, dev_votes::contact_id))
            .load(conn)?;
        for v in votes {
            let r = match v {
                (Some(u), _) => Recipient::User(u),
                (_, Some(c)) => Recipient::Contact(c),
                _ => continue,
            };
            vote_in(conn, survivor, r, now)?;
        }
        for r in subscribers(conn, id)? {
            // Customers never follow an internal thread (its title would reach them).
            if keep.is_public() || matches!(r, Recipient::User(_)) {
                subscribe_in(conn, survivor, r, now)?;
            }
        }
        let links: Vec<i64> = dev_ticket_links::table
            .filter(dev_ticket_links::thread_id.eq(id))
            .select(dev_ticket_links::ticket_id)
            .load(conn)?;
        for ticket in links {
            link_ticket_in(conn, survivor, ticket, now)?;
        }
        diesel::delete(dev_votes::table.filter(dev_votes::thread_id.eq(id))).execute(conn)?;
        diesel::update(dev_threads::table.find(id))
            .set((
                dev_threads::status.eq(ThreadStatus::Duplicate.as_str()),
                dev_threads::duplicate_of_id.eq(survivor),
                dev_threads::vote_count.eq(0),
                dev_threads::last_activity_at.eq(now),
            ))
            .execute(conn)?;
        tell_subscribers(
            conn,
            who,
            &dup,
            "dev.status",
            &if keep.is_public() {
                format!("“{}” is a duplicate of “{}”, which you now follow", dup.title, keep.title)
            } else {
                format!("“{}” was merged into another thread; you will hear when the fix ships", dup.title)
            },
            now,
        )?;
        changelog::record(conn, "dev_thread", id, now)?;
        changelog::record(conn, "dev_thread", survivor, now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    get_thread(app, who, survivor)
}

// ---------------------------------------------------------------- comments

#[derive(Debug, Clone)]
pub struct CommentView {
    pub comment: DevComment,
    /// The author's name; customers see other customers as "A customer".
    pub author_name: String,
    pub author_kind: &'static str,
}

pub fn comments(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<CommentView>> {
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, id)?;
    let mut q = dev_comments::table
        .left_join(users::table.on(users::id.nullable().eq(dev_comments::author_user_id)))
        .left_join(contacts::table.on(contacts::id.nullable().eq(dev_comments::author_contact_id)))
        .filter(dev_comments::thread_id.eq(t.id))
        .into_boxed();
    if !who.is_staff() {
        q = q.filter(dev_comments::internal.eq(false));
    }
    let rows: Vec<(DevComment, Option<String>, Option<String>)> = q
        .order(dev_comments::id)
        .select((DevComment::as_select(), users::name.nullable(), contacts::name.nullable()))
        .load(&mut conn)?;
    let me = who.contact_id();
    Ok(rows
        .into_iter()
        .map(|(comment, u, c)| {
            let (author_name, author_kind) = match (u, c) {
                (Some(u), _) => (u, "staff"),
                (_, Some(c)) if who.is_staff() || comment.author_contact_id == me => (c, "contact"),
                (_, Some(_)) => ("A customer".to_string(), "contact"),
                _ => ("Wrench".to_string(), "system"),
            };
            CommentView { comment, author_name, author_kind }
        })
        .collect())
}

/// A comment: public (staff or customers) or a staff-only note. Commenting subscribes.
pub fn add_comment(app: &App, who: &Principal, id: i64, body: &str, internal: bool) -> ServiceResult<DevComment> {
    who.require_write()?;
    let me = person(who)?;
    if internal {
        who.require_staff()?;
    }
    let mut checks = Checks::new();
    check_len(&mut checks, "body", body, 1, 50_000);
    checks.finish()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let cid = write_tx(&mut conn, |conn| {
        let t = lock_thread(conn, who, id)?;
        if t.status() == ThreadStatus::Duplicate && !who.is_staff() {
            return Err(ServiceError::invalid("id", "this thread is a duplicate: comment on the thread it points to"));
        }
        let cid: i64 = diesel::insert_into(dev_comments::table)
            .values((
                dev_comments::thread_id.eq(id),
                dev_comments::internal.eq(internal),
                dev_comments::author_user_id.eq(who.user_id()),
                dev_comments::author_contact_id.eq(who.contact_id()),
                dev_comments::body.eq(body.trim_end()),
                dev_comments::created_at.eq(now),
            ))
            .returning(dev_comments::id)
            .get_result(conn)?;
        diesel::update(dev_threads::table.find(id)).set(dev_threads::last_activity_at.eq(now)).execute(conn)?;
        subscribe_in(conn, id, me, now)?;
        if who.is_staff() && !internal {
            tell_subscribers(conn, who, &t, "dev.comment", &format!("New update on “{}”", t.title), now)?;
        }
        changelog::record(conn, "dev_thread", id, now)?;
        Ok::<_, ServiceError>(cid)
    })?;
    app.committed();
    Ok(dev_comments::table.find(cid).select(DevComment::as_select()).first(&mut conn)?)
}

// ---------------------------------------------------------------- lists

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadSort {
    #[default]
    Votes,
    Activity,
    Status,
}

#[derive(Debug, Clone, Default)]
pub struct ThreadFilter {
    pub kind: Option<ThreadKind>,
    pub statuses: Vec<ThreadStatus>,
    pub product_id: Option<i64>,
    pub label: Option<String>,
    /// Only threads the caller follows.
    pub subscribed: bool,
    /// Part of the title.
    pub search: Option<String>,
}

pub fn list_threads(
    app: &App,
    who: &Principal,
    filter: &ThreadFilter,
    sort: ThreadSort,
    req: &PageRequest,
) -> ServiceResult<Page<DevThread>> {
    who.require_signed_in()?;
    let me = person(who).ok();
    let offset = req.offset()?;
    let mut conn = app.conn()?;
    let build = || {
        let mut q = dev_threads::table.into_boxed();
        if !who.is_staff() {
            q = q.filter(dev_threads::visibility.eq(Visibility::Public.as_str()));
        }
        if let Some(k) = filter.kind {
            q = q.filter(dev_threads::kind.eq(k.as_str()));
        }
        if !filter.statuses.is_empty() {
            q = q.filter(dev_threads::status.eq_any(filter.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
        }
        if let Some(p) = filter.product_id {
            q = q.filter(dev_threads::product_id.eq(p));
        }
        if let Some(l) = &filter.label {
            q = q.filter(
                dev_threads::id.eq_any(
                    dev_labels::table
                        .filter(dev_labels::label.eq(ticketing::service::normalize_tag(l)))
                        .select(dev_labels::thread_id),
                ),
            );
        }
        if let Some(s) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            q = q.filter(
                dev_threads::title.like(format!("%{}%", crate::accounts::service::escape_like(s))).escape('\\'),
            );
        }
        if filter.subscribed {
            q = match me {
                Some(Recipient::User(u)) => q.filter(
                    dev_threads::id.eq_any(
                        dev_subscriptions::table
                            .filter(dev_subscriptions::user_id.eq(u))
                            .select(dev_subscriptions::thread_id),
                    ),
                ),
                Some(Recipient::Contact(c)) => q.filter(
                    dev_threads::id.eq_any(
                        dev_subscriptions::table
                            .filter(dev_subscriptions::contact_id.eq(c))
                            .select(dev_subscriptions::thread_id),
                    ),
                ),
                None => q.filter(dev_threads::id.eq(-1)),
            };
        }
        q
    };
    read_tx(&mut conn, |conn| {
        let total: i64 = if req.count { build().count().get_result(conn)? } else { -1 };
        let q = match sort {
            ThreadSort::Votes => build().order((dev_threads::vote_count.desc(), dev_threads::id.desc())),
            ThreadSort::Activity => build().order((dev_threads::last_activity_at.desc(), dev_threads::id.desc())),
            ThreadSort::Status => {
                build().order((dev_threads::status.asc(), dev_threads::vote_count.desc(), dev_threads::id.desc()))
            }
        };
        let rows = q.offset(offset).limit(req.first + 1).select(DevThread::as_select()).load(conn)?;
        Ok(Page::from_offset(rows, offset, req.first, total))
    })
}

pub fn labels_of(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<String>> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)?;
    Ok(dev_labels::table
        .filter(dev_labels::thread_id.eq(id))
        .order(dev_labels::label)
        .select(dev_labels::label)
        .load(&mut conn)?)
}

/// Who voted (staff only: customers see the count).
pub fn voters(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<String>> {
    who.require_staff()?;
    people(app, who, id, true)
}

/// Who follows (staff only: customers see the count).
pub fn subscriber_names(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<String>> {
    who.require_staff()?;
    people(app, who, id, false)
}

fn people(app: &App, who: &Principal, id: i64, votes: bool) -> ServiceResult<Vec<String>> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)?;
    let rows: Vec<(Option<i64>, Option<i64>)> = if votes {
        dev_votes::table
            .filter(dev_votes::thread_id.eq(id))
            .order(dev_votes::id)
            .select((dev_votes::user_id, dev_votes::contact_id))
            .load(&mut conn)?
    } else {
        dev_subscriptions::table
            .filter(dev_subscriptions::thread_id.eq(id))
            .order(dev_subscriptions::id)
            .select((dev_subscriptions::user_id, dev_subscriptions::contact_id))
            .load(&mut conn)?
    };
    let mut out = Vec::new();
    for r in rows {
        match r {
            (Some(u), _) => out.push(users::table.find(u).select(users::name).first::<String>(&mut conn)?),
            (_, Some(c)) => {
                let (name, company): (String, String) = contacts::table
                    .inner_join(crate::schema::companies::table)
                    .filter(contacts::id.eq(c))
                    .select((contacts::name, crate::schema::companies::name))
                    .first(&mut conn)?;
                out.push(format!("{name} ({company})"));
            }
            _ => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- tickets and threads

fn link_ticket_in(conn: &mut DbConn, thread: i64, ticket: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let exists: i64 = dev_ticket_links::table
        .filter(dev_ticket_links::thread_id.eq(thread))
        .filter(dev_ticket_links::ticket_id.eq(ticket))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(dev_ticket_links::table)
        .values((
            dev_ticket_links::thread_id.eq(thread),
            dev_ticket_links::ticket_id.eq(ticket),
            dev_ticket_links::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

pub struct MoveInput {
    pub number: i64,
    /// Attach to this existing thread…
    pub thread_id: Option<i64>,
    /// …or create a new one (title and description default to the ticket's).
    pub new_thread: Option<ThreadInput>,
    /// Resolve the ticket once it points to the thread.
    pub resolve: bool,
}

/// Moves a support ticket into Development on the customer's behalf: a new thread from the
/// ticket (title and description carried over) or an existing one; the requester is
/// subscribed (public threads), the ticket gets a public reply pointing to the thread and
/// may be resolved; the link shows on both.
pub fn move_ticket(app: &App, who: &Principal, input: MoveInput) -> ServiceResult<(DevThread, i64)> {
    who.require_staff_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let (thread_id, ticket_id) = write_tx(&mut conn, |conn| {
        let t = ticketing::store::lock(conn, input.number)?.ok_or(ServiceError::NotFound("ticket"))?;
        let t = ticketing::service::follow_merges(conn, t)?;
        if t.status() == ticketing::model::Status::Closed {
            return Err(ServiceError::invalid("number", format!("ticket #{} is closed", t.id)));
        }
        let thread_id = match (input.thread_id, &input.new_thread) {
            (Some(_), Some(_)) => {
                return Err(ServiceError::invalid("threadId", "give either an existing thread or a new one, not both"))
            }
            (None, None) => {
                return Err(ServiceError::invalid("threadId", "give an existing thread or describe a new one"))
            }
            (Some(id), None) => lock_thread(conn, who, id)?.id,
            (None, Some(new)) => {
                let first: Option<String> = crate::schema::ticket_entries::table
                    .filter(crate::schema::ticket_entries::ticket_id.eq(t.id))
                    .filter(crate::schema::ticket_entries::kind.eq("reply"))
                    .order(crate::schema::ticket_entries::id)
                    .select(crate::schema::ticket_entries::body)
                    .first(conn)
                    .optional()?;
                let mut new = new.clone();
                if new.title.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    new.title = Some(t.subject.clone());
                }
                if new.description.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    new.description = first;
                }
                // The description carries the customer's own words over: whether every
                // customer may read them is a decision the technician makes explicitly.
                if new.visibility.is_none() {
                    return Err(ServiceError::invalid(
                        "visibility",
                        "choose public (every customer can read the title and description carried over from the ticket; edit them first if they name people or systems) or internal",
                    ));
                }
                create_in(conn, &new, now)?
            }
        };
        let thread = visible(conn, who, thread_id)?;
        if thread.status() == ThreadStatus::Duplicate {
            return Err(ServiceError::invalid("threadId", "that thread is a duplicate; use the thread it points to"));
        }
        link_ticket_in(conn, thread_id, t.id, now)?;
        if let Principal::Staff(s) = who {
            subscribe_in(conn, thread_id, Recipient::User(s.user_id), now)?;
        }
        let url = format!("{}/dev/j/{}", app.config.public_url, thread.shortcut);
        let body = if thread.is_public() {
            if let Some(r) = t.requester_id {
                subscribe_in(conn, thread_id, Recipient::Contact(r), now)?;
            }
            format!(
                "We have filed this as a {} in our development tracker: “{}”. You are subscribed and will hear when a fix ships. Follow, vote and comment here: {url}",
                thread.kind().as_str(),
                thread.title
            )
        } else {
            format!(
                "We have passed this on to our development team as a {}. We will let you know when a fix ships.",
                thread.kind().as_str()
            )
        };
        ticketing::service::event(conn, t.id, who, "linked", None, Some(&format!("dev_thread:{thread_id}")), now)?;
        let status = input.resolve.then_some(ticketing::model::Status::Resolved).filter(|s| *s != t.status());
        ticketing::service::reply_in(
            conn,
            app,
            who,
            t.clone(),
            ticketing::service::ReplyInput { body, status, ..Default::default() },
            now,
        )?;
        diesel::update(dev_threads::table.find(thread_id)).set(dev_threads::last_activity_at.eq(now)).execute(conn)?;
        changelog::record(conn, "dev_thread", thread_id, now)?;
        Ok::<_, ServiceError>((thread_id, t.id))
    })?;
    app.committed();
    Ok((get_thread(app, who, thread_id)?, ticket_id))
}

/// Threads a ticket is linked to (the customer sees only public ones).
pub fn threads_of_ticket(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<DevThread>> {
    let mut conn = app.conn()?;
    let t = ticketing::service::visible(&mut conn, who, number)?;
    let mut q = dev_threads::table
        .filter(dev_threads::id.eq_any(
            dev_ticket_links::table.filter(dev_ticket_links::ticket_id.eq(t.id)).select(dev_ticket_links::thread_id),
        ))
        .into_boxed();
    if !who.is_staff() {
        q = q.filter(dev_threads::visibility.eq(Visibility::Public.as_str()));
    }
    Ok(q.order(dev_threads::id).select(DevThread::as_select()).load(&mut conn)?)
}

/// Ticket numbers linked to a thread (staff only: they reveal who reported).
pub fn linked_tickets(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<i64>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)?;
    Ok(dev_ticket_links::table
        .filter(dev_ticket_links::thread_id.eq(id))
        .order(dev_ticket_links::ticket_id)
        .select(dev_ticket_links::ticket_id)
        .load(&mut conn)?)
}
