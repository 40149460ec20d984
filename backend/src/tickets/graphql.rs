//! GraphQL types and resolvers for tickets and their thread, time, links and history.

use super::model::{Entry, Event, Link, LinkKind, Priority, Status, Ticket, TimeEntry};
use super::service::{self, NewTicket, ReplyInput, TicketUpdate, TimeInput};
use super::store::{AssigneeFilter, Related, SortField, TicketFilter, TicketSort};
use crate::accounts::graphql::{not_found_as_none, CompanyGql, ContactGql, QueueGql, UserGql};
use crate::connection;
use crate::error::{ServiceError, ServiceResult};
use crate::graphql::{ids, naive, opt_id, page_request, payload, to_id, utc, Ctx, OrField, UserError};
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, GraphQLEnum, GraphQLInputObject, GraphQLObject, ID};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "TicketStatus")]
pub enum StatusGql {
    New,
    Open,
    WaitingOnCustomer,
    WaitingOnThirdParty,
    Resolved,
    Closed,
}

impl From<Status> for StatusGql {
    fn from(s: Status) -> Self {
        match s {
            Status::New => StatusGql::New,
            Status::Open => StatusGql::Open,
            Status::WaitingOnCustomer => StatusGql::WaitingOnCustomer,
            Status::WaitingOnThirdParty => StatusGql::WaitingOnThirdParty,
            Status::Resolved => StatusGql::Resolved,
            Status::Closed => StatusGql::Closed,
        }
    }
}

