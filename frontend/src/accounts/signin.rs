//! Signing in and out: the login form (email and password, then a two-factor code for
//! staff who use one), sign-out, the invite link a contact uses to set a password, and the
//! mailed link anyone with a password uses to choose a new one.
//! The session rules (rate limits, stages, expiry) are `accounts::sessions`.

use crate::form::{Form, FormData};
use crate::page::{render, render_status, safe_next, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, cookie, pre_session, removal, run, MaybeViewer};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::sessions::{self, Stage, COOKIE};
use wrench_backend::accounts::{invites, resets};
use wrench_backend::error::{FieldError, ServiceError};

/// `/`: the dashboard for staff, the company's tickets for contacts, else the login form.
pub async fn home(v: MaybeViewer) -> HttpResponse {
    match v.0 {
        None => see_other("/login"),
        Some(v) => match v.stage {
            Stage::Totp => see_other("/login/code"),
            Stage::Enrol => see_other("/account/security"),
            Stage::SignedIn if v.is_staff() => see_other("/dashboard"),
            Stage::SignedIn => see_other("/tickets"),
        },
    }
}

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    c: Chrome,
    email: String,
    next: String,
    errors: Errors,
}

fn login_form(
    req: &HttpRequest,
    email: String,
    next: String,
    errors: Errors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let app = app_of(req)?;
    let (csrf, new_cookie) = pre_session(&app, req);
    let q = FormData::from_query(req);
    let page = LoginPage { c: Chrome::anonymous("Sign in", csrf).with_notice(&q), email, next, errors };
    let mut res = render_status(status, &page)?;
    if let Some(c) = new_cookie {
        res.add_cookie(&c).map_err(|e| WebError::Internal(e.to_string()))?;
    }
    Ok(res)
}

pub async fn login_page(req: HttpRequest, v: MaybeViewer) -> Result<HttpResponse, WebError> {
    let q = FormData::from_query(&req);
    let next = safe_next(q.get("next"));
    if let Some(v) = v.0 {
        if v.stage == Stage::SignedIn {
            return Ok(see_other(&next));
        }
    }
    login_form(&req, q.get("email").to_string(), next, Errors::none(), StatusCode::OK)
}

