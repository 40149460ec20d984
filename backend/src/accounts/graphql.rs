//! GraphQL types and resolvers for companies, contacts, staff users, queues, the viewer,
//! sign-in and API tokens. Resolvers only translate; the service decides.

use super::model::{ApiToken, Company, Contact, Queue, Role, TokenScope, User};
use super::service::{self, CompanyInput, ContactInput, QueueInput, TokenInput, UserInput};
use crate::accounts::auth::Principal;
use crate::connection;
use crate::graphql::{id_arg, opt_id, page_request, payload, to_id, utc, Ctx, OrField, UserError};
use crate::paging::PageRequest;
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, GraphQLEnum, GraphQLInputObject, GraphQLObject, ID};

// ---------------------------------------------------------------- types

pub struct CompanyGql(pub Company);

#[graphql_object(name = "Company", context = Ctx)]
/// A client company of the MSP.
impl CompanyGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    fn phone(&self) -> &str {
        &self.0.phone
    }
    /// Internal notes about the company (staff only).
    fn notes(&self, ctx: &Ctx) -> FieldResult<&str> {
        ctx.who.require_staff().gql()?;
        Ok(&self.0.notes)
    }
    /// Mail from these domains is filed under this company.
    async fn email_domains(&self, ctx: &Ctx) -> FieldResult<Vec<String>> {
        let id = self.0.id;
        ctx.run(move |app, who| service::company_domains(app, who, id)).await.gql()
    }
    /// The company's contacts (staff only).
    async fn contacts(
        &self,
        ctx: &Ctx,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> FieldResult<ContactConnection> {
        ctx.who.require_staff().gql()?;
        let req = page_request(first, after)?;
        let id = self.0.id;
        let page =
            ctx.run(move |app, who| service::list_contacts(app, who, Some(id), search.as_deref(), &req)).await.gql()?;
        Ok(ContactConnection::from_page(page, ContactGql))
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
    fn updated_at(&self) -> DateTime<Utc> {
        utc(self.0.updated_at)
    }
}

pub struct ContactGql(pub Contact);

#[graphql_object(name = "Contact", context = Ctx)]
/// A person at a client company; may sign in to the customer portal.
impl ContactGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    fn email(&self) -> &str {
        &self.0.email
    }
    fn phone(&self) -> &str {
        &self.0.phone
    }
    fn active(&self) -> bool {
        self.0.active
    }
    fn timezone(&self) -> &str {
        &self.0.timezone
    }
    /// Whether a portal password is set (staff only).
    fn has_password(&self, ctx: &Ctx) -> FieldResult<bool> {
        ctx.who.require_staff().gql()?;
        Ok(self.0.password_hash.is_some())
    }
    async fn company(&self, ctx: &Ctx) -> FieldResult<CompanyGql> {
        let id = self.0.company_id;
        ctx.run(move |app, who| service::get_company(app, who, id)).await.gql().map(CompanyGql)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Admin,
    Technician,
}

impl From<Role> for RoleGql {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => RoleGql::Admin,
            Role::Technician => RoleGql::Technician,
        }
    }
}

impl From<RoleGql> for Role {
    fn from(r: RoleGql) -> Self {
        match r {
            RoleGql::Admin => Role::Admin,
            RoleGql::Technician => Role::Technician,
        }
    }
}

pub struct UserGql(pub User);

