//! GraphQL for development threads: products, releases, threads, votes, subscriptions,
//! joining by shortcut, moving a ticket into Development, and marking a release released.

use super::model::{DevThread, Product, Release, ReleaseStatus, ThreadKind, ThreadStatus, Visibility};
use super::service::{self, MoveInput, ReleaseInput, ThreadFilter, ThreadInput, ThreadSort};
use crate::connection;
use crate::graphql::{id_arg, opt_id, page_request, payload, to_id, utc, Ctx, OrField, UserError};
use crate::tickets::graphql::TicketGql;
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, GraphQLEnum, GraphQLInputObject, GraphQLObject, ID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "ThreadKind")]
pub enum KindGql {
    Bug,
    Feature,
}

impl From<KindGql> for ThreadKind {
    fn from(k: KindGql) -> Self {
        match k {
            KindGql::Bug => ThreadKind::Bug,
            KindGql::Feature => ThreadKind::Feature,
        }
    }
}

impl From<ThreadKind> for KindGql {
    fn from(k: ThreadKind) -> Self {
        match k {
            ThreadKind::Bug => KindGql::Bug,
            ThreadKind::Feature => KindGql::Feature,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "ThreadStatus")]
pub enum ThreadStatusGql {
    New,
    Triaged,
    Planned,
    InProgress,
    Fixed,
    Released,
    Declined,
    Duplicate,
}

impl From<ThreadStatusGql> for ThreadStatus {
    fn from(s: ThreadStatusGql) -> Self {
        match s {
            ThreadStatusGql::New => ThreadStatus::New,
            ThreadStatusGql::Triaged => ThreadStatus::Triaged,
            ThreadStatusGql::Planned => ThreadStatus::Planned,
            ThreadStatusGql::InProgress => ThreadStatus::InProgress,
            ThreadStatusGql::Fixed => ThreadStatus::Fixed,
            ThreadStatusGql::Released => ThreadStatus::Released,
            ThreadStatusGql::Declined => ThreadStatus::Declined,
            ThreadStatusGql::Duplicate => ThreadStatus::Duplicate,
        }
    }
}

impl From<ThreadStatus> for ThreadStatusGql {
    fn from(s: ThreadStatus) -> Self {
        match s {
            ThreadStatus::New => ThreadStatusGql::New,
            ThreadStatus::Triaged => ThreadStatusGql::Triaged,
            ThreadStatus::Planned => ThreadStatusGql::Planned,
            ThreadStatus::InProgress => ThreadStatusGql::InProgress,
            ThreadStatus::Fixed => ThreadStatusGql::Fixed,
            ThreadStatus::Released => ThreadStatusGql::Released,
            ThreadStatus::Declined => ThreadStatusGql::Declined,
            ThreadStatus::Duplicate => ThreadStatusGql::Duplicate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "ThreadVisibility")]
pub enum VisibilityGql {
    /// Every customer can read it.
    Public,
    /// Staff only.
    Internal,
}

impl From<VisibilityGql> for Visibility {
    fn from(v: VisibilityGql) -> Self {
        match v {
            VisibilityGql::Public => Visibility::Public,
            VisibilityGql::Internal => Visibility::Internal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "ReleaseStatus")]
pub enum ReleaseStatusGql {
    Planned,
    Beta,
    Released,
}

impl From<ReleaseStatusGql> for ReleaseStatus {
    fn from(s: ReleaseStatusGql) -> Self {
        match s {
            ReleaseStatusGql::Planned => ReleaseStatus::Planned,
            ReleaseStatusGql::Beta => ReleaseStatus::Beta,
            ReleaseStatusGql::Released => ReleaseStatus::Released,
        }
    }
}

impl From<ReleaseStatus> for ReleaseStatusGql {
    fn from(s: ReleaseStatus) -> Self {
        match s {
            ReleaseStatus::Planned => ReleaseStatusGql::Planned,
            ReleaseStatus::Beta => ReleaseStatusGql::Beta,
            ReleaseStatus::Released => ReleaseStatusGql::Released,
        }
    }
}

pub struct ProductGql(pub Product);

#[graphql_object(name = "Product", context = Ctx)]
impl ProductGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    fn description(&self) -> &str {
        &self.0.description
    }
    async fn releases(&self, ctx: &Ctx) -> FieldResult<Vec<ReleaseGql>> {
        let id = self.0.id;
        Ok(ctx
            .run(move |app, who| service::list_releases(app, who, Some(id)))
            .await
            .gql()?
            .into_iter()
            .map(ReleaseGql)
            .collect())
    }
}

pub struct ReleaseGql(pub Release);

#[graphql_object(name = "Release", context = Ctx)]
/// A release of a product: a version and a build number, e.g. "2.0 beta", build "1.9.21".
impl ReleaseGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn version(&self) -> &str {
        &self.0.version
    }
    fn build(&self) -> &str {
        &self.0.build
    }
    fn status(&self) -> ReleaseStatusGql {
        self.0.status().into()
    }
    fn release_date(&self) -> Option<DateTime<Utc>> {
        self.0.release_date.map(utc)
    }
    fn notes(&self) -> &str {
        &self.0.notes
    }
    async fn product(&self, ctx: &Ctx) -> FieldResult<ProductGql> {
        let id = self.0.product_id;
        ctx.run(move |app, who| service::get_product(app, who, id)).await.gql().map(ProductGql)
    }
}

pub struct ThreadGql(pub DevThread);

#[graphql_object(name = "DevThread", context = Ctx)]
/// A bug report or feature request in Development.
impl ThreadGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn kind(&self) -> KindGql {
        self.0.kind().into()
    }
    fn title(&self) -> &str {
        &self.0.title
    }
    fn description(&self) -> &str {
        &self.0.description
    }
    fn status(&self) -> ThreadStatusGql {
        self.0.status().into()
    }
    fn visibility(&self) -> VisibilityGql {
        if self.0.is_public() {
            VisibilityGql::Public
        } else {
            VisibilityGql::Internal
        }
    }
    /// The short, unguessable code customers join with.
    fn shortcut(&self) -> &str {
        &self.0.shortcut
    }
    /// The link to share: following it joins the thread.
    fn join_url(&self, ctx: &Ctx) -> String {
        format!("{}/dev/j/{}", ctx.app.config.public_url, self.0.shortcut)
    }
    fn vote_count(&self) -> i32 {
        i32::try_from(self.0.vote_count).unwrap_or(i32::MAX)
    }
    fn subscriber_count(&self) -> i32 {
        i32::try_from(self.0.subscriber_count).unwrap_or(i32::MAX)
    }
    /// The thread this one duplicates (its votes and subscribers moved there).
    fn duplicate_of_id(&self) -> Option<ID> {
        self.0.duplicate_of_id.map(to_id)
    }
    async fn product(&self, ctx: &Ctx) -> FieldResult<ProductGql> {
        let id = self.0.product_id;
        ctx.run(move |app, who| service::get_product(app, who, id)).await.gql().map(ProductGql)
    }
    /// The build a bug was found in.
    async fn affected_release(&self, ctx: &Ctx) -> FieldResult<Option<ReleaseGql>> {
        let Some(id) = self.0.affected_release_id else { return Ok(None) };
        ctx.run(move |app, who| service::get_release(app, who, id)).await.gql().map(|r| Some(ReleaseGql(r)))
    }
    /// The build that fixes it.
    async fn fixed_in(&self, ctx: &Ctx) -> FieldResult<Option<ReleaseGql>> {
        let Some(id) = self.0.fixed_in_release_id else { return Ok(None) };
        ctx.run(move |app, who| service::get_release(app, who, id)).await.gql().map(|r| Some(ReleaseGql(r)))
    }
    async fn labels(&self, ctx: &Ctx) -> FieldResult<Vec<String>> {
        let id = self.0.id;
        ctx.run(move |app, who| service::labels_of(app, who, id)).await.gql()
    }
    /// Public comments, and for staff the staff-only notes.
    async fn comments(&self, ctx: &Ctx) -> FieldResult<Vec<CommentGql>> {
        let id = self.0.id;
        Ok(ctx.run(move |app, who| service::comments(app, who, id)).await.gql()?.into_iter().map(CommentGql).collect())
    }
    /// Whether you voted.
    async fn viewer_has_voted(&self, ctx: &Ctx) -> FieldResult<bool> {
        let id = self.0.id;
        Ok(ctx.run(move |app, who| service::my_standing(app, who, id)).await.gql()?.0)
    }
    /// Whether you follow it.
    async fn viewer_is_subscribed(&self, ctx: &Ctx) -> FieldResult<bool> {
        let id = self.0.id;
        Ok(ctx.run(move |app, who| service::my_standing(app, who, id)).await.gql()?.1)
    }
    /// Who voted (staff only).
    async fn voters(&self, ctx: &Ctx) -> FieldResult<Vec<String>> {
        let id = self.0.id;
        ctx.run(move |app, who| service::voters(app, who, id)).await.gql()
    }
    /// Who follows (staff only).
    async fn subscribers(&self, ctx: &Ctx) -> FieldResult<Vec<String>> {
        let id = self.0.id;
        ctx.run(move |app, who| service::subscriber_names(app, who, id)).await.gql()
    }
    /// Support tickets moved into this thread (staff only).
    async fn ticket_numbers(&self, ctx: &Ctx) -> FieldResult<Vec<i32>> {
        let id = self.0.id;
        Ok(ctx
            .run(move |app, who| service::linked_tickets(app, who, id))
            .await
            .gql()?
            .into_iter()
            .filter_map(|n| i32::try_from(n).ok())
            .collect())
    }
    fn last_activity_at(&self) -> DateTime<Utc> {
        utc(self.0.last_activity_at)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

pub struct CommentGql(pub service::CommentView);

#[graphql_object(name = "DevComment", context = Ctx)]
impl CommentGql {
    fn id(&self) -> ID {
        to_id(self.0.comment.id)
    }
    fn body(&self) -> &str {
        &self.0.comment.body
    }
    /// A staff-only note.
    fn internal(&self) -> bool {
        self.0.comment.internal
    }
    fn author_name(&self) -> &str {
        &self.0.author_name
    }
    fn author_kind(&self) -> &str {
        self.0.author_kind
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.comment.created_at)
    }
}

connection!(DevThreadConnection, DevThreadEdge, ThreadGql, "A page of development threads.");

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum DevThreadSort {
    /// Most votes first.
    Votes,
    /// Most recently active first.
    Activity,
    /// By status, then votes.
    Status,
}

#[derive(GraphQLInputObject, Default)]
pub struct DevThreadFilter {
    pub kind: Option<KindGql>,
    pub status: Option<Vec<ThreadStatusGql>>,
    pub product_id: Option<ID>,
    pub label: Option<String>,
    /// Only threads you follow.
    pub subscribed: Option<bool>,
    /// Part of the title.
    pub search: Option<String>,
}

#[derive(GraphQLInputObject)]
pub struct DevThreadFields {
    pub kind: Option<KindGql>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub product_id: Option<ID>,
    pub affected_release_id: Option<ID>,
    pub visibility: Option<VisibilityGql>,
    pub labels: Option<Vec<String>>,
    pub owner_id: Option<ID>,
    /// Removes the owner.
    pub clear_owner: Option<bool>,
    pub status: Option<ThreadStatusGql>,
    /// With status FIXED: the build that fixes it.
    pub fixed_in_release_id: Option<ID>,
}

impl DevThreadFields {
    fn into_input(self) -> crate::error::ServiceResult<ThreadInput> {
        let owner = match (opt_id("ownerId", &self.owner_id)?, self.clear_owner.unwrap_or(false)) {
            (Some(o), false) => Some(Some(o)),
            (None, true) => Some(None),
            (Some(_), true) => {
                return Err(crate::error::ServiceError::invalid("clearOwner", "cannot be combined with ownerId"))
            }
            (None, false) => None,
        };
        Ok(ThreadInput {
            kind: self.kind.map(Into::into),
            title: self.title,
            description: self.description,
            product_id: opt_id("productId", &self.product_id)?,
            affected_release_id: opt_id("affectedReleaseId", &self.affected_release_id)?,
            visibility: self.visibility.map(Into::into),
            labels: self.labels,
            owner_user_id: owner,
            status: self.status.map(Into::into),
            fixed_in_release_id: opt_id("fixedInReleaseId", &self.fixed_in_release_id)?,
        })
    }
}

#[derive(GraphQLInputObject)]
pub struct ReleaseFields {
    pub product_id: Option<ID>,
    pub version: Option<String>,
    pub build: Option<String>,
    pub status: Option<ReleaseStatusGql>,
    pub notes: Option<String>,
}

impl ReleaseFields {
    fn into_input(self) -> crate::error::ServiceResult<ReleaseInput> {
        Ok(ReleaseInput {
            product_id: opt_id("productId", &self.product_id)?,
            version: self.version,
            build: self.build,
            status: self.status.map(Into::into),
            notes: self.notes,
        })
    }
}

#[derive(GraphQLInputObject)]
pub struct MoveTicketInput {
    pub number: i32,
    /// Attach the ticket to this existing thread…
    pub thread_id: Option<ID>,
    /// …or create a new thread from it (title and description default to the ticket's).
    pub new_thread: Option<DevThreadFields>,
    /// Resolve the ticket once it points to the thread.
    pub resolve: Option<bool>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct ProductPayload {
    pub product: Option<ProductGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct ReleasePayload {
    pub release: Option<ReleaseGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct DevThreadPayload {
    pub thread: Option<ThreadGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct DevCommentPayload {
    pub comment: Option<CommentGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct MoveTicketPayload {
    pub thread: Option<ThreadGql>,
    pub ticket: Option<TicketGql>,
    pub errors: Vec<UserError>,
}

// ---------------------------------------------------------------- resolvers (called from root.rs)

pub async fn products(ctx: &Ctx) -> FieldResult<Vec<ProductGql>> {
    Ok(ctx.run(service::list_products).await.gql()?.into_iter().map(ProductGql).collect())
}

pub async fn releases(ctx: &Ctx, product_id: Option<ID>) -> FieldResult<Vec<ReleaseGql>> {
    let rows =
        ctx.run(move |app, who| service::list_releases(app, who, opt_id("productId", &product_id)?)).await.gql()?;
    Ok(rows.into_iter().map(ReleaseGql).collect())
}

pub async fn dev_thread(ctx: &Ctx, id: Option<ID>, shortcut: Option<String>) -> FieldResult<Option<ThreadGql>> {
    let r = ctx
        .run(move |app, who| match (id, shortcut) {
            (Some(id), _) => service::get_thread(app, who, id_arg("id", &id)?),
            (None, Some(s)) => service::get_by_shortcut(app, who, &s),
            (None, None) => Err(crate::error::ServiceError::invalid("id", "give an id or a shortcut")),
        })
        .await;
    Ok(crate::accounts::graphql::not_found_as_none(r)?.map(ThreadGql))
}

pub async fn dev_threads(
    ctx: &Ctx,
    count: bool,
    filter: Option<DevThreadFilter>,
    sort: Option<DevThreadSort>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<DevThreadConnection> {
    let mut req = page_request(first, after)?;
    req.count = count;
    let f = filter.unwrap_or_default();
    let sort = match sort.unwrap_or(DevThreadSort::Votes) {
        DevThreadSort::Votes => ThreadSort::Votes,
        DevThreadSort::Activity => ThreadSort::Activity,
        DevThreadSort::Status => ThreadSort::Status,
    };
    let page = ctx
        .run(move |app, who| {
            let filter = ThreadFilter {
                kind: f.kind.map(Into::into),
                statuses: f.status.unwrap_or_default().into_iter().map(Into::into).collect(),
                product_id: opt_id("productId", &f.product_id)?,
                label: f.label,
                subscribed: f.subscribed.unwrap_or(false),
                search: f.search,
            };
            service::list_threads(app, who, &filter, sort, &req)
        })
        .await
        .gql()?;
    Ok(DevThreadConnection::from_page(page, ThreadGql))
}

/// The development threads a ticket was moved into (for the Ticket type).
pub async fn threads_of_ticket(ctx: &Ctx, number: i64) -> FieldResult<Vec<ThreadGql>> {
    Ok(ctx
        .run(move |app, who| service::threads_of_ticket(app, who, number))
        .await
        .gql()?
        .into_iter()
        .map(ThreadGql)
        .collect())
}

pub async fn create_product(ctx: &Ctx, name: String, description: Option<String>) -> FieldResult<ProductPayload> {
    let (product, errors) = payload(
        ctx.run(move |app, who| service::create_product(app, who, &name, description.as_deref().unwrap_or(""))).await,
    )?;
    Ok(ProductPayload { product: product.map(ProductGql), errors })
}

pub async fn create_release(ctx: &Ctx, input: ReleaseFields) -> FieldResult<ReleasePayload> {
    let (release, errors) =
        payload(ctx.run(move |app, who| service::create_release(app, who, input.into_input()?)).await)?;
    Ok(ReleasePayload { release: release.map(ReleaseGql), errors })
}

pub async fn update_release(ctx: &Ctx, id: ID, input: ReleaseFields) -> FieldResult<ReleasePayload> {
    let (release, errors) = payload(
        ctx.run(move |app, who| service::update_release(app, who, id_arg("id", &id)?, input.into_input()?)).await,
    )?;
    Ok(ReleasePayload { release: release.map(ReleaseGql), errors })
}

pub async fn mark_release_released(ctx: &Ctx, id: ID) -> FieldResult<ReleasePayload> {
    let (release, errors) =
        payload(ctx.run(move |app, who| service::mark_released(app, who, id_arg("id", &id)?)).await)?;
    Ok(ReleasePayload { release: release.map(ReleaseGql), errors })
}

async fn thread_payload(
    ctx: &Ctx,
    f: impl FnOnce(&crate::app::App, &crate::accounts::auth::Principal) -> crate::error::ServiceResult<DevThread>
        + Send
        + 'static,
) -> FieldResult<DevThreadPayload> {
    let (thread, errors) = payload(ctx.run(f).await)?;
    Ok(DevThreadPayload { thread: thread.map(ThreadGql), errors })
}

pub async fn create_dev_thread(ctx: &Ctx, input: DevThreadFields) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::create_thread(app, who, input.into_input()?)).await
}

pub async fn update_dev_thread(ctx: &Ctx, id: ID, input: DevThreadFields) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::update_thread(app, who, id_arg("id", &id)?, input.into_input()?)).await
}

pub async fn vote_thread(ctx: &Ctx, id: ID) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::vote(app, who, id_arg("id", &id)?)).await
}

pub async fn unvote_thread(ctx: &Ctx, id: ID) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::unvote(app, who, id_arg("id", &id)?)).await
}

