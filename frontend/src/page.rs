//! What every page shares: the frame (`Chrome`: title, navigation, the viewer's name,
//! unread count, CSRF token and time zone), field errors kept beside their form, rendering,
//! and the one mapping of errors to HTML pages.

use crate::session::Viewer;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use wrench_backend::error::{FieldError, ServiceError};

/// The frame around every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub signed_in: bool,
    pub staff: bool,
    pub admin: bool,
    pub name: String,
    pub unread: i64,
    pub tz: Tz,
    /// The section highlighted in the navigation.
    pub nav: &'static str,
    /// A one-line confirmation after a form was accepted.
    pub notice: Option<&'static str>,
}

impl Chrome {
    pub fn new(v: &Viewer, title: impl Into<String>, nav: &'static str) -> Self {
        Chrome {
            title: title.into(),
            csrf: v.csrf.clone(),
            signed_in: true,
            staff: v.is_staff(),
            admin: v.is_admin(),
            name: v.name.clone(),
            unread: v.unread,
            tz: v.tz,
            nav,
            notice: None,
        }
    }

    /// For pages shown before sign-in (login, invite, errors).
    pub fn anonymous(title: impl Into<String>, csrf: String) -> Self {
        Chrome {
            title: title.into(),
            csrf,
            signed_in: false,
            staff: false,
            admin: false,
            name: String::new(),
            unread: 0,
            tz: Tz::UTC,
            nav: "",
            notice: None,
        }
    }

    /// Shows the confirmation named by `?done=` (only known keys: nothing from the URL is
    /// echoed into the page).
    pub fn with_notice(mut self, query: &crate::form::FormData) -> Self {
        self.notice = notice(query.get("done"));
        self
    }

    /// A time in the viewer's time zone, e.g. "28 Nov 2026, 14:05".
    pub fn time(&self, t: impl std::borrow::Borrow<NaiveDateTime>) -> String {
        self.tz.from_utc_datetime(t.borrow()).format("%-d %b %Y, %H:%M").to_string()
    }

    /// An optional time, or `none` when there is none.
    pub fn time_or(&self, t: &Option<NaiveDateTime>, none: &str) -> String {
        t.as_ref().map(|t| self.time(t)).unwrap_or_else(|| none.to_string())
    }

    /// The same instant for `<time datetime>`.
    pub fn iso(&self, t: impl std::borrow::Borrow<NaiveDateTime>) -> String {
        t.borrow().and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    pub fn tz_name(&self) -> &'static str {
        self.tz.name()
    }

    pub fn nav_current(&self, section: &str) -> &'static str {
        if self.nav == section {
            "page"
        } else {
            "false"
        }
    }
}

fn notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Created.",
        "saved" => "Saved.",
        "replied" => "Your reply was sent.",
        "noted" => "Internal note added.",
        "updated" => "Ticket updated.",
        "time" => "Time logged.",
        "linked" => "Tickets linked.",
        "merged" => "Tickets merged.",
        "read" => "Marked as read.",
        "revoked" => "Token revoked.",
        "password" => "Your password was changed. Sign in again with the new one.",
        "totp-off" => "Two-factor sign-in is off.",
        "signed-out" => "You are signed out.",
        "invite" => "Your password is set. Sign in with your email and the new password.",
        "reset-sent" => "If an account exists for that address, we have sent it a link to choose a new password. The link works once, for an hour.",
        "reset" => "Your password is changed and every other sign-in has ended. Sign in with the new password.",
        "joined" => "You joined this thread: you follow it and can vote and comment.",
        "voted" => "Your vote counts.",
        "unvoted" => "Your vote is withdrawn.",
        "subscribed" => "You follow this thread.",
        "unsubscribed" => "You no longer follow this thread.",
        "commented" => "Comment added.",
        "moved" => "The ticket now points to this thread.",
        "released" => "Marked released: subscribers and linked tickets are being told.",
        "mail-released" => "The held message was filed as it would have been.",
        "mail-discarded" => "The held message was discarded.",
        _ => return None,
    })
}

/// Field errors of one form, kept to show beside the fields (with the user's input).
#[derive(Debug, Clone, Default)]
pub struct Errors {
    /// Which form on the page they belong to.
    pub form: String,
    pub fields: Vec<FieldError>,
}

impl Errors {
    pub fn none() -> Self {
        Errors::default()
    }

    pub fn new(form: &str, fields: Vec<FieldError>) -> Self {
        Errors { form: form.into(), fields }
    }

    /// A user's mistake becomes field errors of `form`; anything else stays an error page.
    pub fn from_service(form: &str, e: ServiceError) -> Result<Self, WebError> {
        match e {
            ServiceError::Invalid(fields) => Ok(Errors::new(form, fields)),
            ServiceError::Conflict(msg) => Ok(Errors::new(form, vec![FieldError::new("", msg)])),
            other => Err(other.into()),
        }
    }