#[graphql_object(name = "User", context = Ctx)]
/// A staff member: admin or technician.
impl UserGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    fn email(&self) -> &str {
        &self.0.email
    }
    fn role(&self) -> RoleGql {
        self.0.role().into()
    }
    fn active(&self) -> bool {
        self.0.active
    }
    fn timezone(&self) -> &str {
        &self.0.timezone
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

pub struct QueueGql(pub Queue);

#[derive(GraphQLObject)]
#[graphql(name = "QueueMember", context = Ctx)]
pub struct QueueMemberGql {
    pub user: UserGql,
    /// Dispatchers hear about new and unassigned work in the queue.
    pub is_dispatcher: bool,
}

#[graphql_object(name = "Queue", context = Ctx)]
/// A queue of work with its members.
impl QueueGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Tickets without a company (unknown senders, alerts) land in the triage queue.
    fn is_triage(&self) -> bool {
        self.0.is_triage
    }
    async fn members(&self, ctx: &Ctx) -> FieldResult<Vec<QueueMemberGql>> {
        let id = self.0.id;
        let rows = ctx.run(move |app, who| service::queue_members(app, who, id)).await.gql()?;
        Ok(rows.into_iter().map(|(m, u)| QueueMemberGql { user: UserGql(u), is_dispatcher: m.is_dispatcher }).collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "TokenScope")]
pub enum TokenScopeGql {
    /// Queries only.
    Read,
    /// Queries and everyday mutations.
    Write,
    /// Everything, including administration (admins only).
    Admin,
}

impl From<TokenScopeGql> for TokenScope {
    fn from(s: TokenScopeGql) -> Self {
        match s {
            TokenScopeGql::Read => TokenScope::Read,
            TokenScopeGql::Write => TokenScope::Write,
            TokenScopeGql::Admin => TokenScope::Admin,
        }
    }
}

impl From<TokenScope> for TokenScopeGql {
    fn from(s: TokenScope) -> Self {
        match s {
            TokenScope::Read => TokenScopeGql::Read,
            TokenScope::Write => TokenScopeGql::Write,
            TokenScope::Admin => TokenScopeGql::Admin,
        }
    }
}

pub struct ApiTokenGql(pub ApiToken, pub Option<User>);

#[graphql_object(name = "ApiToken", context = Ctx)]
/// An API token (the secret itself is shown only when it is created).
impl ApiTokenGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the token, to recognise it.
    fn prefix(&self) -> &str {
        &self.0.token_prefix
    }
    fn scope(&self) -> TokenScopeGql {
        TokenScope::parse(&self.0.scope).unwrap_or(TokenScope::Read).into()
    }
    fn owner(&self) -> Option<UserGql> {
        self.1.clone().map(UserGql)
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(utc)
    }
    fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(utc)
    }
    fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(utc)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

connection!(CompanyConnection, CompanyEdge, CompanyGql, "A page of companies.");
connection!(ContactConnection, ContactEdge, ContactGql, "A page of contacts.");
connection!(UserConnection, UserEdge, UserGql, "A page of staff users.");

/// Who is signed in.
pub struct Viewer;

