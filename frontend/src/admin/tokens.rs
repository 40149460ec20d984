//! API tokens: every staff user's tokens for the admin; a new token's secret is shown
//! once, on the page that answers its creation, and never again.

use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, Admin, Viewer};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::model::{ApiToken, TokenScope, User};
use wrench_backend::accounts::service::{self as accounts, TokenInput};
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::paging::PageRequest;

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    c: Chrome,
    rows: Vec<(ApiToken, User)>,
    users: Vec<User>,
    /// The secret of the token just created: shown this once.
    secret: Option<String>,
    f: FormData,
    errors: Errors,
}

async fn page(
    req: &HttpRequest,
    v: &Viewer,
    secret: Option<String>,
    f: FormData,
    errors: Errors,
) -> Result<TokensPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (rows, users) = run(&app, move |app| {
        let rows = accounts::list_api_tokens(app, &who, true)?;
        let users = accounts::list_users(app, &who, false, &PageRequest::new(Some(100), None)?)?;
        Ok((rows, users.items.into_iter().map(|(_, u)| u).collect()))
    })
    .await?;
    Ok(TokensPage {
        c: Chrome::new(v, "API tokens", "admin").with_notice(&FormData::from_query(req)),
        rows,
        users,
        secret,
        f,
        errors,
    })
}

pub async fn list(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let f = FormData(vec![("scope".into(), "read".into()), ("days".into(), "90".into())]);
    render(&page(&req, &v, None, f, Errors::none()).await?)
}

pub async fn create(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let form = f.clone();
    let r = run(&app, move |app| {
        let mut errs = Vec::new();
        let scope = TokenScope::parse(form.get("scope"));
        if scope.is_none() {
            errs.push(FieldError::new("scope", "choose read, write or admin"));
        }
        let days = match form.int("days", "Days") {
            Ok(d) if d.is_none_or(|d| (1..=3650).contains(&d)) => d,
            Ok(_) => {
                errs.push(FieldError::new("days", "must be between 1 and 3650, or empty for no expiry"));
                None
            }
            Err(e) => {
                errs.push(e);
                None
            }
        };
        let user_id = match form.int("userId", "Owner") {
            Ok(u) => u,
            Err(e) => {
                errs.push(e);
                None
            }
        };
        if !errs.is_empty() {
            return Err(ServiceError::Invalid(errs));
        }
        let input = TokenInput {
            name: form.get("name").to_string(),
            scope: scope.unwrap_or(TokenScope::Read),
            expires_at: days.map(|d| app.now() + chrono::Duration::days(d)),
            user_id,
        };
        accounts::create_api_token(app, &who, input)
    })
    .await;
    match r {
        Ok((_, secret)) => render(
            &page(
                &req,
                &v,
                Some(secret),
                FormData(vec![("scope".into(), "read".into()), ("days".into(), "90".into())]),
                Errors::none(),
            )
            .await?,
        ),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&req, &v, None, f, Errors::from_service("token", e)?).await?,
        ),
    }
}

pub async fn revoke(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(_): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    run(&app, move |app| accounts::revoke_api_token(app, &who, id)).await?;
    Ok(see_other("/admin/tokens?done=revoked"))
}
