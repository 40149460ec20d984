//! Entities → search documents, one function per kind. A kind names the change-log entity
//! that announces its changes, builds the documents for a set of ids from the database
//! (nothing for ids that are gone or merged away), and, when it owns rows, lists its ids for
//! a rebuild. To index a new kind: write its `documents` function and add it to `KINDS`.

use super::schema::{acl_company, DocKind, SearchDoc, ACL_PUBLIC};
use crate::db::DbConn;
use crate::development::model::{DevComment, DevThread, ThreadStatus};
use crate::schema::{
    companies, company_domains, contacts, dev_comments, dev_labels, dev_threads, ticket_entries, ticket_tags, tickets,
    users,
};
use crate::tickets::model::{Entry, Ticket};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

type Documents = fn(&mut DbConn, &[i64]) -> QueryResult<Vec<SearchDoc>>;
type AllIds = fn(&mut DbConn, i64, i64) -> QueryResult<Vec<i64>>;
type Count = fn(&mut DbConn) -> QueryResult<i64>;

pub struct Kind {
    /// The change-log entity whose rows announce a change.
    pub entity: &'static str,
    pub documents: Documents,
    /// For a rebuild: ids after `after`, at most `limit`, in order. `None` when another
    /// kind's documents already include these (entries come with their ticket).
    pub all_ids: Option<AllIds>,
    /// About how many documents a rebuild of this kind produces (for progress).
    pub count: Option<Count>,
}

pub const KINDS: &[Kind] = &[
    Kind { entity: "ticket", documents: ticket_documents, all_ids: Some(ticket_ids), count: Some(ticket_count) },
    Kind { entity: "entry", documents: entry_documents, all_ids: None, count: None },
    Kind { entity: "company", documents: company_documents, all_ids: Some(company_ids), count: Some(company_count) },
    Kind { entity: "contact", documents: contact_documents, all_ids: Some(contact_ids), count: Some(contact_count) },
    Kind {
        entity: "dev_thread",
        documents: dev_thread_documents,
        all_ids: Some(dev_thread_ids),
        count: Some(dev_thread_count),
    },
];

pub fn kind(entity: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.entity == entity)
}

/// The key every document produced for a change of (entity, id) carries as its owner.
pub fn owner_key(entity: &str, id: i64) -> String {
    format!("{entity}:{id}")
}

fn ts(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// Names of the people and companies documents mention, loaded once per batch.
#[derive(Default)]
struct Names {
    users: HashMap<i64, (String, String)>,
    contacts: HashMap<i64, (String, String)>,
    companies: HashMap<i64, String>,
}

impl Names {
    fn load(
        conn: &mut DbConn,
        user_ids: HashSet<i64>,
        contact_ids: HashSet<i64>,
        company_ids: HashSet<i64>,
    ) -> QueryResult<Names> {
        let mut n = Names::default();
        if !user_ids.is_empty() {
            let ids: Vec<i64> = user_ids.into_iter().collect();
            for (id, name, email) in users::table
                .filter(users::id.eq_any(&ids))
                .select((users::id, users::name, users::email))
                .load::<(i64, String, String)>(conn)?
            {
                n.users.insert(id, (name, email));
            }
        }
        if !contact_ids.is_empty() {
            let ids: Vec<i64> = contact_ids.into_iter().collect();
            for (id, name, email) in contacts::table
                .filter(contacts::id.eq_any(&ids))
                .select((contacts::id, contacts::name, contacts::email))
                .load::<(i64, String, String)>(conn)?
            {
                n.contacts.insert(id, (name, email));
            }
        }
        if !company_ids.is_empty() {
            let ids: Vec<i64> = company_ids.into_iter().collect();
            n.companies = companies::table
                .filter(companies::id.eq_any(&ids))
                .select((companies::id, companies::name))
                .load::<(i64, String)>(conn)?
                .into_iter()
                .collect();
        }
        Ok(n)
    }

    /// (display name, searchable names, author term) of a writer.
    fn author(&self, user: Option<i64>, contact: Option<i64>, label: &str) -> (String, String, Vec<String>) {
        match (user, contact) {
            (Some(u), _) => {
                let (name, email) = self.users.get(&u).cloned().unwrap_or_default();
                (name.clone(), format!("{name} {email}"), vec![format!("user:{u}")])
            }
            (_, Some(c)) => {
                let (name, email) = self.contacts.get(&c).cloned().unwrap_or_default();
                (name.clone(), format!("{name} {email}"), vec![format!("contact:{c}")])
            }
            _ => {
                let name = if label.is_empty() { "Wrench" } else { label };
                (name.to_string(), name.to_string(), Vec::new())
            }
        }
    }

    fn company(&self, id: Option<i64>) -> String {
        id.and_then(|c| self.companies.get(&c)).cloned().unwrap_or_default()
    }
}

// ---------------------------------------------------------------- tickets and their thread

/// A ticket's fields that its replies and notes carry too (so filters and permissions
/// apply to them alike).
fn ticket_base(t: &Ticket, tags: &[String], names: &Names) -> SearchDoc {
    let shared = format!(
        "{}\u{1}{:?}\u{1}{}\u{1}{}\u{1}{:?}\u{1}{}\u{1}{}",
        t.subject,
        t.company_id,
        t.status,
        t.priority,
        t.assignee_id,
        tags.join(","),
        names.company(t.company_id)
    );
    SearchDoc {
        shared,
        number: t.id,
        subject: t.subject.clone(),
        company_id: t.company_id,
        status: t.status.clone(),
        priority: t.priority().as_str().to_string(),
        assignee_id: t.assignee_id.unwrap_or(0),
        tags: tags.to_vec(),
        acl: t.company_id.map(acl_company).into_iter().collect(),
        names: names.company(t.company_id),
        ..Default::default()
    }
}

fn entry_doc(e: &Entry, t: &Ticket, tags: &[String], names: &Names) -> SearchDoc {
    let note = e.is_note();
    let (author_name, author_names, authors) = names.author(e.author_user_id, e.author_contact_id, &e.author_label);
    let mut d = ticket_base(t, tags, names);
    d.kind = Some(if note { DocKind::Note } else { DocKind::Reply });
    d.key = format!("entry:{}", e.id);
    d.owner = owner_key("ticket", t.id);
    d.id = e.id;
    d.body = e.body.clone();
    d.names = format!("{} {author_names}", d.names);
    d.authors = authors;
    d.author_name = author_name;
    if note {
        // Internal notes are staff-only whatever the ticket's company.
        d.acl.clear();
    }
    d.created = ts(e.created_at);
    d.updated = ts(e.created_at);
    d
}

fn tags_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, Vec<String>>> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for (t, tag) in ticket_tags::table
        .filter(ticket_tags::ticket_id.eq_any(ids))
        .order((ticket_tags::ticket_id, ticket_tags::tag))
        .select((ticket_tags::ticket_id, ticket_tags::tag))
        .load::<(i64, String)>(conn)?
    {
        out.entry(t).or_default().push(tag);
    }
    Ok(out)
}