pub async fn subscribe_thread(ctx: &Ctx, id: ID) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::subscribe(app, who, id_arg("id", &id)?)).await
}

pub async fn unsubscribe_thread(ctx: &Ctx, id: ID) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::unsubscribe(app, who, id_arg("id", &id)?)).await
}

pub async fn join_thread(ctx: &Ctx, shortcut: String) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| service::join_by_shortcut(app, who, &shortcut)).await
}

pub async fn mark_thread_duplicate(ctx: &Ctx, id: ID, survivor_id: ID) -> FieldResult<DevThreadPayload> {
    thread_payload(ctx, move |app, who| {
        service::mark_duplicate(app, who, id_arg("id", &id)?, id_arg("survivorId", &survivor_id)?)
    })
    .await
}

pub async fn add_dev_comment(
    ctx: &Ctx,
    id: ID,
    body: String,
    internal: Option<bool>,
) -> FieldResult<DevCommentPayload> {
    let r = ctx
        .run(move |app, who| {
            let thread = id_arg("id", &id)?;
            let c = service::add_comment(app, who, thread, &body, internal.unwrap_or(false))?;
            let view = service::comments(app, who, thread)?
                .into_iter()
                .find(|v| v.comment.id == c.id)
                .ok_or(crate::error::ServiceError::NotFound("comment"))?;
            Ok(view)
        })
        .await;
    let (comment, errors) = payload(r)?;
    Ok(DevCommentPayload { comment: comment.map(CommentGql), errors })
}

pub async fn move_ticket_to_development(ctx: &Ctx, input: MoveTicketInput) -> FieldResult<MoveTicketPayload> {
    let r = ctx
        .run(move |app, who| {
            let m = MoveInput {
                number: i64::from(input.number),
                thread_id: opt_id("threadId", &input.thread_id)?,
                new_thread: input.new_thread.map(|t| t.into_input()).transpose()?,
                resolve: input.resolve.unwrap_or(false),
            };
            service::move_ticket(app, who, m)
        })
        .await;
    let (v, errors) = payload(r)?;
    Ok(match v {
        Some((thread, ticket)) => MoveTicketPayload {
            thread: Some(ThreadGql(thread)),
            ticket: crate::tickets::graphql::ticket(ctx, i32::try_from(ticket).unwrap_or(i32::MAX)).await?,
            errors,
        },
        None => MoveTicketPayload { thread: None, ticket: None, errors },
    })
}