impl From<StatusGql> for Status {
    fn from(s: StatusGql) -> Self {
        match s {
            StatusGql::New => Status::New,
            StatusGql::Open => Status::Open,
            StatusGql::WaitingOnCustomer => Status::WaitingOnCustomer,
            StatusGql::WaitingOnThirdParty => Status::WaitingOnThirdParty,
            StatusGql::Resolved => Status::Resolved,
            StatusGql::Closed => Status::Closed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "TicketPriority")]
pub enum PriorityGql {
    Low,
    Normal,
    High,
    Urgent,
}

impl From<Priority> for PriorityGql {
    fn from(p: Priority) -> Self {
        match p {
            Priority::Low => PriorityGql::Low,
            Priority::Normal => PriorityGql::Normal,
            Priority::High => PriorityGql::High,
            Priority::Urgent => PriorityGql::Urgent,
        }
    }
}

impl From<PriorityGql> for Priority {
    fn from(p: PriorityGql) -> Self {
        match p {
            PriorityGql::Low => Priority::Low,
            PriorityGql::Normal => Priority::Normal,
            PriorityGql::High => Priority::High,
            PriorityGql::Urgent => Priority::Urgent,
        }
    }
}

/// A ticket, with what its page of results refers to already loaded.
pub struct TicketGql {
    pub t: Ticket,
    pub rel: Arc<Related>,
}

#[graphql_object(name = "Ticket", context = Ctx)]
/// A support case.
impl TicketGql {
    fn id(&self) -> ID {
        to_id(self.t.id)
    }
    /// The human ticket number, as in `[#123]`.
    fn number(&self) -> i32 {
        i32::try_from(self.t.number()).unwrap_or(i32::MAX)
    }
    fn subject(&self) -> &str {
        &self.t.subject
    }
    fn status(&self) -> StatusGql {
        self.t.status().into()
    }
    fn priority(&self) -> PriorityGql {
        self.t.priority().into()
    }
    /// Where the ticket came from: web, api, mail, agent.
    fn source(&self) -> &str {
        &self.t.source
    }
    fn company(&self) -> Option<CompanyGql> {
        self.t.company_id.and_then(|c| self.rel.companies.get(&c)).cloned().map(CompanyGql)
    }
    fn requester(&self) -> Option<ContactGql> {
        self.t.requester_id.and_then(|c| self.rel.contacts.get(&c)).cloned().map(ContactGql)
    }
    /// Staff only.
    fn assignee(&self, ctx: &Ctx) -> FieldResult<Option<UserGql>> {
        service::require_staff_view(&ctx.who).gql()?;
        Ok(self.t.assignee_id.and_then(|u| self.rel.users.get(&u)).cloned().map(UserGql))
    }
    /// Staff only.
    fn queue(&self, ctx: &Ctx) -> FieldResult<Option<QueueGql>> {
        service::require_staff_view(&ctx.who).gql()?;
        Ok(self.rel.queues.get(&self.t.queue_id).cloned().map(QueueGql))
    }
    /// Staff only.
    fn tags(&self, ctx: &Ctx) -> FieldResult<Vec<String>> {
        service::require_staff_view(&ctx.who).gql()?;
        Ok(self.rel.tags.get(&self.t.id).cloned().unwrap_or_default())
    }
    /// The number of the ticket this one was merged into.
    fn merged_into(&self, ctx: &Ctx) -> FieldResult<Option<i32>> {
        service::require_staff_view(&ctx.who).gql()?;
        Ok(self.t.merged_into_id.and_then(|i| i32::try_from(i).ok()))
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.t.created_at)
    }
    fn updated_at(&self) -> DateTime<Utc> {
        utc(self.t.updated_at)
    }
    fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.t.resolved_at.map(utc)
    }
    fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.t.closed_at.map(utc)
    }
    /// Public replies and (for staff) internal notes, oldest first.
    async fn thread(&self, ctx: &Ctx) -> FieldResult<Vec<EntryGql>> {
        let n = self.t.id;
        Ok(ctx.run(move |app, who| service::thread(app, who, n)).await.gql()?.into_iter().map(EntryGql).collect())
    }
    /// Staff only.
    async fn watchers(&self, ctx: &Ctx) -> FieldResult<Vec<WatcherGql>> {
        let n = self.t.id;
        let rows = ctx.run(move |app, who| service::watchers(app, who, n)).await.gql()?;
        Ok(rows
            .into_iter()
            .map(|w| WatcherGql {
                user_id: w.user_id.map(to_id),
                contact_id: w.contact_id.map(to_id),
                name: w.name,
                email: w.email,
            })
            .collect())
    }
    /// Staff only.
    async fn time_entries(&self, ctx: &Ctx) -> FieldResult<Vec<TimeEntryGql>> {
        let n = self.t.id;
        Ok(ctx
            .run(move |app, who| service::time_entries_of(app, who, n))
            .await
            .gql()?
            .into_iter()
            .map(|(t, name)| TimeEntryGql(t, name))
            .collect())
    }
    /// Total minutes logged (staff only).
    async fn minutes_logged(&self, ctx: &Ctx) -> FieldResult<i32> {
        let n = self.t.id;
        let rows = ctx.run(move |app, who| service::time_entries_of(app, who, n)).await.gql()?;
        Ok(i32::try_from(rows.iter().map(|(t, _)| t.minutes).sum::<i64>()).unwrap_or(i32::MAX))
    }
    /// Staff only.
    async fn links(&self, ctx: &Ctx) -> FieldResult<Vec<LinkGql>> {
        let n = self.t.id;
        Ok(ctx
            .run(move |app, who| service::links_of(app, who, n))
            .await
            .gql()?
            .into_iter()
            .map(|l| LinkGql(l, n))
            .collect())
    }
    /// Development threads this ticket was moved into (customers see public ones).
    async fn development_threads(&self, ctx: &Ctx) -> FieldResult<Vec<crate::development::graphql::ThreadGql>> {
        crate::development::graphql::threads_of_ticket(ctx, self.t.id).await
    }
    /// SLA clocks with a target: due time, time left, state (staff; empty for customers).
    async fn sla_clocks(&self, ctx: &Ctx) -> FieldResult<Vec<crate::sla::graphql::SlaClockGql>> {
        crate::sla::graphql::clocks_of_ticket(ctx, self.t.id).await
    }
    /// The next running SLA deadline (staff only; null when no clock runs).
    fn sla_due_at(&self, ctx: &Ctx) -> FieldResult<Option<DateTime<Utc>>> {
        service::require_staff_view(&ctx.who).gql()?;
        Ok(Some(self.t.sla_due_at).filter(|d| *d != crate::sla::model::no_deadline()).map(utc))
    }
    /// Every change, oldest first (staff only).
    async fn events(&self, ctx: &Ctx) -> FieldResult<Vec<EventGql>> {
        let n = self.t.id;
        Ok(ctx
            .run(move |app, who| service::events_of(app, who, n))
            .await
            .gql()?
            .into_iter()
            .map(|e| EventGql(e.event, e.actor_name))
            .collect())
    }
}

pub struct EntryGql(pub service::EntryView);

