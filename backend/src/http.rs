//! HTTP plumbing shared by every endpoint: the client address (believing X-Forwarded-For
//! only from trusted proxies), bearer credentials, request ids with a tracing span, the
//! security headers, and `/healthz`.

use crate::accounts::auth::{self, Principal};
use crate::app::App;
use crate::error::ServiceError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use std::net::IpAddr;
use std::sync::Arc;
use tracing::Instrument;

pub const CSP: &str = "default-src 'self'; script-src 'none'; frame-ancestors 'none'";

/// The address a request came from, for rate limits and logs.
pub fn client_addr(app: &App, req: &HttpRequest) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    if let Some(p) = peer {
        if app.config.trusted_proxies.contains(&p) {
            if let Some(fwd) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                // The right-most address not added by one of our proxies is the client.
                for hop in fwd.split(',').rev().map(str::trim) {
                    if let Ok(ip) = hop.parse::<IpAddr>() {
                        if !app.config.trusted_proxies.contains(&ip) {
                            return ip.to_string();
                        }
                    }
                }
            }
        }
    }
    peer.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into())
}

pub fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

/// The principal of a bearer credential; no header is `Anonymous`, a bad one an error.
pub async fn principal_from_bearer(app: &Arc<App>, req: &HttpRequest) -> Result<Principal, ServiceError> {
    let Some(token) = bearer(req) else { return Ok(Principal::Anonymous) };
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = app.conn()?;
        auth::resolve_bearer(&app, &mut conn, &token)
    })
    .await
    .unwrap_or_else(|e| Err(ServiceError::internal(format!("auth task: {e}"))))
}

/// The path as logged: the secret part of one-time links (invites, password resets) and
/// join shortcuts is left out, so logs never hold a usable link.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/invite/", "/reset/", "/password-reset/", "/dev/j/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.split_once('/').map(|(_, t)| format!("/{t}")).unwrap_or_default();
            return format!("{prefix}…{tail}");
        }
    }
    path.to_string()
}

/// Middleware: a request id on every log line (and in `X-Request-Id`), an access log line,
/// and the security headers on every response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| crate::keys::random_token(9));
    let span =
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %loggable_path(req.path()));
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(header::HeaderName::from_static("x-request-id"), v);
    }
    let _enter = span.enter();
    tracing::debug!(status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "done");
    Ok(res)
}

/// `GET /healthz`: 200 when the database answers within 2 s, else 503. Details only for
/// a signed-in admin.
pub async fn healthz(app: web::Data<Arc<App>>, req: HttpRequest) -> HttpResponse {
    let app = app.get_ref().clone();
    let a = app.clone();
    let check = tokio::task::spawn_blocking(move || -> Result<(i64, i64), String> {
        use diesel::prelude::*;
        let mut conn = a.pool.get().map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1").execute(&mut *conn).map_err(|e| e.to_string())?;
        let head = crate::changelog::head(&mut conn).map_err(|e| e.to_string())?;
        let jobs: i64 = crate::schema::jobs::table.count().get_result(&mut *conn).map_err(|e| e.to_string())?;
        Ok((head, jobs))
    });
    let clock = if app.clock.is_manual() { "manual" } else { "system" };
    let result = tokio::time::timeout(std::time::Duration::from_secs(2), check).await;
    let (head, jobs) = match result {
        Ok(Ok(Ok(v))) => v,
        Ok(Ok(Err(e))) => {
            tracing::warn!("health check: database: {e}");
            return HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "clock": clock }));
        }
        _ => {
            return HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "clock": clock }))
        }
    };
    let mut body = serde_json::json!({ "status": "ok", "clock": clock });
    let who = principal_from_bearer(&app, &req).await.unwrap_or(Principal::Anonymous);
    if who.require_admin().is_ok() {
        let details = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "database": app.config.database.backend_name(),
            "change_log_head": head,
            "jobs_queued": jobs,
            "search": app.search.health(head),
        });
        body["details"] = details;
    }
    HttpResponse::Ok().json(body)
}
