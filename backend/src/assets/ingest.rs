//! The agents' HTTP API: `POST /api/agent/enroll` (an enrollment key for a credential) and
//! `POST /api/agent/report` (heartbeat, inventory and log lines, authenticated by the agent
//! credential as a bearer token), plus the route of the OCS endpoint. Thin: parse, call the
//! service, map the outcome to HTTP.

use super::service::{self, Report};
use crate::app::App;
use crate::error::ServiceError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Reports carry a full inventory (thousands of packages) and log lines.
pub const MAX_REPORT_BYTES: usize = 16 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/agent")
            .app_data(web::PayloadConfig::new(MAX_REPORT_BYTES))
            .route("/enroll", web::post().to(enroll))
            .route("/report", web::post().to(report)),
    )
    .service(
        web::resource("/ocsinventory")
            .app_data(web::PayloadConfig::new(super::ocs::MAX_BODY))
            .route(web::post().to(super::ocs::endpoint))
            .route(web::get().to(|| async {
                HttpResponse::MethodNotAllowed()
                    .insert_header(("Allow", "POST"))
                    .body("OCS/FusionInventory agents POST here.\n")
            })),
    );
}

/// A service error as an HTTP answer with a JSON `error`.
pub fn error_response(e: ServiceError) -> HttpResponse {
    let mut r = match &e {
        ServiceError::Unauthenticated => HttpResponse::Unauthorized(),
        ServiceError::Forbidden => HttpResponse::Forbidden(),
        ServiceError::NotFound(_) => HttpResponse::NotFound(),
        ServiceError::Invalid(_) => HttpResponse::UnprocessableEntity(),
        ServiceError::Conflict(_) => HttpResponse::Conflict(),
        ServiceError::RateLimited(_) => HttpResponse::TooManyRequests(),
        ServiceError::Internal(_) => HttpResponse::InternalServerError(),
    };
    if matches!(e, ServiceError::Unauthenticated) {
        r.insert_header(("WWW-Authenticate", "Bearer realm=\"wrench-agent\""));
    }
    r.json(json!({ "error": e.to_string() }))
}

#[derive(Deserialize)]
struct EnrollRequest {
    key: String,
    #[serde(default)]
    hostname: String,
}

async fn enroll(app: web::Data<Arc<App>>, body: web::Bytes) -> HttpResponse {
    let input: EnrollRequest = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return HttpResponse::BadRequest().json(json!({ "error": format!("not an enrollment request: {e}") }))
        }
    };
    let app = app.get_ref().clone();
    let r = tokio::task::spawn_blocking(move || service::enroll(&app, &input.key, &input.hostname)).await;
    match r {
        Ok(Ok((asset_id, token))) => HttpResponse::Ok().json(json!({ "asset_id": asset_id, "token": token })),
        Ok(Err(ServiceError::Unauthenticated)) => {
            HttpResponse::Unauthorized().json(json!({ "error": "unknown or revoked enrollment key" }))
        }
        Ok(Err(e)) => error_response(e),
        Err(e) => error_response(ServiceError::internal(format!("enroll task: {e}"))),
    }
}

async fn report(app: web::Data<Arc<App>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(token) = crate::http::bearer(&req) else { return error_response(ServiceError::Unauthenticated) };
    let report: Report = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return HttpResponse::BadRequest().json(json!({ "error": format!("not a report: {e}") })),
    };
    let app = app.get_ref().clone();
    let r = tokio::task::spawn_blocking(move || {
        let agent = service::authenticate_agent(&app, &token)?;
        service::ingest(&app, agent, report)
    })
    .await;
    match r {
        Ok(Ok(o)) => HttpResponse::Ok().json(json!({
            "asset_id": o.asset_id,
            "duplicate": o.duplicate,
            "inventory_wanted": o.inventory_wanted,
        })),
        Ok(Err(e)) => error_response(e),
        Err(e) => error_response(ServiceError::internal(format!("report task: {e}"))),
    }
}