#[graphql_object(context = Ctx)]
impl Viewer {
    /// "staff" or "contact".
    fn kind(&self, ctx: &Ctx) -> &str {
        match ctx.who {
            Principal::Contact(_) => "contact",
            _ => "staff",
        }
    }
    /// The staff user, when a staff member is signed in.
    async fn user(&self, ctx: &Ctx) -> FieldResult<Option<UserGql>> {
        let Some(id) = ctx.who.user_id() else { return Ok(None) };
        ctx.run(move |app, who| service::get_user(app, who, id)).await.gql().map(|u| Some(UserGql(u)))
    }
    /// The contact, when a customer is signed in.
    async fn contact(&self, ctx: &Ctx) -> FieldResult<Option<ContactGql>> {
        let Some(id) = ctx.who.contact_id() else { return Ok(None) };
        ctx.run(move |app, who| service::get_contact(app, who, id)).await.gql().map(|c| Some(ContactGql(c)))
    }
    async fn unread_notifications(&self, ctx: &Ctx) -> FieldResult<i32> {
        let n = ctx.run(crate::notifications::service::unread_count).await.gql()?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

// ---------------------------------------------------------------- inputs and payloads

#[derive(GraphQLInputObject)]
pub struct CompanyFields {
    pub name: Option<String>,
    /// Replaces the list of email domains (e.g. ["example.com"]).
    pub email_domains: Option<Vec<String>>,
    pub phone: Option<String>,
    pub notes: Option<String>,
}

impl From<CompanyFields> for CompanyInput {
    fn from(f: CompanyFields) -> Self {
        CompanyInput { name: f.name, email_domains: f.email_domains, phone: f.phone, notes: f.notes }
    }
}

#[derive(GraphQLInputObject)]
pub struct ContactFields {
    pub company_id: Option<ID>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Sets the portal password; an empty string removes it.
    pub password: Option<String>,
    pub active: Option<bool>,
    pub timezone: Option<String>,
    /// Your current password, when you change your own.
    pub current_password: Option<String>,
}

impl ContactFields {
    fn into_input(self) -> crate::error::ServiceResult<ContactInput> {
        Ok(ContactInput {
            company_id: opt_id("companyId", &self.company_id)?,
            name: self.name,
            email: self.email,
            phone: self.phone,
            password: self.password,
            active: self.active,
            timezone: self.timezone,
            current_password: self.current_password,
        })
    }
}

#[derive(GraphQLInputObject)]
pub struct UserFields {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<RoleGql>,
    pub password: Option<String>,
    pub active: Option<bool>,
    pub timezone: Option<String>,
    /// Your current password, when you change your own.
    pub current_password: Option<String>,
}

impl From<UserFields> for UserInput {
    fn from(f: UserFields) -> Self {
        UserInput {
            email: f.email,
            name: f.name,
            role: f.role.map(Into::into),
            password: f.password,
            active: f.active,
            timezone: f.timezone,
            current_password: f.current_password,
        }
    }
}

#[derive(GraphQLInputObject)]
pub struct QueueMemberInput {
    pub user_id: ID,
    pub is_dispatcher: Option<bool>,
}

#[derive(GraphQLInputObject)]
pub struct QueueFields {
    pub name: Option<String>,
    pub is_triage: Option<bool>,
    /// Replaces the member list.
    pub members: Option<Vec<QueueMemberInput>>,
}

impl QueueFields {
    fn into_input(self) -> crate::error::ServiceResult<QueueInput> {
        let members = match self.members {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|m| Ok((id_arg("members", &m.user_id)?, m.is_dispatcher.unwrap_or(false))))
                    .collect::<crate::error::ServiceResult<Vec<_>>>()?,
            ),
        };
        Ok(QueueInput { name: self.name, is_triage: self.is_triage, members })
    }
}