pub async fn login(req: HttpRequest, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let email = f.get("email").trim().to_string();
    let next = safe_next(f.get("next"));
    if email.is_empty() || f.get("password").is_empty() {
        let mut errs = Vec::new();
        if email.is_empty() {
            errs.push(FieldError::new("email", "enter your email address"));
        }
        if f.get("password").is_empty() {
            errs.push(FieldError::new("password", "enter your password"));
        }
        return login_form(&req, email, next, Errors::new("login", errs), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let client = wrench_backend::http::client_addr(&app, &req);
    let (e, p) = (email.clone(), f.get("password").to_string());
    match run(&app, move |app| sessions::sign_in(app, &e, &p, &client)).await {
        Ok(s) => {
            let to = match s.stage {
                Stage::SignedIn => next,
                Stage::Totp => format!("/login/code?{}", crate::page::query(&[("next", next)])),
                Stage::Enrol => "/account/security".into(),
            };
            let mut res = see_other(&to);
            res.add_cookie(&cookie(&app, COOKIE, s.token)).map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(res)
        }
        Err(ServiceError::RateLimited(secs)) => login_form(
            &req,
            email,
            next,
            Errors::new("login", vec![FieldError::new("", format!("too many attempts; try again in {secs} seconds"))]),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => {
            let errors = Errors::from_service("login", e)?;
            login_form(&req, email, next, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/code.html")]
struct CodePage {
    c: Chrome,
    next: String,
    errors: Errors,
}

pub async fn code_page(req: HttpRequest, v: MaybeViewer) -> Result<HttpResponse, WebError> {
    let q = FormData::from_query(&req);
    match v.0 {
        None => Ok(see_other("/login")),
        Some(v) if v.stage != Stage::Totp => Ok(see_other("/")),
        Some(v) => render(&CodePage {
            c: Chrome::anonymous("Two-factor sign-in", v.csrf.clone()),
            next: safe_next(q.get("next")),
            errors: Errors::none(),
        }),
    }
}

pub async fn give_code(req: HttpRequest, v: MaybeViewer, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let Some(v) = v.0 else { return Ok(see_other("/login")) };
    let next = safe_next(f.get("next"));
    let (token, code) = (v.token.clone(), f.get("code").to_string());
    match run(&app, move |app| sessions::give_code(app, &token, &code)).await {
        Ok(new_token) => {
            let mut res = see_other(&next);
            res.add_cookie(&cookie(&app, COOKIE, new_token)).map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(res)
        }
        Err(e) => {
            let status = match &e {
                ServiceError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let errors = match e {
                ServiceError::RateLimited(s) => Errors::new(
                    "code",
                    vec![FieldError::new("", format!("too many attempts; try again in {s} seconds"))],
                ),
                e => Errors::from_service("code", e)?,
            };
            render_status(
                status,
                &CodePage { c: Chrome::anonymous("Two-factor sign-in", v.csrf.clone()), next, errors },
            )
        }
    }
}

pub async fn logout(req: HttpRequest, v: MaybeViewer, Form(_): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    if let Some(v) = v.0 {
        let token = v.token.clone();
        run(&app, move |app| sessions::sign_out(app, &token)).await?;
    } else if let Some(c) = req.cookie(COOKIE) {
        let token = c.value().to_string();
        run(&app, move |app| sessions::sign_out(app, &token)).await?;
    }
    let mut res = see_other("/login?done=signed-out");
    res.add_cookie(&removal(&app, COOKIE)).map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "accounts/invite.html")]
struct InvitePage {
    c: Chrome,
    name: String,
    email: String,
    token: String,
    errors: Errors,
}

pub async fn invite_page(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let token = path.into_inner();
    let t = token.clone();
    let contact = run(&app, move |app| invites::lookup(app, &t)).await?;
    let (csrf, new_cookie) = pre_session(&app, &req);
    let page = InvitePage {
        c: Chrome::anonymous("Set your password", csrf),
        name: contact.name,
        email: contact.email,
        token,
        errors: Errors::none(),
    };
    let mut res = render(&page)?;
    if let Some(c) = new_cookie {
        res.add_cookie(&c).map_err(|e| WebError::Internal(e.to_string()))?;
    }
    Ok(res)
}

pub async fn accept_invite(req: HttpRequest, path: web::Path<String>, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let token = path.into_inner();
    if f.get("password") != f.get("password2") {
        let t = token.clone();
        let contact = run(&app, move |app| invites::lookup(app, &t)).await?;
        let (csrf, _) = pre_session(&app, &req);
        let errors = Errors::new("invite", vec![FieldError::new("password2", "the two passwords differ")]);
        let page = InvitePage {
            c: Chrome::anonymous("Set your password", csrf),
            name: contact.name,
            email: contact.email,
            token,
            errors,
        };
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let (t, p) = (token.clone(), f.get("password").to_string());
    match run(&app, move |app| invites::accept(app, &t, &p)).await {
        Ok(c) => {
            Ok(see_other(&format!("/login?{}", crate::page::query(&[("done", "invite".into()), ("email", c.email)]))))
        }
        Err(e) => {
            let errors = Errors::from_service("invite", e)?;
            let t = token.clone();
            let contact = run(&app, move |app| invites::lookup(app, &t)).await?;
            let (csrf, _) = pre_session(&app, &req);
            let page = InvitePage {
                c: Chrome::anonymous("Set your password", csrf),
                name: contact.name,
                email: contact.email,
                token,
                errors,
            };
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

/// The CSRF token of a form shown before sign-in, and the pre-session cookie to set when it
/// is new. A visitor who is (half) signed in must send their session's token instead: `Form`
/// accepts only that one from them.
fn pre_sign_in_csrf(
    app: &wrench_backend::app::App,
    req: &HttpRequest,
    v: &MaybeViewer,
) -> (String, Option<actix_web::cookie::Cookie<'static>>) {
    match &v.0 {
        Some(viewer) => (viewer.csrf.clone(), None),
        None => pre_session(app, req),
    }
}

fn with_cookie(mut res: HttpResponse, c: Option<actix_web::cookie::Cookie<'static>>) -> Result<HttpResponse, WebError> {
    if let Some(c) = c {
        res.add_cookie(&c).map_err(|e| WebError::Internal(e.to_string()))?;
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "accounts/forgot.html")]
struct ForgotPage {
    c: Chrome,
    email: String,
    errors: Errors,
}

/// `/login/forgot`: asks for the address to send a reset link to.
pub async fn forgot_page(req: HttpRequest, v: MaybeViewer) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let q = FormData::from_query(&req);
    let (csrf, new_cookie) = pre_sign_in_csrf(&app, &req, &v);
    let page = ForgotPage {
        c: Chrome::anonymous("Forgot your password?", csrf),
        email: q.get("email").trim().into(),
        errors: Errors::none(),
    };
    with_cookie(render(&page)?, new_cookie)
}

/// Sends the link (when an account exists) and always answers the same way.
pub async fn forgot(req: HttpRequest, v: MaybeViewer, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let email = f.get("email").trim().to_string();
    let client = wrench_backend::http::client_addr(&app, &req);
    let e = email.clone();
    let (status, errors) = match run(&app, move |app| resets::request(app, &e, &client)).await {
        Ok(()) => return Ok(see_other("/login?done=reset-sent")),
        Err(ServiceError::RateLimited(secs)) => (
            StatusCode::TOO_MANY_REQUESTS,
            Errors::new(
                "forgot",
                vec![FieldError::new("", format!("too many requests; try again in {} minutes", secs.div_ceil(60)))],
            ),
        ),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, Errors::from_service("forgot", e)?),
    };
    let (csrf, _) = pre_sign_in_csrf(&app, &req, &v);
    render_status(status, &ForgotPage { c: Chrome::anonymous("Forgot your password?", csrf), email, errors })
}

#[derive(Template)]
#[template(path = "accounts/reset.html")]
struct ResetPage {
    c: Chrome,
    /// The account's address; `None` when the link is no good (expired, used, unknown).
    email: Option<String>,
    token: String,
    errors: Errors,
}

/// Renders the reset form for a link, or the page saying the link is no good (404).
async fn reset_form(
    req: &HttpRequest,
    v: &MaybeViewer,
    token: String,
    errors: Errors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let app = app_of(req)?;
    let t = token.clone();
    let (email, status) = match run(&app, move |app| resets::lookup(app, &t)).await {
        Ok(account) => (Some(account.email().to_string()), status),
        Err(ServiceError::NotFound(_)) => (None, StatusCode::NOT_FOUND),
        Err(e) => return Err(e.into()),
    };
    let (csrf, new_cookie) = pre_sign_in_csrf(&app, req, v);
    // The link itself is not echoed into a page that says it is no good.
    let token = if email.is_some() { token } else { String::new() };
    let page = ResetPage { c: Chrome::anonymous("Choose a new password", csrf), email, token, errors };
    with_cookie(render_status(status, &page)?, new_cookie)
}

/// `/reset/{token}`: the page a mailed reset link opens.
pub async fn reset_page(req: HttpRequest, v: MaybeViewer, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    reset_form(&req, &v, path.into_inner(), Errors::none(), StatusCode::OK).await
}

/// Sets the new password; the visitor then signs in with it (and a second factor, if any).
pub async fn reset(
    req: HttpRequest,
    v: MaybeViewer,
    path: web::Path<String>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let token = path.into_inner();
    if f.get("password") != f.get("password2") {
        let errors = Errors::new("reset", vec![FieldError::new("password2", "the two passwords differ")]);
        return reset_form(&req, &v, token, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (t, p) = (token.clone(), f.get("password").to_string());
    match run(&app, move |app| resets::reset(app, &t, &p)).await {
        Ok(account) => Ok(see_other(&format!(
            "/login?{}",
            crate::page::query(&[("done", "reset".into()), ("email", account.email().to_string())])
        ))),
        Err(ServiceError::NotFound(_)) => reset_form(&req, &v, token, Errors::none(), StatusCode::NOT_FOUND).await,
        Err(e) => {
            let errors = Errors::from_service("reset", e)?;
            reset_form(&req, &v, token, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
