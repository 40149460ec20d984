//! One ticket. Staff see the header fields, the thread with public replies and internal
//! notes told apart, the forms to reply, note, change status/priority/assignee/queue/tags,
//! log time, link and merge, and the event history. A contact sees the portal view: the
//! public thread and a reply form, nothing staff-only (the service filters notes out in
//! the query itself), and another company's ticket is "not found".

use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, SignedIn, Staff, Viewer};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use wrench_backend::accounts::model::{Queue, User};
use wrench_backend::accounts::service as accounts;
use wrench_backend::app::App;
use wrench_backend::development::model::{DevThread, Product};
use wrench_backend::development::service as dev;
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::mail::service as mail;
use wrench_backend::mail::store::{MailAttachment, MailMessage};
use wrench_backend::paging::PageRequest;
use wrench_backend::tickets::model::{LinkKind, Priority, Status, Ticket};
use wrench_backend::tickets::service::{self as tickets, EntryView, EventView, ReplyInput, TicketUpdate, TimeInput};
use wrench_backend::tickets::store::Related;

/// The ticket's header fields, with names resolved.
#[derive(Debug, Clone)]
pub struct Head {
    pub number: i64,
    pub subject: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub company_id: Option<i64>,
    pub company: String,
    pub requester_id: Option<i64>,
    pub requester: String,
    pub requester_email: String,
    pub assignee_id: Option<i64>,
    pub assignee: String,
    pub queue_id: i64,
    pub queue: String,
    pub tags: Vec<String>,
    pub source: String,
    pub merged_into: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Head {
    fn of(t: &Ticket, r: &Related) -> Head {
        let requester = t.requester_id.and_then(|c| r.contacts.get(&c));
        Head {
            number: t.id,
            subject: t.subject.clone(),
            status: t.status().as_str(),
            status_label: t.status().label(),
            priority: t.priority().as_str(),
            priority_label: t.priority().label(),
            company_id: t.company_id,
            company: t.company_id.and_then(|c| r.companies.get(&c)).map(|c| c.name.clone()).unwrap_or_default(),
            requester_id: t.requester_id,
            requester: requester.map(|c| c.name.clone()).unwrap_or_default(),
            requester_email: requester.map(|c| c.email.clone()).unwrap_or_default(),
            assignee_id: t.assignee_id,
            assignee: t.assignee_id.and_then(|u| r.users.get(&u)).map(|u| u.name.clone()).unwrap_or_default(),
            queue_id: t.queue_id,
            queue: r.queues.get(&t.queue_id).map(|q| q.name.clone()).unwrap_or_default(),
            tags: r.tags.get(&t.id).cloned().unwrap_or_default(),
            source: t.source.clone(),
            merged_into: t.merged_into_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

pub struct EntryRow {
    pub id: i64,
    pub is_note: bool,
    pub author: String,
    pub author_kind: &'static str,
    pub body: String,
    /// The sanitised HTML copy made when the message was stored (mail), if any.
    pub body_html: Option<String>,
    pub created_at: NaiveDateTime,
    /// Files that came with the mail this entry was filed from (those the viewer may see).
    pub files: Vec<FileLink>,
    /// Staff: where the mail this entry was filed from downloads as it arrived (`.eml`).
    pub original: Option<String>,
}

/// A downloadable attachment beside its entry.
pub struct FileLink {
    pub url: String,
    pub filename: String,
    pub size: String,
}

/// "1.2 MB", "14 KB", "512 bytes".
fn size_label(bytes: i64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// Puts each attachment and original message beside the entry it was filed as.
fn with_mail(rows: &mut [EntryRow], files: Vec<MailAttachment>, mail: &[MailMessage]) {
    for a in files {
        if let Some(row) = rows.iter_mut().find(|r| Some(r.id) == a.entry_id) {
            row.files.push(FileLink {
                url: format!("/mail/attachments/{}", a.id),
                size: size_label(a.size),
                filename: if a.filename.trim().is_empty() { "(unnamed file)".into() } else { a.filename },
            });
        }
    }
    for m in mail.iter().filter(|m| m.direction == "in") {
        if let Some(row) = rows.iter_mut().find(|r| Some(r.id) == m.entry_id) {
            row.original = m.raw_url();
        }
    }
}

impl EntryRow {
    fn of(e: EntryView) -> EntryRow {
        EntryRow {
            id: e.entry.id,
            is_note: e.entry.is_note(),
            author: e.author_name,
            author_kind: e.author_kind,
            body_html: e.entry.body_html.filter(|h| !h.trim().is_empty()),
            body: e.entry.body,
            created_at: e.entry.created_at,
            files: Vec::new(),
            original: None,
        }
    }
}

pub struct EventRow {
    pub actor: String,
    pub text: String,
    pub created_at: NaiveDateTime,
}

fn status_label(s: Option<&str>) -> String {
    s.and_then(Status::parse).map(|s| s.label().to_string()).unwrap_or_else(|| s.unwrap_or("").to_string())
}

/// An event as a sentence for the history.
fn describe(e: &EventView) -> String {
    let old = e.event.old_value.as_deref();
    let new = e.event.new_value.as_deref();
    match e.event.kind.as_str() {
        "created" => "opened the ticket".into(),
        "reply" => "replied".into(),
        "note" => "added an internal note".into(),
        "status" => format!("changed the status from {} to {}", status_label(old), status_label(new)),
        "priority" => format!("changed the priority from {} to {}", old.unwrap_or(""), new.unwrap_or("")),
        "assignee" => match new {
            Some(n) => format!("assigned it to {n}"),
            None => format!("unassigned {}", old.unwrap_or("")),
        },
        "queue" => format!("moved it from {} to {}", old.unwrap_or(""), new.unwrap_or("")),
        "tag_added" => format!("added the tag {}", new.unwrap_or("")),
        "tag_removed" => format!("removed the tag {}", old.unwrap_or("")),
        "time_logged" => format!("logged {}", new.unwrap_or("")),
        "merged_into" => format!("merged this ticket into #{}", new.unwrap_or("")),
        "merged" => format!("merged #{} into this ticket", new.unwrap_or("")),
        "subject" => format!("changed the subject to “{}”", new.unwrap_or("")),
        "requester" => format!("changed the requester to {}", new.unwrap_or("")),
        "linked" => format!("linked {}", new.unwrap_or("").replace('_', " ").replace(':', " #")),
        other => {
            let kind = other.replace('_', " ");
            match (old, new) {
                (Some(o), Some(n)) => format!("{kind}: {o} → {n}"),
                (None, Some(n)) => format!("{kind}: {n}"),
                (Some(o), None) => format!("{kind}: {o}"),
                (None, None) => kind,
            }
        }
    }
}

pub struct TimeRow {
    pub user: String,
    pub minutes: i64,
    pub billable: bool,
    pub note: String,
    pub created_at: NaiveDateTime,
}

pub struct LinkRow {
    pub text: String,
    pub other: i64,
}

/// What the staff forms show: the user's input after an error, else the ticket's values.
#[derive(Default)]
pub struct Kept {
    pub reply_body: String,
    pub reply_status: String,
    pub reply_minutes: String,
    pub reply_billable: bool,
    pub note_body: String,
    pub status: String,
    pub priority: String,
    pub assignee: String,
    pub queue: String,
    pub tags: String,
    pub time_minutes: String,
    pub time_note: String,
    pub time_billable: bool,
    pub link_other: String,
    pub link_kind: String,
    pub merge_target: String,
    pub move_mode: String,
    pub move_existing: String,
    pub move_kind: String,
    pub move_title: String,
    pub move_description: String,
    pub move_product: String,
    pub move_visibility: String,
    pub move_resolve: bool,
}

impl Kept {
    fn of(head: &Head, errors: &Errors, f: &FormData) -> Kept {
        let mut k = Kept {
            status: head.status.to_string(),
            priority: head.priority.to_string(),
            assignee: head.assignee_id.map(|a| a.to_string()).unwrap_or_else(|| "none".into()),
            queue: head.queue_id.to_string(),
            tags: head.tags.join(", "),
            time_billable: true,
            link_kind: "related".into(),
            move_mode: "new".into(),
            move_kind: "bug".into(),
            move_resolve: true,
            ..Default::default()
        };
        match errors.form.as_str() {
            "reply" => {
                k.reply_body = f.get("body").into();
                k.reply_status = f.get("status").into();
                k.reply_minutes = f.get("minutes").into();
                k.reply_billable = f.has("billable");
            }
            "note" => k.note_body = f.get("body").into(),
            "update" => {
                k.status = f.get("status").into();
                k.priority = f.get("priority").into();
                k.assignee = f.get("assigneeId").into();
                k.queue = f.get("queueId").into();
                k.tags = f.get("tags").into();
            }
            "time" => {
                k.time_minutes = f.get("minutes").into();
                k.time_note = f.get("note").into();
                k.time_billable = f.has("billable");
            }
            "link" => {
                k.link_other = f.get("otherNumber").into();
                k.link_kind = f.get("kind").into();
            }
            "merge" => k.merge_target = f.get("targetNumber").into(),
            "move" => {
                k.move_mode = f.get("mode").into();
                k.move_existing = f.get("existing").into();
                k.move_kind = f.get("kind").into();
                k.move_title = f.get("title").into();
                k.move_description = f.get("description").into();
                k.move_product = f.get("productId").into();
                k.move_visibility = f.get("visibility").into();
                k.move_resolve = f.get("resolve") == "1";
            }
            _ => {}
        }
        k
    }
}

#[derive(Template)]
#[template(path = "tickets/ticket.html")]
struct StaffPage {
    c: Chrome,
    t: Head,
    thread: Vec<EntryRow>,
    events: Vec<EventRow>,
    time: Vec<TimeRow>,
    time_total: i64,
    links: Vec<LinkRow>,
    watchers: Vec<String>,
    statuses: Vec<Status>,
    priorities: Vec<Priority>,
    users: Vec<User>,
    queues: Vec<Queue>,
    dev_threads: Vec<DevLink>,
    products: Vec<Product>,
    errors: Errors,
    k: Kept,
    sla: Vec<crate::sla::ClockRow>,
    /// Every message received or sent about the ticket (the staff page's mail list).
    mail: Vec<MailMessage>,
}

/// A Development thread the ticket is linked to.
pub struct DevLink {
    pub id: i64,
    pub title: String,
    pub kind: &'static str,
    pub status_label: &'static str,
}

impl DevLink {
    fn all(threads: Vec<DevThread>) -> Vec<DevLink> {
        threads
            .into_iter()
            .map(|t| DevLink { id: t.id, kind: t.kind().as_str(), status_label: t.status().label(), title: t.title })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "portal/ticket.html")]
struct PortalPage {
    c: Chrome,
    t: Head,
    thread: Vec<EntryRow>,
    dev_threads: Vec<DevLink>,
    errors: Errors,
    reply_body: String,
}

struct StaffData {
    ticket: Ticket,
    related: Related,
    thread: Vec<EntryView>,
    events: Vec<EventView>,
    time: Vec<TimeRow>,
    links: Vec<LinkRow>,
    watchers: Vec<String>,
    users: Vec<User>,
    queues: Vec<Queue>,
    dev_threads: Vec<DevThread>,
    products: Vec<Product>,
    sla: Vec<crate::sla::ClockRow>,
    files: Vec<MailAttachment>,
    mail: Vec<MailMessage>,
}

fn load_staff(app: &App, who: &wrench_backend::accounts::auth::Principal, n: i64) -> Result<StaffData, ServiceError> {
    let (ticket, related) = tickets::get_with_related(app, who, n)?;
    let thread = tickets::thread(app, who, n)?;
    let events = tickets::events_of(app, who, n)?;
    let time = tickets::time_entries_of(app, who, n)?
        .into_iter()
        .map(|(e, user)| TimeRow {
            user,
            minutes: e.minutes,
            billable: e.billable,
            note: e.note,
            created_at: e.created_at,
        })
        .collect();
    let links = tickets::links_of(app, who, n)?
        .into_iter()
        .map(|l| {
            let outgoing = l.ticket_id == ticket.id;
            let kind = LinkKind::parse(&l.kind);
            let text = match (kind, outgoing) {
                (Some(LinkKind::Related), _) => "Related to",
                (Some(LinkKind::DuplicateOf), true) => "Duplicate of",
                (Some(LinkKind::DuplicateOf), false) => "Has duplicate",
                (Some(LinkKind::MergedInto), true) => "Merged into",
                (Some(LinkKind::MergedInto), false) => "Merged from",
                (Some(LinkKind::FollowUpOf), true) => "Follow-up of",
                (Some(LinkKind::FollowUpOf), false) => "Followed up by",
                (None, _) => "Linked to",
            };
            LinkRow { text: text.into(), other: if outgoing { l.other_ticket_id } else { l.ticket_id } }
        })
        .collect();
    let watchers = tickets::watchers(app, who, n)?.into_iter().map(|w| w.name).collect();
    let mut users: Vec<User> = accounts::list_users(app, who, false, &PageRequest::new(Some(100), None)?)?
        .items
        .into_iter()
        .map(|(_, u)| u)
        .collect();
    // The current assignee is always a choice (deactivated, or beyond the first 100), so the
    // form never shows "Unassigned" for an assigned ticket.
    if let Some(a) = ticket.assignee_id.filter(|a| !users.iter().any(|u| u.id == *a)) {
        if let Ok(u) = accounts::get_user(app, who, a) {
            users.push(u);
        }
    }
    let queues = accounts::list_queues(app, who)?;
    let dev_threads = dev::threads_of_ticket(app, who, n)?;
    let products = dev::list_products(app, who)?;
    let sla = crate::sla::clock_rows(app, who, n)?;
    let (files, mail) = mail::of_ticket(app, who, n)?;
    Ok(StaffData {
        ticket,
        related,
        thread,
        events,
        time,
        links,
        watchers,
        users,
        queues,
        dev_threads,
        products,
        sla,
        files,
        mail,
    })
}

async fn staff_page(
    req: &HttpRequest,
    v: &Viewer,
    n: i64,
    errors: Errors,
    f: &FormData,
) -> Result<StaffPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let d = run(&app, move |app| load_staff(app, &who, n)).await?;
    let head = Head::of(&d.ticket, &d.related);
    let k = Kept::of(&head, &errors, f);
    let mut statuses = vec![d.ticket.status()];
    statuses.extend(d.ticket.status().next_states());
    let time_total = d.time.iter().map(|t: &TimeRow| t.minutes).sum();
    let mut thread: Vec<EntryRow> = d.thread.into_iter().map(EntryRow::of).collect();
    with_mail(&mut thread, d.files, &d.mail);
    Ok(StaffPage {
        c: Chrome::new(v, format!("#{} {}", head.number, head.subject), "tickets")
            .with_notice(&FormData::from_query(req)),
        t: head,
        thread,
        // Replies and notes are the conversation itself; the history lists the other changes.
        events: d
            .events
            .iter()
            .filter(|e| !matches!(e.event.kind.as_str(), "reply" | "note"))
            .map(|e| EventRow {
                actor: e.actor_name.clone().unwrap_or_else(|| "Wrench".into()),
                text: describe(e),
                created_at: e.event.created_at,
            })
            .collect(),
        time: d.time,
        time_total,
        links: d.links,
        watchers: d.watchers,
        statuses,
        priorities: Priority::ALL.to_vec(),
        users: d.users,
        queues: d.queues,
        dev_threads: DevLink::all(d.dev_threads),
        products: d.products,
        errors,
        k,
        sla: d.sla,
        mail: d.mail,
    })
}

async fn portal_page(
    req: &HttpRequest,
    v: &Viewer,
    n: i64,
    errors: Errors,
    f: &FormData,
) -> Result<PortalPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (ticket, related, thread, dev_threads, files) = run(&app, move |app| {
        let (t, r) = tickets::get_with_related(app, &who, n)?;
        let thread = tickets::thread(app, &who, n)?;
        let dev_threads = dev::threads_of_ticket(app, &who, n)?;
        let (files, _) = mail::of_ticket(app, &who, n)?;
        Ok((t, r, thread, dev_threads, files))
    })
    .await?;
    let head = Head::of(&ticket, &related);
    let mut thread: Vec<EntryRow> = thread.into_iter().map(EntryRow::of).collect();
    with_mail(&mut thread, files, &[]);
    Ok(PortalPage {
        c: Chrome::new(v, format!("#{} {}", head.number, head.subject), "tickets")
            .with_notice(&FormData::from_query(req)),
        t: head,
        thread,
        dev_threads: DevLink::all(dev_threads),
        reply_body: if errors.form == "reply" { f.get("body").to_string() } else { String::new() },
        errors,
    })
}

/// The page again, with a form's errors beside its fields and the user's input kept.
pub(crate) async fn with_errors(
    req: &HttpRequest,
    v: &Viewer,
    n: i64,
    form: &str,
    e: ServiceError,
    f: &FormData,
) -> Result<HttpResponse, WebError> {
    let errors = Errors::from_service(form, e)?;
    if v.is_staff() {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &staff_page(req, v, n, errors, f).await?)
    } else {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &portal_page(req, v, n, errors, f).await?)
    }
}

pub async fn show(req: HttpRequest, SignedIn(v): SignedIn, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let n = path.into_inner();
    if v.is_staff() {
        render(&staff_page(&req, &v, n, Errors::none(), &FormData::default()).await?)
    } else {
        render(&portal_page(&req, &v, n, Errors::none(), &FormData::default()).await?)
    }
}

fn int_field(f: &FormData, name: &str, label: &str) -> Result<Option<i64>, ServiceError> {
    f.int(name, label).map_err(|e| ServiceError::Invalid(vec![e]))
}

pub async fn reply(
    req: HttpRequest,
    SignedIn(v): SignedIn,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let n = path.into_inner();
    let staff = v.is_staff();
    let input = (|| {
        let status = match f.opt("status").filter(|_| staff) {
            None => None,
            Some(s) => Some(Status::parse(&s).ok_or_else(|| ServiceError::invalid("status", "is not a status"))?),
        };
        Ok::<_, ServiceError>(ReplyInput {
            body: f.get("body").to_string(),
            body_html: None,
            status,
            minutes: if staff { int_field(&f, "minutes", "Minutes")? } else { None },
            billable: staff && f.has("billable"),
        })
    })();
    let who = v.who.clone();
    let r = match input {
        Ok(input) => run(&app, move |app| tickets::add_reply(app, &who, n, input)).await,
        Err(e) => Err(e),
    };
    match r {
        Ok((filed, _)) => Ok(see_other(&format!("/tickets/{}?done=replied#entry-{}", filed.ticket_id, filed.entry_id))),
        Err(e) => with_errors(&req, &v, n, "reply", e, &f).await,
    }
}

pub async fn note(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let n = path.into_inner();
    let (who, body) = (v.who.clone(), f.get("body").to_string());
    match run(&app, move |app| tickets::add_note(app, &who, n, &body)).await {
        Ok(e) => Ok(see_other(&format!("/tickets/{}?done=noted#entry-{}", e.ticket_id, e.id))),
        Err(e) => with_errors(&req, &v, n, "note", e, &f).await,
    }
}

/// The update form's changes only: a field whose value is what the page showed (`was_…`)
/// is left alone, so saving one change never reverts what someone else changed meanwhile.
fn update_of(f: &FormData) -> Result<TicketUpdate, ServiceError> {
    let changed = |name: &str| match f.opt(&format!("was_{name}")) {
        Some(was) => f.get(name).trim() != was.trim(),
        None => true,
    };
    let tag_set = |s: &str| {
        s.split(',')
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let mut errs: Vec<FieldError> = Vec::new();
    let mut u = TicketUpdate::default();
    if let Some(s) = f.opt("status").filter(|_| changed("status")) {
        match Status::parse(&s) {
            Some(s) => u.status = Some(s),
            None => errs.push(FieldError::new("status", "is not a status")),
        }
    }
    if let Some(p) = f.opt("priority").filter(|_| changed("priority")) {
        match Priority::parse(&p) {
            Some(p) => u.priority = Some(p),
            None => errs.push(FieldError::new("priority", "is not a priority")),
        }
    }
    match f.opt("assigneeId").filter(|_| changed("assigneeId")).as_deref() {
        None => {}
        Some("none") => u.assignee_id = Some(None),
        Some(a) => match a.parse::<i64>() {
            Ok(id) => u.assignee_id = Some(Some(id)),
            Err(_) => errs.push(FieldError::new("assigneeId", "choose a staff user")),
        },
    }
    if changed("queueId") {
        match f.int("queueId", "Queue") {
            Ok(q) => u.queue_id = q,
            Err(e) => errs.push(e),
        }
    }
    let tags_changed = match f.opt("was_tags") {
        Some(was) => tag_set(f.get("tags")) != tag_set(&was),
        None => true,
    };
    if f.has("tags") && tags_changed {
        u.tags = Some(f.get("tags").split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect());
    }
    if errs.is_empty() {
        Ok(u)
    } else {
        Err(ServiceError::Invalid(errs))
    }
}

pub async fn update(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let n = path.into_inner();
    let who = v.who.clone();
    let r = match update_of(&f) {
        Ok(u) => run(&app, move |app| tickets::update(app, &who, n, u)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Ok(see_other(&format!("/tickets/{n}?done=updated"))),
        Err(e) => with_errors(&req, &v, n, "update", e, &f).await,
    }
}

pub async fn log_time(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let n = path.into_inner();
    let who = v.who.clone();
    let r = match int_field(&f, "minutes", "Minutes") {
        Ok(m) => {
            let input = TimeInput {
                minutes: m.unwrap_or(0),
                billable: f.has("billable"),
                note: f.get("note").to_string(),
                entry_id: None,
            };
            run(&app, move |app| tickets::log_time(app, &who, n, input)).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Ok(see_other(&format!("/tickets/{n}?done=time"))),
        Err(e) => with_errors(&req, &v, n, "time", e, &f).await,
    }
}

pub async fn link(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let n = path.into_inner();
    let who = v.who.clone();
    let parsed = (|| {
        let other = int_field(&f, "otherNumber", "Other ticket")?
            .ok_or_else(|| ServiceError::invalid("otherNumber", "is required"))?;
        let kind = LinkKind::parse(f.get("kind"))
            .ok_or_else(|| ServiceError::invalid("kind", "choose related or duplicate of"))?;
        Ok::<_, ServiceError>((other, kind))
    })();
    let r = match parsed {
        Ok((other, kind)) => run(&app, move |app| tickets::link(app, &who, n, other, kind)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Ok(see_other(&format!("/tickets/{n}?done=linked"))),
        Err(e) => with_errors(&req, &v, n, "link", e, &f).await,
    }
}

pub async fn merge(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let n = path.into_inner();
    let who = v.who.clone();
    let target = int_field(&f, "targetNumber", "Ticket to merge into")
        .and_then(|t| t.ok_or_else(|| ServiceError::invalid("targetNumber", "is required")));
    let r = match target {
        Ok(target) => run(&app, move |app| tickets::merge(app, &who, n, target)).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(t) => Ok(see_other(&format!("/tickets/{}?done=merged", t.id))),
        Err(e) => with_errors(&req, &v, n, "merge", e, &f).await,
    }
}
