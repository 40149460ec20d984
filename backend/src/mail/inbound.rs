//! HTTP surface of the gateway: `POST /mail/inbound[?to=RECIPIENT]` (one raw message, bearer
//! `WRENCH_MAIL_TOKEN`), `GET /mail/attachments/{id}` (for whoever may see the ticket) and
//! `GET /mail/messages/{id}/raw` (a message as it arrived or was sent, an `.eml`, for staff).
//! The answer to the MTA is sent only after the message's transaction committed.

use super::service::{self, IngestError};
use crate::accounts::auth::Principal;
use crate::accounts::sessions::{self, Stage};
use crate::app::App;
use crate::error::ServiceError;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;

/// Routes of the gateway (registered in `server.rs`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/mail/inbound", web::post().to(inbound))
        .route("/mail/attachments/{id}", web::get().to(attachment))
        .route("/mail/messages/{id}/raw", web::get().to(raw_message));
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "status": "error", "error": message }))
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn inbound(app: web::Data<Arc<App>>, req: HttpRequest, mut body: web::Payload) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Some(token) = crate::http::bearer(&req) else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"wrench-mail\""))
            .json(json!({ "status": "error", "error": "send the mail token as Authorization: Bearer TOKEN" }));
    };
    let Some(expected) = app.config.mail_token.as_deref() else {
        return error(StatusCode::FORBIDDEN, "inbound mail is turned off (WRENCH_MAIL_TOKEN is not set)");
    };
    if !ct_eq(token.as_bytes(), expected.as_bytes()) {
        return error(StatusCode::FORBIDDEN, "wrong mail token");
    }
    let limit = service::max_bytes();
    let mut raw: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("reading the message: {e}")),
        };
        total += chunk.len();
        // Keep the head of an oversized message for the quarantine list, drop the rest.
        if raw.len() < limit.max(256 * 1024) {
            raw.extend_from_slice(&chunk);
        }
    }
    let recipient = query_param(&req, "to").filter(|r| !r.trim().is_empty());
    if total > limit {
        let a = app.get_ref().clone();
        let head: Vec<u8> = raw.into_iter().take(256 * 1024).collect();
        let _ = tokio::task::spawn_blocking(move || {
            let key = format!("oversize:{}", crate::keys::sha256_hex(&head));
            let reason = format!("the message is {total} bytes, over the limit of {limit}");
            service::record_rejected(&a, &key, &head, recipient.as_deref(), &reason, Some(total))
        })
        .await;
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the message is larger than the limit of {} MB; send large files another way",
                limit / (1024 * 1024)
            ),
        );
    }
    let a = app.get_ref().clone();
    let span = tracing::Span::current();
    let result =
        tokio::task::spawn_blocking(move || span.in_scope(|| service::ingest(&a, &raw, recipient.as_deref()))).await;
    match result {
        Ok(Ok(receipt)) => {
            tracing::info!(status = receipt.status, outcome = %receipt.outcome, ticket = ?receipt.ticket, "inbound mail");
            let code = if receipt.status == "accepted" || receipt.status == "duplicate" {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            HttpResponse::build(code).json(receipt)
        }
        Ok(Err(IngestError::TooLarge(l))) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the message is larger than the limit of {l} bytes"))
        }
        Ok(Err(IngestError::Unparseable(why))) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, &format!("the message cannot be read: {why}"))
        }
        Ok(Err(IngestError::Service(e))) => {
            // A database fault: answer 5xx so the MTA keeps the message and retries.
            tracing::error!("inbound mail failed: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
        Err(e) => {
            tracing::error!("inbound mail task failed: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "internal error")
        }
    }
}

/// The caller: a bearer credential, else a signed-in web session.
async fn principal(app: &Arc<App>, req: &HttpRequest) -> Result<Principal, ServiceError> {
    if crate::http::bearer(req).is_some() {
        return crate::http::principal_from_bearer(app, req).await;
    }
    let Some(token) = req.cookie(sessions::COOKIE).map(|c| c.value().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(Principal::Anonymous);
    };
    let a = app.clone();
    let resolved = tokio::task::spawn_blocking(move || sessions::resolve(&a, &token))
        .await
        .unwrap_or_else(|e| Err(ServiceError::internal(format!("session task: {e}"))))?;
    Ok(match resolved {
        Some(r) if r.stage == Stage::SignedIn => r.principal,
        _ => Principal::Anonymous,
    })
}

/// The signed-in caller, or the 401 answer for an anonymous one.
async fn signed_in(app: &Arc<App>, req: &HttpRequest) -> Result<Principal, HttpResponse> {
    match principal(app, req).await {
        Ok(Principal::Anonymous) => Err(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"wrench\""))
            .body("sign in first\n")),
        Ok(w) => Ok(w),
        Err(_) => Err(HttpResponse::Unauthorized().finish()),
    }
}

async fn attachment(app: web::Data<Arc<App>>, req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    let app = app.get_ref().clone();
    let who = match signed_in(&app, &req).await {
        Ok(w) => w,
        Err(answer) => return answer,
    };
    let id = path.into_inner();
    let r = tokio::task::spawn_blocking(move || service::download(&app, &who, id)).await;
    match r {
        Ok(Ok((a, bytes))) => {
            let inline_image = a.content_type.starts_with("image/")
                && matches!(a.content_type.as_str(), "image/png" | "image/jpeg" | "image/gif" | "image/webp");
            let safe_name: String = a
                .filename
                .chars()
                .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' })
                .collect();
            let disposition = if inline_image { "inline" } else { "attachment" };
            let ctype = if inline_image { a.content_type.clone() } else { "application/octet-stream".to_string() };
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, ctype))
                .insert_header((header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"{safe_name}\"")))
                .insert_header((header::CACHE_CONTROL, "private, no-store"))
                .body(bytes)
        }
        Ok(Err(ServiceError::NotFound(_))) | Ok(Err(ServiceError::Forbidden)) => {
            HttpResponse::NotFound().body("no such attachment\n")
        }
        Ok(Err(e)) => HttpResponse::InternalServerError().body(format!("{e}\n")),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn raw_message(app: web::Data<Arc<App>>, req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    let app = app.get_ref().clone();
    let who = match signed_in(&app, &req).await {
        Ok(w) => w,
        Err(answer) => return answer,
    };
    let id = path.into_inner();
    match tokio::task::spawn_blocking(move || service::raw_message(&app, &who, id)).await {
        // Served as a download, never rendered: the original may hold any HTML or script.
        Ok(Ok((m, raw))) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "message/rfc822"))
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"message-{}.eml\"", m.id)))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(raw),
        Ok(Err(ServiceError::NotFound(_))) | Ok(Err(ServiceError::Forbidden)) => {
            HttpResponse::NotFound().body("no such message\n")
        }
        Ok(Err(e)) => HttpResponse::InternalServerError().body(format!("{e}\n")),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