fn names_for(conn: &mut DbConn, tickets: &[Ticket], entries: &[Entry]) -> QueryResult<Names> {
    let users: HashSet<i64> = entries.iter().filter_map(|e| e.author_user_id).collect();
    let mut contacts: HashSet<i64> = entries.iter().filter_map(|e| e.author_contact_id).collect();
    contacts.extend(tickets.iter().filter_map(|t| t.requester_id));
    let companies: HashSet<i64> = tickets.iter().filter_map(|t| t.company_id).collect();
    Names::load(conn, users, contacts, companies)
}

/// A ticket (subject and first message) and every reply and note on it. A ticket merged
/// into another has no documents: its thread moved to the surviving ticket.
fn ticket_documents(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<SearchDoc>> {
    let tickets: Vec<Ticket> = tickets::table
        .filter(tickets::id.eq_any(ids))
        .filter(tickets::merged_into_id.is_null())
        .order(tickets::id)
        .select(Ticket::as_select())
        .load(conn)?;
    let live: Vec<i64> = tickets.iter().map(|t| t.id).collect();
    let entries: Vec<Entry> = ticket_entries::table
        .filter(ticket_entries::ticket_id.eq_any(&live))
        .order(ticket_entries::id)
        .select(Entry::as_select())
        .load(conn)?;
    let tags = tags_of(conn, &live)?;
    let names = names_for(conn, &tickets, &entries)?;
    let mut by_ticket: HashMap<i64, Vec<&Entry>> = HashMap::new();
    for e in &entries {
        by_ticket.entry(e.ticket_id).or_default().push(e);
    }
    let none: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(tickets.len() + entries.len());
    for t in &tickets {
        let tags = tags.get(&t.id).unwrap_or(&none);
        let thread = by_ticket.remove(&t.id).unwrap_or_default();
        let mut d = ticket_base(t, tags, &names);
        d.kind = Some(DocKind::Ticket);
        d.key = owner_key("ticket", t.id);
        d.owner = d.key.clone();
        d.id = t.id;
        // The description: the first public message is part of the ticket's document.
        let first = thread.iter().find(|e| !e.is_note()).map(|e| e.id);
        d.body = thread.iter().find(|e| Some(e.id) == first).map(|e| e.body.clone()).unwrap_or_default();
        let (requester, requester_names, authors) = names.author(None, t.requester_id, "");
        d.names = format!("{} {requester_names}", d.names);
        d.authors = authors;
        d.author_name = if t.requester_id.is_some() { requester } else { String::new() };
        d.created = ts(t.created_at);
        d.updated = ts(t.updated_at.max(t.last_activity_at));
        out.push(d);
        for e in thread.into_iter().filter(|e| Some(e.id) != first) {
            out.push(entry_doc(e, t, tags, &names));
        }
    }
    Ok(out)
}

/// Single replies and notes (a new message, or one moved by a merge).
fn entry_documents(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<SearchDoc>> {
    let entries: Vec<Entry> = ticket_entries::table
        .filter(ticket_entries::id.eq_any(ids))
        .order(ticket_entries::id)
        .select(Entry::as_select())
        .load(conn)?;
    let ticket_ids: Vec<i64> = entries.iter().map(|e| e.ticket_id).collect::<HashSet<_>>().into_iter().collect();
    let tickets: Vec<Ticket> = tickets::table
        .filter(tickets::id.eq_any(&ticket_ids))
        .filter(tickets::merged_into_id.is_null())
        .select(Ticket::as_select())
        .load(conn)?;
    let tags = tags_of(conn, &ticket_ids)?;
    let names = names_for(conn, &tickets, &entries)?;
    let by_id: HashMap<i64, &Ticket> = tickets.iter().map(|t| (t.id, t)).collect();
    // The first public message of a ticket is in the ticket's own document.
    let firsts: HashSet<Option<i64>> = ticket_entries::table
        .filter(ticket_entries::ticket_id.eq_any(&ticket_ids))
        .filter(ticket_entries::kind.eq("reply"))
        .group_by(ticket_entries::ticket_id)
        .select(diesel::dsl::min(ticket_entries::id))
        .load::<Option<i64>>(conn)?
        .into_iter()
        .collect();
    let none: Vec<String> = Vec::new();
    Ok(entries
        .iter()
        .filter(|e| !firsts.contains(&Some(e.id)))
        .filter_map(|e| by_id.get(&e.ticket_id).map(|t| entry_doc(e, t, tags.get(&t.id).unwrap_or(&none), &names)))
        .collect())
}

fn ticket_ids(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<i64>> {
    tickets::table.filter(tickets::id.gt(after)).order(tickets::id).limit(limit).select(tickets::id).load(conn)
}

fn ticket_count(conn: &mut DbConn) -> QueryResult<i64> {
    let t: i64 = tickets::table.count().get_result(conn)?;
    let e: i64 = ticket_entries::table.count().get_result(conn)?;
    Ok(t + e)
}

// ---------------------------------------------------------------- companies and contacts

/// Companies: staff-only documents (their notes are internal).
fn company_documents(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<SearchDoc>> {
    let rows: Vec<(i64, String, String, String, NaiveDateTime, NaiveDateTime)> = companies::table
        .filter(companies::id.eq_any(ids))
        .order(companies::id)
        .select((
            companies::id,
            companies::name,
            companies::phone,
            companies::notes,
            companies::created_at,
            companies::updated_at,
        ))
        .load(conn)?;
    let mut domains: HashMap<i64, Vec<String>> = HashMap::new();
    for (c, d) in company_domains::table
        .filter(company_domains::company_id.eq_any(ids))
        .select((company_domains::company_id, company_domains::domain))
        .load::<(i64, String)>(conn)?
    {
        domains.entry(c).or_default().push(d);
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, phone, notes, created, updated)| {
            let doms = domains.remove(&id).unwrap_or_default().join(" ");
            SearchDoc {
                kind: Some(DocKind::Company),
                key: owner_key("company", id),
                owner: owner_key("company", id),
                id,
                subject: name,
                body: [doms.as_str(), phone.as_str(), notes.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n"),
                company_id: Some(id),
                extra: doms,
                created: ts(created),
                updated: ts(updated),
                ..Default::default()
            }
        })
        .collect())
}

fn company_ids(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<i64>> {
    companies::table.filter(companies::id.gt(after)).order(companies::id).limit(limit).select(companies::id).load(conn)
}

fn company_count(conn: &mut DbConn) -> QueryResult<i64> {
    companies::table.count().get_result(conn)
}

/// Contacts: staff-only documents.
fn contact_documents(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<SearchDoc>> {
    type Row = (i64, i64, String, String, String, NaiveDateTime, NaiveDateTime);
    let rows: Vec<Row> = contacts::table
        .filter(contacts::id.eq_any(ids))
        .order(contacts::id)
        .select((
            contacts::id,
            contacts::company_id,
            contacts::name,
            contacts::email,
            contacts::phone,
            contacts::created_at,
            contacts::updated_at,
        ))
        .load(conn)?;
    let names = Names::load(conn, HashSet::new(), HashSet::new(), rows.iter().map(|r| r.1).collect())?;
    Ok(rows
        .into_iter()
        .map(|(id, company, name, email, phone, created, updated)| SearchDoc {
            kind: Some(DocKind::Contact),
            key: owner_key("contact", id),
            owner: owner_key("contact", id),
            id,
            subject: name,
            body: format!("{email} {phone}").trim().to_string(),
            names: names.company(Some(company)),
            authors: vec![format!("contact:{id}")],
            company_id: Some(company),
            extra: email,
            created: ts(created),
            updated: ts(updated),
            ..Default::default()
        })
        .collect())
}

fn contact_ids(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<i64>> {
    contacts::table.filter(contacts::id.gt(after)).order(contacts::id).limit(limit).select(contacts::id).load(conn)
}

fn contact_count(conn: &mut DbConn) -> QueryResult<i64> {
    contacts::table.count().get_result(conn)
}

// ---------------------------------------------------------------- development threads

/// A thread and its comments. Public threads and their public comments are visible to
/// every customer; internal threads and staff notes are staff-only. A thread marked as a
/// duplicate has no documents (it was merged into the surviving thread).
fn dev_thread_documents(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<SearchDoc>> {
    let threads: Vec<DevThread> = dev_threads::table
        .filter(dev_threads::id.eq_any(ids))
        .filter(dev_threads::status.ne(ThreadStatus::Duplicate.as_str()))
        .order(dev_threads::id)
        .select(DevThread::as_select())
        .load(conn)?;
    let live: Vec<i64> = threads.iter().map(|t| t.id).collect();
    let comments: Vec<DevComment> = dev_comments::table
        .filter(dev_comments::thread_id.eq_any(&live))
        .order(dev_comments::id)
        .select(DevComment::as_select())
        .load(conn)?;
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for (t, l) in dev_labels::table
        .filter(dev_labels::thread_id.eq_any(&live))
        .order((dev_labels::thread_id, dev_labels::label))
        .select((dev_labels::thread_id, dev_labels::label))
        .load::<(i64, String)>(conn)?
    {
        labels.entry(t).or_default().push(l);
    }
    let names = Names::load(
        conn,
        comments.iter().filter_map(|c| c.author_user_id).collect(),
        comments.iter().filter_map(|c| c.author_contact_id).collect(),
        HashSet::new(),
    )?;
    let mut out = Vec::with_capacity(threads.len() + comments.len());
    let by_id: HashMap<i64, &DevThread> = threads.iter().map(|t| (t.id, t)).collect();
    let shared_of = |t: &DevThread| {
        format!(
            "{}\u{1}{}\u{1}{}\u{1}{}",
            t.title,
            t.status,
            t.visibility,
            labels.get(&t.id).map(|l| l.join(",")).unwrap_or_default()
        )
    };
    for t in &threads {
        let owner = owner_key("dev_thread", t.id);
        out.push(SearchDoc {
            shared: shared_of(t),
            kind: Some(DocKind::DevThread),
            key: owner.clone(),
            owner,
            id: t.id,
            number: t.id,
            subject: t.title.clone(),
            body: t.description.clone(),
            status: t.status.clone(),
            tags: labels.get(&t.id).cloned().unwrap_or_default(),
            acl: if t.is_public() { vec![ACL_PUBLIC.to_string()] } else { Vec::new() },
            extra: t.kind.clone(),
            created: ts(t.created_at),
            updated: ts(t.last_activity_at),
            ..Default::default()
        });
    }
    for c in &comments {
        let Some(t) = by_id.get(&c.thread_id) else { continue };
        let (author_name, mut author_names, mut authors) = names.author(c.author_user_id, c.author_contact_id, "");
        if c.author_contact_id.is_some() {
            // Customers never learn who else commented: a customer's name must not match.
            author_names.clear();
            authors.clear();
        }
        out.push(SearchDoc {
            shared: shared_of(t),
            kind: Some(DocKind::DevComment),
            key: format!("dev_comment:{}", c.id),
            owner: owner_key("dev_thread", t.id),
            id: c.id,
            number: t.id,
            subject: t.title.clone(),
            body: c.body.clone(),
            names: author_names,
            authors,
            author_name,
            status: t.status.clone(),
            tags: labels.get(&t.id).cloned().unwrap_or_default(),
            acl: if t.is_public() && !c.internal { vec![ACL_PUBLIC.to_string()] } else { Vec::new() },
            extra: if c.internal { "internal".into() } else { String::new() },
            created: ts(c.created_at),
            updated: ts(c.created_at),
            ..Default::default()
        });
    }
    Ok(out)
}

fn dev_thread_ids(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<i64>> {
    dev_threads::table
        .filter(dev_threads::id.gt(after))
        .order(dev_threads::id)
        .limit(limit)
        .select(dev_threads::id)
        .load(conn)
}

fn dev_thread_count(conn: &mut DbConn) -> QueryResult<i64> {
    let t: i64 = dev_threads::table.count().get_result(conn)?;
    let c: i64 = dev_comments::table.count().get_result(conn)?;
    Ok(t + c)
}