#[graphql_object(name = "ThreadEntry", context = Ctx)]
/// A public reply or an internal note.
impl EntryGql {
    fn id(&self) -> ID {
        to_id(self.0.entry.id)
    }
    /// True for an internal note (only staff ever see these).
    fn internal(&self) -> bool {
        self.0.entry.is_note()
    }
    fn body(&self) -> &str {
        &self.0.entry.body
    }
    /// Sanitised HTML, when the message arrived as HTML.
    fn body_html(&self) -> Option<&str> {
        self.0.entry.body_html.as_deref()
    }
    fn author_name(&self) -> &str {
        &self.0.author_name
    }
    /// "staff", "contact" or "system".
    fn author_kind(&self) -> &str {
        self.0.author_kind
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.entry.created_at)
    }
}

#[derive(GraphQLObject)]
#[graphql(name = "Watcher")]
pub struct WatcherGql {
    pub user_id: Option<ID>,
    pub contact_id: Option<ID>,
    pub name: String,
    pub email: String,
}

pub struct TimeEntryGql(pub TimeEntry, pub String);

#[graphql_object(name = "TimeEntry", context = Ctx)]
impl TimeEntryGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn minutes(&self) -> i32 {
        i32::try_from(self.0.minutes).unwrap_or(i32::MAX)
    }
    fn billable(&self) -> bool {
        self.0.billable
    }
    fn note(&self) -> &str {
        &self.0.note
    }
    fn user_name(&self) -> &str {
        &self.1
    }
    /// The reply this time was logged with, if any.
    fn entry_id(&self) -> Option<ID> {
        self.0.entry_id.map(to_id)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "TicketLinkKind")]
pub enum LinkKindGql {
    Related,
    DuplicateOf,
    MergedInto,
    FollowUpOf,
}

impl From<LinkKind> for LinkKindGql {
    fn from(k: LinkKind) -> Self {
        match k {
            LinkKind::Related => LinkKindGql::Related,
            LinkKind::DuplicateOf => LinkKindGql::DuplicateOf,
            LinkKind::MergedInto => LinkKindGql::MergedInto,
            LinkKind::FollowUpOf => LinkKindGql::FollowUpOf,
        }
    }
}

impl From<LinkKindGql> for LinkKind {
    fn from(k: LinkKindGql) -> Self {
        match k {
            LinkKindGql::Related => LinkKind::Related,
            LinkKindGql::DuplicateOf => LinkKind::DuplicateOf,
            LinkKindGql::MergedInto => LinkKind::MergedInto,
            LinkKindGql::FollowUpOf => LinkKind::FollowUpOf,
        }
    }
}

/// A link seen from one ticket (the `u64` is that ticket's number).
pub struct LinkGql(pub Link, pub i64);

