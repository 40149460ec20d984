//! The viewer's own settings: name, time zone (every time on every page is shown in it) and
//! password; for staff, two-factor sign-in (TOTP with a QR code, recovery codes).

use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, cookie, run, Enrolling, SignedIn, Viewer};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::auth::Principal;
use wrench_backend::accounts::service::{self as accounts, ContactInput, UserInput};
use wrench_backend::accounts::sessions::{self, Stage, COOKIE};
use wrench_backend::accounts::totp::{self, Enrolment, TotpStatus};
use wrench_backend::error::{FieldError, ServiceError};

#[derive(Template)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    c: Chrome,
    name: String,
    email: String,
    phone: String,
    timezone: String,
    zones: Vec<&'static str>,
    staff: bool,
    errors: Errors,
}

fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect()
}

async fn account_form(
    req: &HttpRequest,
    v: &Viewer,
    kept: Option<&FormData>,
    errors: Errors,
) -> Result<AccountPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (name, email, phone, timezone) = run(&app, move |app| match &who {
        Principal::Staff(s) => {
            let u = accounts::get_user(app, &who, s.user_id)?;
            Ok((u.name, u.email, String::new(), u.timezone))
        }
        Principal::Contact(c) => {
            let c = accounts::get_contact(app, &who, c.contact_id)?;
            Ok((c.name, c.email, c.phone, c.timezone))
        }
        _ => Err(ServiceError::Forbidden),
    })
    .await?;
    let keep = |field: &str, current: String| kept.map(|f| f.get(field).to_string()).unwrap_or(current);
    Ok(AccountPage {
        c: Chrome::new(v, "Your account", "account").with_notice(&FormData::from_query(req)),
        name: keep("name", name),
        email,
        phone: keep("phone", phone),
        timezone: keep("timezone", timezone),
        zones: zones(),
        staff: v.is_staff(),
        errors,
    })
}

pub async fn account_page(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    render(&account_form(&req, &v, None, Errors::none()).await?)
}

pub async fn save_account(req: HttpRequest, SignedIn(v): SignedIn, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let new_password = f.opt("new_password");
    let mut pre = Vec::new();
    if new_password.is_some() {
        if f.get("new_password") != f.get("new_password2") {
            pre.push(FieldError::new("new_password2", "the two new passwords differ"));
        }
        let (who, current) = (v.who.clone(), f.get("current_password").to_string());
        if !run(&app, move |app| accounts::verify_password(app, &who, &current)).await? {
            pre.push(FieldError::new("current_password", "that is not your current password"));
        }
    }
    if !pre.is_empty() {
        let page = account_form(&req, &v, Some(&f), Errors::new("account", pre)).await?;
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let who = v.who.clone();
    let (name, phone, tz) =
        (f.opt("name").unwrap_or_default(), f.get("phone").to_string(), f.get("timezone").to_string());
    let pw = new_password.clone();
    let current = f.opt("current_password");
    let r = run(&app, move |app| match &who {
        Principal::Staff(s) => accounts::update_user(
            app,
            &who,
            s.user_id,
            UserInput {
                name: Some(name),
                timezone: Some(tz),
                password: pw,
                current_password: current,
                ..Default::default()
            },
        )
        .map(|_| ()),
        Principal::Contact(c) => accounts::update_contact(
            app,
            &who,
            c.contact_id,
            ContactInput {
                name: Some(name),
                phone: Some(phone),
                timezone: Some(tz),
                password: pw,
                current_password: current,
                ..Default::default()
            },
        )
        .map(|_| ()),
        _ => Err(ServiceError::Forbidden),
    })
    .await;
    match r {
        // A new password ends every session, this one too: sign in again with it.
        Ok(()) if new_password.is_some() => Ok(see_other("/login?done=password")),
        Ok(()) => Ok(see_other("/account?done=saved")),
        Err(e) => {
            let errors = Errors::from_service("account", e)?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &account_form(&req, &v, Some(&f), errors).await?)
        }
    }
}

// ---------------------------------------------------------------- two-factor sign-in