#[derive(GraphQLInputObject)]
pub struct CreateApiTokenInput {
    pub name: String,
    pub scope: TokenScopeGql,
    pub expires_at: Option<DateTime<Utc>>,
    /// Admins may create a token for another staff user.
    pub user_id: Option<ID>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct LoginPayload {
    /// A JWT to send as `Authorization: Bearer …`; null when sign-in failed.
    pub token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub errors: Vec<UserError>,
}

/// The answer to a password reset request: the same whether or not an account exists.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct RequestPasswordResetPayload {
    /// True when the request was taken: if an account with that address exists, a link to
    /// set a new password is on its way (it works once, for an hour).
    pub accepted: bool,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct ResetPasswordPayload {
    /// True when the password was changed; sign in with it (and any second factor) next.
    pub done: bool,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct CompanyPayload {
    pub company: Option<CompanyGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct ContactPayload {
    pub contact: Option<ContactGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct UserPayload {
    pub user: Option<UserGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct QueuePayload {
    pub queue: Option<QueueGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct CreateApiTokenPayload {
    pub api_token: Option<ApiTokenGql>,
    /// The secret token. It is shown only now: store it safely.
    pub token: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct RevokeApiTokenPayload {
    pub api_token: Option<ApiTokenGql>,
    pub errors: Vec<UserError>,
}

// ---------------------------------------------------------------- resolvers (called from root.rs)

pub fn viewer(ctx: &Ctx) -> Option<Viewer> {
    match ctx.who {
        Principal::Anonymous => None,
        _ => Some(Viewer),
    }
}

pub async fn company(ctx: &Ctx, id: ID) -> FieldResult<Option<CompanyGql>> {
    let r = ctx.run(move |app, who| service::get_company(app, who, id_arg("id", &id)?)).await;
    not_found_as_none(r).map(|o| o.map(CompanyGql))
}

pub async fn companies(
    ctx: &Ctx,
    search: Option<String>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<CompanyConnection> {
    let req = page_request(first, after)?;
    let page = ctx.run(move |app, who| service::list_companies(app, who, search.as_deref(), &req)).await.gql()?;
    Ok(CompanyConnection::from_page(page, CompanyGql))
}

pub async fn contact(ctx: &Ctx, id: ID) -> FieldResult<Option<ContactGql>> {
    let r = ctx.run(move |app, who| service::get_contact(app, who, id_arg("id", &id)?)).await;
    not_found_as_none(r).map(|o| o.map(ContactGql))
}

pub async fn contacts(
    ctx: &Ctx,
    company_id: Option<ID>,
    search: Option<String>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<ContactConnection> {
    let req = page_request(first, after)?;
    let page = ctx
        .run(move |app, who| {
            let company = opt_id("companyId", &company_id)?;
            service::list_contacts(app, who, company, search.as_deref(), &req)
        })
        .await
        .gql()?;
    Ok(ContactConnection::from_page(page, ContactGql))
}

pub async fn user(ctx: &Ctx, id: ID) -> FieldResult<Option<UserGql>> {
    let r = ctx.run(move |app, who| service::get_user(app, who, id_arg("id", &id)?)).await;
    not_found_as_none(r).map(|o| o.map(UserGql))
}

pub async fn users(
    ctx: &Ctx,
    include_inactive: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<UserConnection> {
    let req: PageRequest = page_request(first, after)?;
    let page =
        ctx.run(move |app, who| service::list_users(app, who, include_inactive.unwrap_or(false), &req)).await.gql()?;
    Ok(UserConnection::from_page(page, UserGql))
}

pub async fn queues(ctx: &Ctx) -> FieldResult<Vec<QueueGql>> {
    Ok(ctx.run(service::list_queues).await.gql()?.into_iter().map(QueueGql).collect())
}

pub async fn api_tokens(ctx: &Ctx, all: Option<bool>) -> FieldResult<Vec<ApiTokenGql>> {
    let all = all.unwrap_or(false);
    let rows = ctx.run(move |app, who| service::list_api_tokens(app, who, all)).await.gql()?;
    Ok(rows.into_iter().map(|(t, u)| ApiTokenGql(t, Some(u))).collect())
}

/// "Not found" on a single-object query is a null result, not an error.
pub fn not_found_as_none<T>(r: crate::error::ServiceResult<T>) -> FieldResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(crate::error::ServiceError::NotFound(_)) => Ok(None),
        Err(e) => Err(crate::graphql::field_error(e)),
    }
}

pub async fn login(ctx: &Ctx, email: String, password: String, totp_code: Option<String>) -> FieldResult<LoginPayload> {
    let client = ctx.client.clone();
    let app = ctx.app.clone();
    let r = tokio::task::spawn_blocking(move || service::login(&app, &email, &password, totp_code.as_deref(), &client))
        .await
        .unwrap_or_else(|e| Err(crate::error::ServiceError::internal(format!("login task: {e}"))));
    let expires = utc(ctx.app.now()) + chrono::Duration::hours(super::auth::JWT_LIFETIME_HOURS);
    let (v, errors) = payload(r)?;
    Ok(LoginPayload { expires_at: v.as_ref().map(|_| expires), token: v.map(|(t, _)| t), errors })
}

pub async fn request_password_reset(ctx: &Ctx, email: String) -> FieldResult<RequestPasswordResetPayload> {
    let client = ctx.client.clone();
    let (v, errors) = payload(ctx.run(move |app, _| super::resets::request(app, &email, &client)).await)?;
    Ok(RequestPasswordResetPayload { accepted: v.is_some(), errors })
}

pub async fn reset_password(ctx: &Ctx, token: String, password: String) -> FieldResult<ResetPasswordPayload> {
    let r = ctx.run(move |app, _| super::resets::reset(app, &token, &password)).await;
    let (v, errors) = payload(r.map_err(|e| match e {
        crate::error::ServiceError::NotFound(_) => crate::error::ServiceError::invalid(
            "token",
            "this reset link has expired or was already used; ask for a new one",
        ),
        e => e,
    }))?;
    Ok(ResetPasswordPayload { done: v.is_some(), errors })
}

pub async fn create_company(ctx: &Ctx, input: CompanyFields) -> FieldResult<CompanyPayload> {
    let (company, errors) = payload(ctx.run(move |app, who| service::create_company(app, who, input.into())).await)?;
    Ok(CompanyPayload { company: company.map(CompanyGql), errors })
}

pub async fn update_company(ctx: &Ctx, id: ID, input: CompanyFields) -> FieldResult<CompanyPayload> {
    let (company, errors) =
        payload(ctx.run(move |app, who| service::update_company(app, who, id_arg("id", &id)?, input.into())).await)?;
    Ok(CompanyPayload { company: company.map(CompanyGql), errors })
}

pub async fn create_contact(ctx: &Ctx, input: ContactFields) -> FieldResult<ContactPayload> {
    let (contact, errors) =
        payload(ctx.run(move |app, who| service::create_contact(app, who, input.into_input()?)).await)?;
    Ok(ContactPayload { contact: contact.map(ContactGql), errors })
}

pub async fn update_contact(ctx: &Ctx, id: ID, input: ContactFields) -> FieldResult<ContactPayload> {
    let (contact, errors) = payload(
        ctx.run(move |app, who| service::update_contact(app, who, id_arg("id", &id)?, input.into_input()?)).await,
    )?;
    Ok(ContactPayload { contact: contact.map(ContactGql), errors })
}

pub async fn create_user(ctx: &Ctx, input: UserFields) -> FieldResult<UserPayload> {
    let (user, errors) = payload(ctx.run(move |app, who| service::create_user(app, who, input.into())).await)?;
    Ok(UserPayload { user: user.map(UserGql), errors })
}

pub async fn update_user(ctx: &Ctx, id: ID, input: UserFields) -> FieldResult<UserPayload> {
    let (user, errors) =
        payload(ctx.run(move |app, who| service::update_user(app, who, id_arg("id", &id)?, input.into())).await)?;
    Ok(UserPayload { user: user.map(UserGql), errors })
}

pub async fn create_queue(ctx: &Ctx, input: QueueFields) -> FieldResult<QueuePayload> {
    let (queue, errors) = payload(ctx.run(move |app, who| service::create_queue(app, who, input.into_input()?)).await)?;
    Ok(QueuePayload { queue: queue.map(QueueGql), errors })
}

pub async fn update_queue(ctx: &Ctx, id: ID, input: QueueFields) -> FieldResult<QueuePayload> {
    let (queue, errors) = payload(
        ctx.run(move |app, who| service::update_queue(app, who, id_arg("id", &id)?, input.into_input()?)).await,
    )?;
    Ok(QueuePayload { queue: queue.map(QueueGql), errors })
}

pub async fn create_api_token(ctx: &Ctx, input: CreateApiTokenInput) -> FieldResult<CreateApiTokenPayload> {
    let r = ctx
        .run(move |app, who| {
            let user_id = opt_id("userId", &input.user_id)?;
            service::create_api_token(
                app,
                who,
                TokenInput {
                    name: input.name,
                    scope: input.scope.into(),
                    expires_at: input.expires_at.map(|t| t.naive_utc()),
                    user_id,
                },
            )
        })
        .await;
    let (v, errors) = payload(r)?;
    Ok(match v {
        Some((row, secret)) => {
            CreateApiTokenPayload { api_token: Some(ApiTokenGql(row, None)), token: Some(secret), errors }
        }
        None => CreateApiTokenPayload { api_token: None, token: None, errors },
    })
}

pub async fn revoke_api_token(ctx: &Ctx, id: ID) -> FieldResult<RevokeApiTokenPayload> {
    let (tok, errors) =
        payload(ctx.run(move |app, who| service::revoke_api_token(app, who, id_arg("id", &id)?)).await)?;
    Ok(RevokeApiTokenPayload { api_token: tok.map(|t| ApiTokenGql(t, None)), errors })
}
