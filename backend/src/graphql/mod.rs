//! The GraphQL API: the request context, error mapping, shared types (user errors, page
//! info, ids), and the HTTP endpoint. `root.rs` owns the Query and Mutation roots; every
//! field there delegates in one line to its feature's `graphql.rs`.

pub mod http;
pub mod limits;
pub mod root;

use crate::accounts::auth::Principal;
use crate::app::App;
use crate::error::{ServiceError, ServiceResult};
use crate::paging::{Page, PageRequest};
use juniper::{graphql_value, FieldError, FieldResult, GraphQLObject, ID};
use std::sync::Arc;

pub type Schema = juniper::RootNode<root::Query, root::Mutation, juniper::EmptySubscription<Ctx>>;

pub fn schema() -> Schema {
    Schema::new(root::Query, root::Mutation, juniper::EmptySubscription::new()).limit_depth(40)
}

/// The SDL of the schema in juniper's stable, sorted order, ending with a newline.
pub fn sdl() -> String {
    let mut s = schema().as_sdl();
    while s.ends_with("\n\n") {
        s.pop();
    }
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Per-request context: the app, who is calling, and from where.
pub struct Ctx {
    pub app: Arc<App>,
    pub who: Principal,
    pub client: String,
}

impl juniper::Context for Ctx {}

impl Ctx {
    /// Runs a (synchronous, diesel) service call on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> ServiceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&App, &Principal) -> ServiceResult<T> + Send + 'static,
    {
        let app = self.app.clone();
        let who = self.who.clone();
        // Keep the request's span (and its request id) on log lines from the blocking pool.
        let span = tracing::Span::current();
        match tokio::task::spawn_blocking(move || span.in_scope(|| f(&app, &who))).await {
            Ok(r) => r,
            Err(e) => Err(ServiceError::internal(format!("service task failed: {e}"))),
        }
    }
}

/// A service error as a GraphQL field error with a machine-readable code.
pub fn field_error(e: ServiceError) -> FieldError {
    let code = match &e {
        ServiceError::Unauthenticated => "UNAUTHENTICATED",
        ServiceError::Forbidden => "FORBIDDEN",
        ServiceError::NotFound(_) => "NOT_FOUND",
        ServiceError::Invalid(_) => "INVALID",
        ServiceError::Conflict(_) => "CONFLICT",
        ServiceError::RateLimited(_) => "RATE_LIMITED",
        ServiceError::Internal(_) => "INTERNAL",
    };
    FieldError::new(e.to_string(), graphql_value!({ "code": code }))
}

pub trait OrField<T> {
    fn gql(self) -> FieldResult<T>;
}

impl<T> OrField<T> for ServiceResult<T> {
    fn gql(self) -> FieldResult<T> {
        self.map_err(field_error)
    }
}

/// A mistake the caller can fix, named by the input field it concerns.
#[derive(Debug, Clone, GraphQLObject)]
pub struct UserError {
    /// The input field (camelCase), or empty when the error concerns the whole request.
    pub field: String,
    pub message: String,
}

/// Splits a mutation's outcome into the payload value and its user errors. Internal faults
/// stay GraphQL errors (with only a reference id); everything the caller can act on —
/// invalid input, not found, not allowed, rate limited — becomes a user error.
pub fn payload<T>(r: ServiceResult<T>) -> FieldResult<(Option<T>, Vec<UserError>)> {
    match r {
        Ok(v) => Ok((Some(v), Vec::new())),
        Err(e @ ServiceError::Internal(_)) => Err(field_error(e)),
        Err(e) => {
            Ok((None, e.field_errors().into_iter().map(|f| UserError { field: f.field, message: f.message }).collect()))
        }
    }
}

#[derive(Debug, Clone, GraphQLObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

impl PageInfo {
    pub fn of<T>(page: &Page<T>) -> Self {
        PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            start_cursor: page.items.first().map(|(c, _)| c.clone()),
            end_cursor: page.items.last().map(|(c, _)| c.clone()),
        }
    }
}

/// Declares a Relay connection type and its edge type for a node type.
#[macro_export]
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $desc:literal) => {
        #[doc = $desc]
        #[derive(juniper::GraphQLObject)]
        #[graphql(context = $crate::graphql::Ctx)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            pub page_info: $crate::graphql::PageInfo,
            /// How many items match, over all pages.
            pub total_count: i32,
        }

        #[derive(juniper::GraphQLObject)]
        #[graphql(context = $crate::graphql::Ctx)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        impl $conn {
            pub fn from_page<T>(page: $crate::paging::Page<T>, f: impl Fn(T) -> $node) -> Self {
                let page_info = $crate::graphql::PageInfo::of(&page);
                let total_count = i32::try_from(page.total).unwrap_or(i32::MAX);
                $conn {
                    edges: page.items.into_iter().map(|(cursor, t)| $edge { cursor, node: f(t) }).collect(),
                    page_info,
                    total_count,
                }
            }
        }
    };
}

pub fn page_request(first: Option<i32>, after: Option<String>) -> FieldResult<PageRequest> {
    PageRequest::new(first, after).gql()
}

/// Whether a connection field's selection asks for `totalCount` (so the count query can be
/// skipped when it does not).
pub fn wants_total(executor: &juniper::Executor<'_, '_, Ctx>) -> bool {
    executor.look_ahead().children().has_child("totalCount")
}

/// Parses an `ID` argument into a row id, naming the field when it is not one.
pub fn id_arg(field: &str, id: &ID) -> ServiceResult<i64> {
    id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| ServiceError::invalid(field, "is not a valid id"))
}

pub fn opt_id(field: &str, id: &Option<ID>) -> ServiceResult<Option<i64>> {
    id.as_ref().map(|i| id_arg(field, i)).transpose()
}

pub fn ids(field: &str, list: &Option<Vec<ID>>) -> ServiceResult<Vec<i64>> {
    list.iter().flatten().map(|i| id_arg(field, i)).collect()
}

pub fn to_id(id: i64) -> ID {
    ID::new(id.to_string())
}

pub fn utc(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    crate::clock::to_utc(t)
}

pub fn naive(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    t.naive_utc()
}