#[derive(Template)]
#[template(path = "accounts/security.html")]
struct SecurityPage {
    c: Chrome,
    status: TotpStatus,
    required: bool,
    must_enrol: bool,
    enrolment: Option<Enrolment>,
    recovery_codes: Vec<String>,
    errors: Errors,
}

async fn security(req: &HttpRequest, v: &Viewer, errors: Errors, codes: Vec<String>) -> Result<SecurityPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let user_id = v.user_id().ok_or(WebError::Forbidden)?;
    let (status, required, enrolment) = run(&app, move |app| {
        let status = totp::status(app, &who, user_id)?;
        let required = totp::is_required(app, &who)?;
        let enrolment = if status.enabled { None } else { totp::pending_enrolment(app, &who)? };
        Ok((status, required, enrolment))
    })
    .await?;
    let c = if v.stage == Stage::Enrol {
        Chrome::anonymous("Set up two-factor sign-in", v.csrf.clone())
    } else {
        Chrome::new(v, "Two-factor sign-in", "account").with_notice(&FormData::from_query(req))
    };
    Ok(SecurityPage {
        c,
        status,
        required,
        must_enrol: v.stage == Stage::Enrol,
        enrolment,
        recovery_codes: codes,
        errors,
    })
}

pub async fn security_page(req: HttpRequest, Enrolling(v): Enrolling) -> Result<HttpResponse, WebError> {
    render(&security(&req, &v, Errors::none(), Vec::new()).await?)
}

pub async fn start_totp(req: HttpRequest, Enrolling(v): Enrolling, Form(_): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    match run(&app, move |app| totp::begin_enrolment(app, &who)).await {
        Ok(_) => Ok(see_other("/account/security")),
        Err(e) => render_status(
            StatusCode::CONFLICT,
            &security(&req, &v, Errors::from_service("start", e)?, Vec::new()).await?,
        ),
    }
}

pub async fn confirm_totp(req: HttpRequest, Enrolling(v): Enrolling, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, code) = (v.who.clone(), f.get("code").to_string());
    match run(&app, move |app| totp::confirm_enrolment(app, &who, &code)).await {
        Ok(codes) => {
            // A session that had to set this up first becomes a full one.
            let (v, new_cookie) = if v.stage == Stage::Enrol {
                let token = v.token.clone();
                let new_token = run(&app, move |app| sessions::finish_enrolment(app, &token)).await?;
                let mut v2 = v.clone();
                v2.csrf = sessions::csrf_token(&app.keys, &new_token);
                v2.stage = Stage::SignedIn;
                (v2, Some(cookie(&app, COOKIE, new_token)))
            } else {
                (v, None)
            };
            let mut res = render(&security(&req, &v, Errors::none(), codes).await?)?;
            if let Some(c) = new_cookie {
                res.add_cookie(&c).map_err(|e| WebError::Internal(e.to_string()))?;
            }
            Ok(res)
        }
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &security(&req, &v, Errors::from_service("confirm", e)?, Vec::new()).await?,
        ),
    }
}

pub async fn disable_totp(req: HttpRequest, SignedIn(v): SignedIn, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let user_id = v.user_id().ok_or(WebError::Forbidden)?;
    let (who, pw) = (v.who.clone(), f.get("password").to_string());
    match run(&app, move |app| totp::disable(app, &who, user_id, Some(&pw))).await {
        Ok(()) => Ok(see_other("/account/security?done=totp-off")),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &security(&req, &v, Errors::from_service("disable", e)?, Vec::new()).await?,
        ),
    }
}

pub async fn new_recovery_codes(
    req: HttpRequest,
    SignedIn(v): SignedIn,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, pw) = (v.who.clone(), f.get("password").to_string());
    match run(&app, move |app| totp::regenerate_recovery_codes(app, &who, &pw)).await {
        Ok(codes) => render(&security(&req, &v, Errors::none(), codes).await?),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &security(&req, &v, Errors::from_service("codes", e)?, Vec::new()).await?,
        ),
    }
}
