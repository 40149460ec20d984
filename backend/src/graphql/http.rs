//! `POST /graphql`: authentication by bearer credential, a batch cap, the depth/cost limits
//! checked before execution, then juniper.

use super::{limits, Ctx, Schema};
use crate::app::App;
use crate::http::{client_addr, principal_from_bearer};
use actix_web::{web, HttpRequest, HttpResponse};
use juniper::http::{GraphQLBatchRequest, GraphQLRequest};
use std::sync::Arc;

pub const MAX_BATCH: usize = 10;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct GraphqlState {
    pub schema: Schema,
    pub schema_without_introspection: Schema,
}

impl GraphqlState {
    pub fn new() -> Self {
        GraphqlState { schema: super::schema(), schema_without_introspection: super::schema().disable_introspection() }
    }
}

impl Default for GraphqlState {
    fn default() -> Self {
        Self::new()
    }
}

fn error_body(message: &str, code: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

fn check_limits(schema: &Schema, r: &GraphQLRequest) -> Option<String> {
    let vars = r.variables();
    limits::analyse(schema, &r.query, r.operation_name.as_deref(), &vars).and_then(|a| limits::refusal(&a))
}

pub async fn endpoint(
    app: web::Data<Arc<App>>,
    state: web::Data<Arc<GraphqlState>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let app = app.get_ref().clone();
    if body.len() > MAX_BODY_BYTES {
        return HttpResponse::PayloadTooLarge().json(error_body("the request body is larger than 1 MiB", "TOO_LARGE"));
    }
    let batch: GraphQLBatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return HttpResponse::BadRequest()
                .json(error_body(&format!("the body is not a GraphQL request: {e}"), "BAD_REQUEST"))
        }
    };
    if let GraphQLBatchRequest::Batch(list) = &batch {
        if list.len() > MAX_BATCH {
            return HttpResponse::BadRequest()
                .json(error_body(&format!("a batch may hold at most {MAX_BATCH} operations"), "BATCH_TOO_LARGE"));
        }
        if list.is_empty() {
            return HttpResponse::BadRequest().json(error_body("the batch is empty", "BAD_REQUEST"));
        }
    }
    let who = match principal_from_bearer(&app, &req).await {
        Ok(p) => p,
        Err(crate::error::ServiceError::Internal(r)) => {
            return HttpResponse::InternalServerError()
                .json(error_body(&format!("internal error (reference {r})"), "INTERNAL"))
        }
        Err(_) => {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .json(error_body("the credential is invalid, expired or revoked; sign in again", "UNAUTHENTICATED"))
        }
    };
    let schema = if app.introspection_enabled() { &state.schema } else { &state.schema_without_introspection };
    // Sign-in attempts across the whole batch count together against the limit.
    let requests: Vec<&GraphQLRequest> = match &batch {
        GraphQLBatchRequest::Single(r) => vec![r],
        GraphQLBatchRequest::Batch(list) => list.iter().collect(),
    };
    let mut logins = 0;
    for r in &requests {
        if let Some(why) = check_limits(schema, r) {
            return HttpResponse::BadRequest().json(error_body(&why, "QUERY_TOO_COMPLEX"));
        }
        let vars = r.variables();
        logins += limits::analyse(schema, &r.query, r.operation_name.as_deref(), &vars).map(|a| a.logins).unwrap_or(0);
    }
    if logins > limits::MAX_LOGINS {
        return HttpResponse::BadRequest().json(error_body(
            &format!("the request has {logins} login fields; at most {} are allowed", limits::MAX_LOGINS),
            "QUERY_TOO_COMPLEX",
        ));
    }
    let ctx = Ctx { app: app.clone(), client: client_addr(&app, &req), who };
    let response = match &batch {
        GraphQLBatchRequest::Single(r) => juniper::http::GraphQLBatchResponse::Single(r.execute(schema, &ctx).await),
        GraphQLBatchRequest::Batch(list) => {
            // One after another, so sign-in attempts and writes in a batch keep their order.
            let mut out = Vec::with_capacity(list.len());
            for r in list {
                out.push(r.execute(schema, &ctx).await);
            }
            juniper::http::GraphQLBatchResponse::Batch(out)
        }
    };
    let status =
        if response.is_ok() { actix_web::http::StatusCode::OK } else { actix_web::http::StatusCode::BAD_REQUEST };
    HttpResponse::build(status).json(response)
}