#[graphql_object(name = "TicketLink", context = Ctx)]
impl LinkGql {
    fn kind(&self) -> LinkKindGql {
        LinkKind::parse(&self.0.kind).unwrap_or(LinkKind::Related).into()
    }
    /// The ticket the link starts from (e.g. the duplicate).
    #[graphql(name = "fromNumber")]
    fn source_number(&self) -> i32 {
        i32::try_from(self.0.ticket_id).unwrap_or(i32::MAX)
    }
    /// The ticket the link points to.
    fn to_number(&self) -> i32 {
        i32::try_from(self.0.other_ticket_id).unwrap_or(i32::MAX)
    }
    /// The ticket at the other end, seen from the ticket asked about.
    fn other_number(&self) -> i32 {
        let other = if self.0.ticket_id == self.1 { self.0.other_ticket_id } else { self.0.ticket_id };
        i32::try_from(other).unwrap_or(i32::MAX)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

pub struct EventGql(pub Event, pub Option<String>);

#[graphql_object(name = "TicketEvent", context = Ctx)]
/// One change in a ticket's history: who, what, when, old → new.
impl EventGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// created, status, priority, assignee, queue, subject, requester, tag_added, tag_removed,
    /// watcher_added, watcher_removed, reply, note, time_logged, linked, merged, merged_into.
    fn kind(&self) -> &str {
        &self.0.kind
    }
    fn old_value(&self) -> Option<&str> {
        self.0.old_value.as_deref()
    }
    fn new_value(&self) -> Option<&str> {
        self.0.new_value.as_deref()
    }
    /// Who made the change; null for the system.
    fn actor_name(&self) -> Option<&str> {
        self.1.as_deref()
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

connection!(TicketConnection, TicketEdge, TicketGql, "A page of tickets.");

// ---------------------------------------------------------------- inputs

#[derive(GraphQLInputObject, Default)]
pub struct TicketFilterInput {
    pub status: Option<Vec<StatusGql>>,
    pub priority: Option<Vec<PriorityGql>>,
    pub company_id: Option<ID>,
    pub requester_id: Option<ID>,
    pub assignee_id: Option<ID>,
    /// Only tickets nobody is assigned to.
    pub unassigned: Option<bool>,
    pub queue_id: Option<ID>,
    pub tag: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Include tickets merged into another (hidden by default).
    pub include_merged: Option<bool>,
    /// Only tickets with a running SLA clock due before this time (staff only).
    pub sla_due_before: Option<DateTime<Utc>>,
}

impl TicketFilterInput {
    fn into_filter(self) -> ServiceResult<TicketFilter> {
        let assignee = match (opt_id("assigneeId", &self.assignee_id)?, self.unassigned.unwrap_or(false)) {
            (Some(_), true) => return Err(ServiceError::invalid("unassigned", "cannot be combined with assigneeId")),
            (Some(u), false) => Some(AssigneeFilter::User(u)),
            (None, true) => Some(AssigneeFilter::Unassigned),
            (None, false) => None,
        };
        Ok(TicketFilter {
            statuses: self.status.unwrap_or_default().into_iter().map(Into::into).collect(),
            priorities: self.priority.unwrap_or_default().into_iter().map(Into::into).collect(),
            company_id: opt_id("companyId", &self.company_id)?,
            requester_id: opt_id("requesterId", &self.requester_id)?,
            assignee,
            queue_id: opt_id("queueId", &self.queue_id)?,
            tag: self.tag.map(|t| service::normalize_tag(&t)),
            created_after: self.created_after.map(naive),
            created_before: self.created_before.map(naive),
            updated_after: self.updated_after.map(naive),
            updated_before: self.updated_before.map(naive),
            include_merged: self.include_merged.unwrap_or(false),
            sla_due_before: self.sla_due_before.map(naive),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum TicketSortField {
    CreatedAt,
    UpdatedAt,
    Priority,
    Number,
    /// The next running SLA deadline (tickets without one last when ascending).
    SlaDueAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(GraphQLInputObject)]
pub struct TicketSortInput {
    pub field: TicketSortField,
    /// Default: descending (newest, most urgent, highest number first).
    pub direction: Option<SortDirection>,
}

impl From<TicketSortInput> for TicketSort {
    fn from(s: TicketSortInput) -> Self {
        let field = match s.field {
            TicketSortField::CreatedAt => SortField::Created,
            TicketSortField::UpdatedAt => SortField::Updated,
            TicketSortField::Priority => SortField::Priority,
            TicketSortField::Number => SortField::Number,
            TicketSortField::SlaDueAt => SortField::SlaDue,
        };
        TicketSort { field, descending: s.direction != Some(SortDirection::Asc) }
    }
}

#[derive(GraphQLInputObject)]
pub struct CreateTicketInput {
    pub subject: String,
    /// The first message of the thread.
    pub body: String,
    /// Staff: open on behalf of this contact (the company follows).
    pub requester_id: Option<ID>,
    pub company_id: Option<ID>,
    pub priority: Option<PriorityGql>,
    pub queue_id: Option<ID>,
    pub assignee_id: Option<ID>,
    pub tags: Option<Vec<String>>,
}

#[derive(GraphQLInputObject)]
pub struct UpdateTicketInput {
    pub number: i32,
    pub subject: Option<String>,
    pub status: Option<StatusGql>,
    pub priority: Option<PriorityGql>,
    pub assignee_id: Option<ID>,
    /// Removes the assignee.
    pub unassign: Option<bool>,
    pub queue_id: Option<ID>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    pub add_tags: Option<Vec<String>>,
    pub remove_tags: Option<Vec<String>>,
    pub add_watcher_user_ids: Option<Vec<ID>>,
    pub remove_watcher_user_ids: Option<Vec<ID>>,
    pub add_watcher_contact_ids: Option<Vec<ID>>,
    pub remove_watcher_contact_ids: Option<Vec<ID>>,
    pub requester_id: Option<ID>,
}

impl UpdateTicketInput {
    fn into_update(self) -> ServiceResult<TicketUpdate> {
        let assignee_id = match (opt_id("assigneeId", &self.assignee_id)?, self.unassign.unwrap_or(false)) {
            (Some(_), true) => return Err(ServiceError::invalid("unassign", "cannot be combined with assigneeId")),
            (Some(a), false) => Some(Some(a)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        Ok(TicketUpdate {
            subject: self.subject,
            status: self.status.map(Into::into),
            priority: self.priority.map(Into::into),
            assignee_id,
            queue_id: opt_id("queueId", &self.queue_id)?,
            tags: self.tags,
            add_tags: self.add_tags.unwrap_or_default(),
            remove_tags: self.remove_tags.unwrap_or_default(),
            add_watcher_users: ids("addWatcherUserIds", &self.add_watcher_user_ids)?,
            remove_watcher_users: ids("removeWatcherUserIds", &self.remove_watcher_user_ids)?,
            add_watcher_contacts: ids("addWatcherContactIds", &self.add_watcher_contact_ids)?,
            remove_watcher_contacts: ids("removeWatcherContactIds", &self.remove_watcher_contact_ids)?,
            requester_id: opt_id("requesterId", &self.requester_id)?,
        })
    }
}

#[derive(GraphQLInputObject)]
pub struct AddReplyInput {
    pub number: i32,
    pub body: String,
    /// Staff: set the status with the reply (e.g. WAITING_ON_CUSTOMER).
    pub status: Option<StatusGql>,
    /// Staff: log time with the reply.
    pub minutes: Option<i32>,
    pub billable: Option<bool>,
}

#[derive(GraphQLInputObject)]
pub struct AddInternalNoteInput {
    pub number: i32,
    pub body: String,
}

#[derive(GraphQLInputObject)]
pub struct LogTimeInput {
    pub number: i32,
    pub minutes: i32,
    pub billable: Option<bool>,
    pub note: Option<String>,
    /// Tie the time to a reply of this ticket.
    pub entry_id: Option<ID>,
}

#[derive(GraphQLInputObject)]
pub struct LinkTicketsInput {
    pub number: i32,
    pub other_number: i32,
    /// RELATED or DUPLICATE_OF (this ticket is a duplicate of the other).
    pub kind: LinkKindGql,
}

#[derive(GraphQLInputObject)]
pub struct MergeTicketsInput {
    /// The ticket that goes away.
    pub source_number: i32,
    /// The ticket that remains.
    pub target_number: i32,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct TicketPayload {
    pub ticket: Option<TicketGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct EntryPayload {
    pub entry: Option<EntryGql>,
    /// The ticket the message was filed on (a reply to a closed ticket opens a follow-up).
    pub ticket: Option<TicketGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct TimeEntryPayload {
    pub time_entry: Option<TimeEntryGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct LinkPayload {
    pub link: Option<LinkGql>,
    pub errors: Vec<UserError>,
}

// ---------------------------------------------------------------- resolvers (called from root.rs)

async fn load(ctx: &Ctx, number: i64) -> FieldResult<Option<TicketGql>> {
    let r = ctx.run(move |app, who| service::get_with_related(app, who, number)).await;
    Ok(not_found_as_none(r)?.map(|(t, rel)| TicketGql { t, rel: Arc::new(rel) }))
}

pub async fn ticket(ctx: &Ctx, number: i32) -> FieldResult<Option<TicketGql>> {
    load(ctx, i64::from(number)).await
}

pub async fn tickets(
    ctx: &Ctx,
    count: bool,
    filter: Option<TicketFilterInput>,
    sort: Option<TicketSortInput>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<TicketConnection> {
    let mut req = page_request(first, after)?;
    req.count = count;
    let sort: TicketSort = sort.map(Into::into).unwrap_or_default();
    let filter = filter.unwrap_or_default().into_filter().gql()?;
    let result = ctx.run(move |app, who| service::list(app, who, &filter, sort, &req)).await.gql()?;
    let rel = Arc::new(result.related);
    Ok(TicketConnection::from_page(result.page, |t| TicketGql { t, rel: rel.clone() }))
}

async fn ticket_payload(ctx: &Ctx, r: ServiceResult<Ticket>) -> FieldResult<TicketPayload> {
    let (t, errors) = payload(r)?;
    let ticket = match t {
        Some(t) => load(ctx, t.id).await?,
        None => None,
    };
    Ok(TicketPayload { ticket, errors })
}

pub async fn create_ticket(ctx: &Ctx, input: CreateTicketInput) -> FieldResult<TicketPayload> {
    let r = ctx
        .run(move |app, who| {
            let new = NewTicket {
                subject: input.subject,
                body: input.body,
                requester_id: opt_id("requesterId", &input.requester_id)?,
                company_id: opt_id("companyId", &input.company_id)?,
                priority: input.priority.map(Into::into),
                queue_id: opt_id("queueId", &input.queue_id)?,
                assignee_id: opt_id("assigneeId", &input.assignee_id)?,
                tags: input.tags.unwrap_or_default(),
                source: "api".into(),
            };
            service::create(app, who, new)
        })
        .await;
    ticket_payload(ctx, r).await
}

pub async fn update_ticket(ctx: &Ctx, input: UpdateTicketInput) -> FieldResult<TicketPayload> {
    let r = ctx
        .run(move |app, who| {
            let number = i64::from(input.number);
            service::update(app, who, number, input.into_update()?)
        })
        .await;
    ticket_payload(ctx, r).await
}

pub async fn add_reply(ctx: &Ctx, input: AddReplyInput) -> FieldResult<EntryPayload> {
    let r = ctx
        .run(move |app, who| {
            let reply = ReplyInput {
                body: input.body,
                body_html: None,
                status: input.status.map(Into::into),
                minutes: input.minutes.map(i64::from),
                billable: input.billable.unwrap_or(false),
            };
            let (filed, _) = service::add_reply(app, who, i64::from(input.number), reply)?;
            let views = service::thread(app, who, filed.ticket_id)?;
            let view =
                views.into_iter().find(|v| v.entry.id == filed.entry_id).ok_or(ServiceError::NotFound("message"))?;
            Ok((filed.ticket_id, view))
        })
        .await;
    let (v, errors) = payload(r)?;
    Ok(match v {
        Some((ticket_id, view)) => {
            EntryPayload { entry: Some(EntryGql(view)), ticket: load(ctx, ticket_id).await?, errors }
        }
        None => EntryPayload { entry: None, ticket: None, errors },
    })
}

pub async fn add_internal_note(ctx: &Ctx, input: AddInternalNoteInput) -> FieldResult<EntryPayload> {
    let r = ctx
        .run(move |app, who| {
            let entry: Entry = service::add_note(app, who, i64::from(input.number), &input.body)?;
            let views = service::thread(app, who, entry.ticket_id)?;
            let view = views.into_iter().find(|v| v.entry.id == entry.id).ok_or(ServiceError::NotFound("message"))?;
            Ok((entry.ticket_id, view))
        })
        .await;
    let (v, errors) = payload(r)?;
    Ok(match v {
        Some((ticket_id, view)) => {
            EntryPayload { entry: Some(EntryGql(view)), ticket: load(ctx, ticket_id).await?, errors }
        }
        None => EntryPayload { entry: None, ticket: None, errors },
    })
}

pub async fn log_time(ctx: &Ctx, input: LogTimeInput) -> FieldResult<TimeEntryPayload> {
    let r = ctx
        .run(move |app, who| {
            let t = TimeInput {
                minutes: i64::from(input.minutes),
                billable: input.billable.unwrap_or(false),
                note: input.note.unwrap_or_default(),
                entry_id: opt_id("entryId", &input.entry_id)?,
            };
            let entry = service::log_time(app, who, i64::from(input.number), t)?;
            let name = who.user_id().map(|_| match who {
                crate::accounts::auth::Principal::Staff(s) => s.name.clone(),
                _ => String::new(),
            });
            Ok(TimeEntryGql(entry, name.unwrap_or_default()))
        })
        .await;
    let (time_entry, errors) = payload(r)?;
    Ok(TimeEntryPayload { time_entry, errors })
}

pub async fn link_tickets(ctx: &Ctx, input: LinkTicketsInput) -> FieldResult<LinkPayload> {
    let number = i64::from(input.number);
    let r = ctx
        .run(move |app, who| service::link(app, who, number, i64::from(input.other_number), input.kind.into()))
        .await;
    let (link, errors) = payload(r)?;
    Ok(LinkPayload { link: link.map(|l| LinkGql(l, number)), errors })
}

pub async fn merge_tickets(ctx: &Ctx, input: MergeTicketsInput) -> FieldResult<TicketPayload> {
    let r = ctx
        .run(move |app, who| service::merge(app, who, i64::from(input.source_number), i64::from(input.target_number)))
        .await;
    ticket_payload(ctx, r).await
}
