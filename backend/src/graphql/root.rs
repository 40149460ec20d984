//! The Query and Mutation roots. Each field delegates in one line to its feature.

use super::Ctx;
use crate::accounts::graphql as accounts;
use crate::assets::graphql as assets;
use crate::audit::graphql as audit;
use crate::development::graphql as development;
use crate::mail::graphql as mail;
use crate::notifications::graphql as notifications;
use crate::sla::graphql as sla;
use crate::tickets::graphql as tickets;
use chrono::{DateTime, Utc};
use juniper::{graphql_object, Executor, FieldResult, ID};

pub struct Query;

#[graphql_object(context = Ctx, scalar = juniper::DefaultScalarValue)]
impl Query {
    /// Who is signed in; null without credentials.
    fn viewer(ctx: &Ctx) -> Option<accounts::Viewer> {
        accounts::viewer(ctx)
    }
    /// A ticket by its number; null when it does not exist or is not yours to see.
    async fn ticket(ctx: &Ctx, number: i32) -> FieldResult<Option<tickets::TicketGql>> {
        tickets::ticket(ctx, number).await
    }
    /// Tickets you may see, filtered and sorted (default: newest first). At most 100 a page.
    async fn tickets(
        ctx: &Ctx,
        executor: &Executor<'_, '_, Ctx>,
        filter: Option<tickets::TicketFilterInput>,
        sort: Option<tickets::TicketSortInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<tickets::TicketConnection> {
        tickets::tickets(ctx, super::wants_total(executor), filter, sort, first, after).await
    }
    async fn company(ctx: &Ctx, id: ID) -> FieldResult<Option<accounts::CompanyGql>> {
        accounts::company(ctx, id).await
    }
    /// Companies by name; `search` matches part of the name.
    async fn companies(
        ctx: &Ctx,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<accounts::CompanyConnection> {
        accounts::companies(ctx, search, first, after).await
    }
    async fn contact(ctx: &Ctx, id: ID) -> FieldResult<Option<accounts::ContactGql>> {
        accounts::contact(ctx, id).await
    }
    /// Contacts by name; `search` matches part of the name or email.
    async fn contacts(
        ctx: &Ctx,
        company_id: Option<ID>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<accounts::ContactConnection> {
        accounts::contacts(ctx, company_id, search, first, after).await
    }
    async fn user(ctx: &Ctx, id: ID) -> FieldResult<Option<accounts::UserGql>> {
        accounts::user(ctx, id).await
    }
    /// Staff users (staff only).
    async fn users(
        ctx: &Ctx,
        include_inactive: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<accounts::UserConnection> {
        accounts::users(ctx, include_inactive, first, after).await
    }
    /// Queues (staff only).
    async fn queues(ctx: &Ctx) -> FieldResult<Vec<accounts::QueueGql>> {
        accounts::queues(ctx).await
    }
    /// Your notifications, newest first.
    async fn notifications(
        ctx: &Ctx,
        unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<notifications::NotificationConnection> {
        notifications::notifications(ctx, unread_only, first, after).await
    }
    /// The audit log of administrative actions (admins only).
    async fn audit_log(
        ctx: &Ctx,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<audit::AuditEntryConnection> {
        audit::audit_log(ctx, first, after).await
    }
    /// Products (with their releases) that Development threads belong to.
    async fn products(ctx: &Ctx) -> FieldResult<Vec<development::ProductGql>> {
        development::products(ctx).await
    }
    async fn releases(ctx: &Ctx, product_id: Option<ID>) -> FieldResult<Vec<development::ReleaseGql>> {
        development::releases(ctx, product_id).await
    }
    /// A development thread by id or by its shortcut.
    async fn dev_thread(
        ctx: &Ctx,
        id: Option<ID>,
        shortcut: Option<String>,
    ) -> FieldResult<Option<development::ThreadGql>> {
        development::dev_thread(ctx, id, shortcut).await
    }
    /// Bug reports and feature requests (customers see public ones), by votes, activity or status.
    async fn dev_threads(
        ctx: &Ctx,
        executor: &Executor<'_, '_, Ctx>,
        filter: Option<development::DevThreadFilter>,
        sort: Option<development::DevThreadSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<development::DevThreadConnection> {
        development::dev_threads(ctx, super::wants_total(executor), filter, sort, first, after).await
    }
    /// Full-text search over everything you may see: words, "phrases", field:value,
    /// -exclude, OR, date ranges (created:>2026-01-01, updated:<7d). At most 100 a page.
    async fn search(
        ctx: &Ctx,
        query: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<crate::search::graphql::SearchConnection> {
        crate::search::graphql::search(ctx, query, first, after).await
    }
    /// Your API tokens; with `all`, everyone's (admins only).
    async fn api_tokens(ctx: &Ctx, all: Option<bool>) -> FieldResult<Vec<accounts::ApiTokenGql>> {
        accounts::api_tokens(ctx, all).await
    }
    /// SLA policies, the default first (staff only).
    async fn sla_policies(ctx: &Ctx) -> FieldResult<Vec<sla::PolicyGql>> {
        sla::policies(ctx).await
    }
    /// Business-hours calendars (staff only).
    async fn sla_calendars(ctx: &Ctx) -> FieldResult<Vec<sla::CalendarGql>> {
        sla::calendars(ctx).await
    }
    /// Met and breached SLA clocks in [from, to) per company and technician (admins only).
    async fn sla_breach_report(ctx: &Ctx, from: DateTime<Utc>, to: DateTime<Utc>) -> FieldResult<sla::BreachReportGql> {
        sla::breach_report(ctx, from, to).await
    }
    /// Held, rejected and dropped inbound mail, newest first (admins).
    async fn mail_quarantine(
        ctx: &Ctx,
        include_resolved: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<mail::MailMessageConnection> {
        mail::quarantine(ctx, include_resolved, first, after).await
    }
    /// Every mail message received or sent on a ticket, oldest first (staff).
    async fn ticket_mail(ctx: &Ctx, number: i32) -> FieldResult<Vec<mail::MailMessageGql>> {
        mail::ticket_mail(ctx, number).await
    }
    /// Files that came by mail on a ticket you may see.
    async fn ticket_attachments(ctx: &Ctx, number: i32) -> FieldResult<Vec<mail::AttachmentGql>> {
        mail::ticket_attachments(ctx, number).await
    }
    /// Recipient address → queue routes for inbound mail (admins).
    async fn mail_routes(ctx: &Ctx) -> FieldResult<Vec<mail::MailRoute>> {
        mail::mail_routes(ctx).await
    }
    /// Whether mail to this address hard-bounced (staff).
    async fn mail_undeliverable(ctx: &Ctx, email: String) -> FieldResult<bool> {
        mail::undeliverable(ctx, email).await
    }
    /// An asset by id; null when it does not exist or is not yours to see.
    async fn asset(ctx: &Ctx, id: ID) -> FieldResult<Option<assets::AssetGql>> {
        assets::asset(ctx, id).await
    }
    /// Assets you may see (contacts: their company's), by hostname. At most 100 a page.
    async fn assets(
        ctx: &Ctx,
        executor: &Executor<'_, '_, Ctx>,
        filter: Option<assets::AssetFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<assets::AssetConnection> {
        assets::assets(ctx, super::wants_total(executor), filter, first, after).await
    }
    /// Agent enrollment keys (staff only).
    async fn enrollment_keys(ctx: &Ctx, company_id: Option<ID>) -> FieldResult<Vec<assets::EnrollmentKeyGql>> {
        assets::enrollment_keys(ctx, company_id).await
    }
    /// OCS/FusionInventory credentials (staff only).
    async fn ocs_credentials(ctx: &Ctx, company_id: Option<ID>) -> FieldResult<Vec<assets::OcsCredentialGql>> {
        assets::ocs_credentials(ctx, company_id).await
    }
}

pub struct Mutation;

#[graphql_object(context = Ctx)]
impl Mutation {
    /// Signs in a staff user or contact; returns a JWT. Staff with two-factor sign-in also
    /// give `totpCode`: the current code of their authenticator app, or a recovery code.
    async fn login(
        ctx: &Ctx,
        email: String,
        password: String,
        totp_code: Option<String>,
    ) -> FieldResult<accounts::LoginPayload> {
        accounts::login(ctx, email, password, totp_code).await
    }
    /// Asks for a mailed link to set a new password (staff or customer contact). The answer
    /// never says whether an account exists; requests are limited per address and client.
    async fn request_password_reset(ctx: &Ctx, email: String) -> FieldResult<accounts::RequestPasswordResetPayload> {
        accounts::request_password_reset(ctx, email).await
    }
    /// Sets a new password with the token from a reset link (`/reset/TOKEN`). The link works
    /// once; every session of the account ends; two-factor sign-in still applies afterwards.
    async fn reset_password(ctx: &Ctx, token: String, password: String) -> FieldResult<accounts::ResetPasswordPayload> {
        accounts::reset_password(ctx, token, password).await
    }
    async fn create_company(ctx: &Ctx, input: accounts::CompanyFields) -> FieldResult<accounts::CompanyPayload> {
        accounts::create_company(ctx, input).await
    }
    async fn update_company(
        ctx: &Ctx,
        id: ID,
        input: accounts::CompanyFields,
    ) -> FieldResult<accounts::CompanyPayload> {
        accounts::update_company(ctx, id, input).await
    }
    async fn create_contact(ctx: &Ctx, input: accounts::ContactFields) -> FieldResult<accounts::ContactPayload> {
        accounts::create_contact(ctx, input).await
    }
    async fn update_contact(
        ctx: &Ctx,
        id: ID,
        input: accounts::ContactFields,
    ) -> FieldResult<accounts::ContactPayload> {
        accounts::update_contact(ctx, id, input).await
    }
    /// Adds a staff user (admins only).
    async fn create_user(ctx: &Ctx, input: accounts::UserFields) -> FieldResult<accounts::UserPayload> {
        accounts::create_user(ctx, input).await
    }
    /// Changes a staff user; deactivating or changing the password ends their sessions and tokens.
    async fn update_user(ctx: &Ctx, id: ID, input: accounts::UserFields) -> FieldResult<accounts::UserPayload> {
        accounts::update_user(ctx, id, input).await
    }
    async fn create_queue(ctx: &Ctx, input: accounts::QueueFields) -> FieldResult<accounts::QueuePayload> {
        accounts::create_queue(ctx, input).await
    }
    async fn update_queue(ctx: &Ctx, id: ID, input: accounts::QueueFields) -> FieldResult<accounts::QueuePayload> {
        accounts::update_queue(ctx, id, input).await
    }
    async fn create_ticket(ctx: &Ctx, input: tickets::CreateTicketInput) -> FieldResult<tickets::TicketPayload> {
        tickets::create_ticket(ctx, input).await
    }
    /// Changes status, priority, assignee, queue, tags, watchers or requester (staff only).
    async fn update_ticket(ctx: &Ctx, input: tickets::UpdateTicketInput) -> FieldResult<tickets::TicketPayload> {
        tickets::update_ticket(ctx, input).await
    }
    /// A public reply (staff or the customer).
    async fn add_reply(ctx: &Ctx, input: tickets::AddReplyInput) -> FieldResult<tickets::EntryPayload> {
        tickets::add_reply(ctx, input).await
    }
    /// An internal note, never shown to customers (staff only).
    async fn add_internal_note(ctx: &Ctx, input: tickets::AddInternalNoteInput) -> FieldResult<tickets::EntryPayload> {
        tickets::add_internal_note(ctx, input).await
    }
    async fn log_time(ctx: &Ctx, input: tickets::LogTimeInput) -> FieldResult<tickets::TimeEntryPayload> {
        tickets::log_time(ctx, input).await
    }
    async fn link_tickets(ctx: &Ctx, input: tickets::LinkTicketsInput) -> FieldResult<tickets::LinkPayload> {
        tickets::link_tickets(ctx, input).await
    }
    /// Merges one ticket into another: the thread moves, the source closes.
    async fn merge_tickets(ctx: &Ctx, input: tickets::MergeTicketsInput) -> FieldResult<tickets::TicketPayload> {
        tickets::merge_tickets(ctx, input).await
    }
    /// Marks the given notifications (or all of yours) as read.
    async fn mark_notifications_read(
        ctx: &Ctx,
        ids: Option<Vec<ID>>,
    ) -> FieldResult<notifications::MarkNotificationsReadPayload> {
        notifications::mark_notifications_read(ctx, ids).await
    }
    /// Creates an API token; the secret is in the payload once.
    async fn create_api_token(
        ctx: &Ctx,
        input: accounts::CreateApiTokenInput,
    ) -> FieldResult<accounts::CreateApiTokenPayload> {
        accounts::create_api_token(ctx, input).await
    }
    async fn create_product(
        ctx: &Ctx,
        name: String,
        description: Option<String>,
    ) -> FieldResult<development::ProductPayload> {
        development::create_product(ctx, name, description).await
    }
    async fn create_release(ctx: &Ctx, input: development::ReleaseFields) -> FieldResult<development::ReleasePayload> {
        development::create_release(ctx, input).await
    }
    async fn update_release(
        ctx: &Ctx,
        id: ID,
        input: development::ReleaseFields,
    ) -> FieldResult<development::ReleasePayload> {
        development::update_release(ctx, id, input).await
    }
    /// Ships a release: threads fixed in it become released and everyone following them
    /// (and every linked ticket's requester) hears about it once.
    async fn mark_release_released(ctx: &Ctx, id: ID) -> FieldResult<development::ReleasePayload> {
        development::mark_release_released(ctx, id).await
    }
    async fn create_dev_thread(
        ctx: &Ctx,
        input: development::DevThreadFields,
    ) -> FieldResult<development::DevThreadPayload> {
        development::create_dev_thread(ctx, input).await
    }
    async fn update_dev_thread(
        ctx: &Ctx,
        id: ID,
        input: development::DevThreadFields,
    ) -> FieldResult<development::DevThreadPayload> {
        development::update_dev_thread(ctx, id, input).await
    }
    /// One vote per person; voting again changes nothing.
    async fn vote_thread(ctx: &Ctx, id: ID) -> FieldResult<development::DevThreadPayload> {
        development::vote_thread(ctx, id).await
    }
    async fn unvote_thread(ctx: &Ctx, id: ID) -> FieldResult<development::DevThreadPayload> {
        development::unvote_thread(ctx, id).await
    }
    async fn subscribe_thread(ctx: &Ctx, id: ID) -> FieldResult<development::DevThreadPayload> {
        development::subscribe_thread(ctx, id).await
    }
    async fn unsubscribe_thread(ctx: &Ctx, id: ID) -> FieldResult<development::DevThreadPayload> {
        development::unsubscribe_thread(ctx, id).await
    }
    /// Joins a thread by its shortcut (subscribes you).
    async fn join_thread(ctx: &Ctx, shortcut: String) -> FieldResult<development::DevThreadPayload> {
        development::join_thread(ctx, shortcut).await
    }
    /// Merges a duplicate into the surviving thread (votes and subscribers move).
    async fn mark_thread_duplicate(ctx: &Ctx, id: ID, survivor_id: ID) -> FieldResult<development::DevThreadPayload> {
        development::mark_thread_duplicate(ctx, id, survivor_id).await
    }
    async fn add_dev_comment(
        ctx: &Ctx,
        id: ID,
        body: String,
        internal: Option<bool>,
    ) -> FieldResult<development::DevCommentPayload> {
        development::add_dev_comment(ctx, id, body, internal).await
    }
    /// Moves a support ticket into Development on the customer's behalf.
    async fn move_ticket_to_development(
        ctx: &Ctx,
        input: development::MoveTicketInput,
    ) -> FieldResult<development::MoveTicketPayload> {
        development::move_ticket_to_development(ctx, input).await
    }
    /// Turns GraphQL introspection on or off (admins only).
    async fn set_graphql_introspection(ctx: &Ctx, enabled: bool) -> FieldResult<bool> {
        ctx.run(move |app, who| crate::settings::set_introspection(app, who, enabled)).await.map_err(super::field_error)
    }
    async fn revoke_api_token(ctx: &Ctx, id: ID) -> FieldResult<accounts::RevokeApiTokenPayload> {
        accounts::revoke_api_token(ctx, id).await
    }
    /// Adds a business-hours calendar (admins only).
    async fn create_sla_calendar(ctx: &Ctx, input: sla::CalendarFields) -> FieldResult<sla::SlaCalendarPayload> {
        sla::create_calendar(ctx, input).await
    }
    /// Changes a calendar; tickets measured by it are re-measured (admins only).
    async fn update_sla_calendar(
        ctx: &Ctx,
        id: ID,
        input: sla::CalendarFields,
    ) -> FieldResult<sla::SlaCalendarPayload> {
        sla::update_calendar(ctx, id, input).await
    }
    async fn delete_sla_calendar(ctx: &Ctx, id: ID) -> FieldResult<sla::SlaDeletePayload> {
        sla::delete_calendar(ctx, id).await
    }
    /// Adds an SLA policy (admins only).
    async fn create_sla_policy(ctx: &Ctx, input: sla::PolicyFields) -> FieldResult<sla::SlaPolicyPayload> {
        sla::create_policy(ctx, input).await
    }
    /// Changes a policy; its open tickets are re-measured, losing no time (admins only).
    async fn update_sla_policy(ctx: &Ctx, id: ID, input: sla::PolicyFields) -> FieldResult<sla::SlaPolicyPayload> {
        sla::update_policy(ctx, id, input).await
    }
    async fn delete_sla_policy(ctx: &Ctx, id: ID) -> FieldResult<sla::SlaDeletePayload> {
        sla::delete_policy(ctx, id).await
    }
    /// Attaches a policy to a company (its contract); null returns it to the default.
    async fn set_company_sla_policy(
        ctx: &Ctx,
        company_id: ID,
        policy_id: Option<ID>,
    ) -> FieldResult<sla::SlaDeletePayload> {
        sla::set_company_policy(ctx, company_id, policy_id).await
    }
    /// Files a held message as it would have been filed had it passed the check (admins).
    async fn release_mail(ctx: &Ctx, id: ID) -> FieldResult<mail::MailReleasePayload> {
        mail::release(ctx, id).await
    }
    /// Discards a held message (admins).
    async fn discard_mail(ctx: &Ctx, id: ID) -> FieldResult<mail::MailMessagePayload> {
        mail::discard(ctx, id).await
    }
    /// Routes mail for a recipient address (or "default") to a queue; no queue removes it (admins).
    async fn set_mail_route(
        ctx: &Ctx,
        address: String,
        queue_id: Option<ID>,
    ) -> FieldResult<Vec<crate::graphql::UserError>> {
        mail::set_route(ctx, address, queue_id).await
    }
    /// A key a company's agents enroll with; the key is in the payload once (staff only).
    async fn create_enrollment_key(
        ctx: &Ctx,
        company_id: ID,
        label: Option<String>,
    ) -> FieldResult<assets::CreateEnrollmentKeyPayload> {
        assets::create_enrollment_key(ctx, company_id, label).await
    }
    async fn revoke_enrollment_key(ctx: &Ctx, id: ID) -> FieldResult<assets::EnrollmentKeyPayload> {
        assets::revoke_enrollment_key(ctx, id).await
    }
    /// Stops an agent's credential from reporting (staff only).
    async fn revoke_agent_credential(ctx: &Ctx, id: ID) -> FieldResult<assets::AgentCredentialPayload> {
        assets::revoke_agent_credential(ctx, id).await
    }
    /// HTTP basic credentials for a company's OCS/FusionInventory agents (staff only).
    async fn create_ocs_credential(
        ctx: &Ctx,
        input: assets::CreateOcsCredentialInput,
    ) -> FieldResult<assets::CreateOcsCredentialPayload> {
        assets::create_ocs_credential(ctx, input).await
    }
    async fn revoke_ocs_credential(ctx: &Ctx, id: ID) -> FieldResult<assets::OcsCredentialPayload> {
        assets::revoke_ocs_credential(ctx, id).await
    }
    /// Overrides an asset check for a company or one asset (staff only).
    async fn set_asset_check(ctx: &Ctx, input: assets::SetAssetCheckInput) -> FieldResult<assets::AssetChecksPayload> {
        assets::set_asset_check(ctx, input).await
    }
}