    /// The message for a field of a form, if any.
    pub fn get(&self, form: &str, field: &str) -> Option<&str> {
        if self.form != form {
            return None;
        }
        self.fields.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// Every message of the form, for the summary at its top.
    pub fn of(&self, form: &str) -> Vec<String> {
        if self.form != form {
            return Vec::new();
        }
        self.fields
            .iter()
            .map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", label(&e.field), e.message) })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The words a person sees for a service's field name.
fn label(field: &str) -> String {
    match field {
        "companyId" => "Company".into(),
        "requesterId" => "Requester".into(),
        "assigneeId" => "Assignee".into(),
        "queueId" => "Queue".into(),
        "emailDomains" => "Email domains".into(),
        "otherNumber" => "Other ticket".into(),
        "targetNumber" | "sourceNumber" => "Ticket to merge into".into(),
        "totpCode" | "code" => "Code".into(),
        "expiresAt" => "Expires".into(),
        other => {
            let mut c = other.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

/// Renders a page with status 200.
pub fn render<T: Template>(t: &T) -> Result<HttpResponse, WebError> {
    render_status(StatusCode::OK, t)
}

/// Renders a page with a status (422 when a form comes back with errors).
pub fn render_status<T: Template>(status: StatusCode, t: &T) -> Result<HttpResponse, WebError> {
    let body =
        t.render().map_err(|e| WebError::Internal(ServiceError::internal(format!("template: {e}")).to_string()))?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// 303 See Other: where a browser goes after a form was accepted.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// A `next` page to return to after sign-in: only a local path, never another site.
pub fn safe_next(next: &str) -> String {
    // A local path only: "/" then anything but another slash or backslash, and no control,
    // space, backslash or non-ASCII character anywhere (browsers drop tabs and turn "\\"
    // into "/", which would make "/\t/evil.example" leave the site).
    let bytes = next.as_bytes();
    let ok = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/') | Some(b'\\'))
        && bytes.iter().all(|b| (0x21..0x7f).contains(b) && *b != b'\\');
    if ok {
        next.to_string()
    } else {
        "/".into()
    }
}

/// Every way a page can fail, each mapped to one response here.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in: to the login page, coming back to this path.
    SignIn(String),
    Redirect(String),
    Forbidden,
    NotFound,
    Csrf,
    TooLarge,
    RateLimited(u64),
    BadRequest(String),
    Conflict(String),
    Internal(String),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Field errors as one line for a page ("Email: is not an address; Name: is empty").
pub fn invalid_text(errs: &[FieldError]) -> String {
    errs.iter()
        .map(|e| match label(&e.field) {
            l if l.is_empty() => e.message.clone(),
            l => format!("{l}: {}", e.message),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthenticated => WebError::SignIn("/".into()),
            ServiceError::Forbidden => WebError::Forbidden,
            ServiceError::NotFound(_) => WebError::NotFound,
            ServiceError::Invalid(errs) => WebError::BadRequest(invalid_text(&errs)),
            ServiceError::Conflict(m) => WebError::Conflict(m),
            ServiceError::RateLimited(s) => WebError::RateLimited(s),
            ServiceError::Internal(reference) => WebError::Internal(reference),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    heading: String,
    message: String,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn(_) | WebError::Redirect(_) => StatusCode::SEE_OTHER,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (heading, message) = match self {
            WebError::SignIn(next) => {
                let to = format!("/login?next={}", form_urlencoded::byte_serialize(safe_next(next).as_bytes()).collect::<String>());
                return see_other(&to);
            }
            WebError::Redirect(to) => return see_other(to),
            WebError::Forbidden => ("Not allowed", "Your account may not open this page.".to_string()),
            WebError::NotFound => ("Not found", "There is nothing here, or it is not yours to see.".to_string()),
            WebError::Csrf => (
                "Form expired",
                "This form is no longer valid (it may have been open for too long, or you signed in again). Go back, reload the page and send it again.".to_string(),
            ),
            WebError::TooLarge => ("Too large", "What you sent is too large.".to_string()),
            WebError::RateLimited(s) => ("Too many attempts", format!("Too many attempts; try again in {s} seconds.")),
            WebError::BadRequest(m) => ("Cannot do that", m.clone()),
            WebError::Conflict(m) => ("Cannot do that", m.clone()),
            WebError::Internal(reference) => (
                "Something went wrong",
                format!("Something went wrong on our side. If it happens again, tell your administrator the reference {reference}."),
            ),
        };
        let page = ErrorPage { c: Chrome::anonymous(heading, String::new()), heading: heading.into(), message };
        render_status(self.status_code(), &page)
            .unwrap_or_else(|_| HttpResponse::build(self.status_code()).body(message_only(self)))
    }
}

fn message_only(e: &WebError) -> String {
    format!("{e}")
}

/// Pagination links of offset-paged lists: the cursor of the next page, if any.
pub fn next_cursor<T>(page: &wrench_backend::paging::Page<T>) -> Option<String> {
    if page.has_next {
        page.items.last().map(|(c, _)| c.clone())
    } else {
        None
    }
}

/// Builds a query string from pairs (values URL-encoded).
pub fn query(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}
