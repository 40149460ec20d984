//! Who is looking at a page: the session cookie resolved through
//! `accounts::sessions` (the same principal, permissions and deactivation rules as the API),
//! as actix extractors so a handler's signature says who may call it:
//! `SignedIn` (anyone signed in), `Staff`, `Admin`, and `MaybeViewer` for public pages.

use crate::page::WebError;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono_tz::Tz;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wrench_backend::accounts::auth::Principal;
use wrench_backend::accounts::model::Role;
use wrench_backend::accounts::sessions::{self, Stage, COOKIE, PRE_COOKIE};
use wrench_backend::app::App;
use wrench_backend::error::ServiceError;

/// The signed-in person behind a request, with what every page's frame shows.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub who: Principal,
    /// The session cookie's value (to sign out, and to derive the CSRF token).
    pub token: String,
    pub csrf: String,
    pub tz: Tz,
    pub name: String,
    pub unread: i64,
    pub stage: Stage,
}

impl Viewer {
    pub fn is_staff(&self) -> bool {
        matches!(self.who, Principal::Staff(_))
    }
    pub fn is_admin(&self) -> bool {
        matches!(&self.who, Principal::Staff(s) if s.role == Role::Admin)
    }
    pub fn user_id(&self) -> Option<i64> {
        self.who.user_id()
    }
}

pub fn app_of(req: &HttpRequest) -> Result<Arc<App>, WebError> {
    req.app_data::<web::Data<Arc<App>>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| WebError::Internal("the app is not configured".into()))
}

/// Runs a (synchronous, diesel) service call on the blocking pool.
pub async fn run<T, F>(app: &Arc<App>, f: F) -> Result<T, ServiceError>
where
    T: Send + 'static,
    F: FnOnce(&App) -> Result<T, ServiceError> + Send + 'static,
{
    let app = app.clone();
    // Keep the request's span (and its request id) on log lines from the blocking pool.
    let span = tracing::Span::current();
    match web::block(move || span.in_scope(|| f(&app))).await {
        Ok(r) => r,
        Err(e) => Err(ServiceError::internal(format!("blocking task: {e}"))),
    }
}

pub async fn resolve(req: &HttpRequest) -> Result<Option<Viewer>, WebError> {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let app = app_of(req)?;
    let t = token.clone();
    let found = run(&app, move |app| {
        let Some(r) = sessions::resolve(app, &t)? else { return Ok(None) };
        let unread = if r.stage == Stage::SignedIn {
            wrench_backend::notifications::service::unread_count(app, &r.principal)?
        } else {
            0
        };
        Ok(Some((r, unread)))
    })
    .await?;
    Ok(found.map(|(r, unread)| {
        let name = match &r.principal {
            Principal::Staff(s) => s.name.clone(),
            Principal::Contact(c) => c.name.clone(),
            _ => String::new(),
        };
        Viewer {
            csrf: sessions::csrf_token(&app.keys, &token),
            token,
            tz: r.timezone.parse().unwrap_or(Tz::UTC),
            name,
            unread,
            stage: r.stage,
            who: r.principal,
        }
    }))
}

/// Where to come back to after signing in: this request's path and query.
fn here(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_string(),
        None => "/".into(),
    }
}

async fn signed_in(req: HttpRequest) -> Result<Viewer, WebError> {
    match resolve(&req).await? {
        None => Err(WebError::SignIn(here(&req))),
        Some(v) => match v.stage {
            Stage::SignedIn => Ok(v),
            Stage::Totp => Err(WebError::Redirect("/login/code".into())),
            Stage::Enrol => Err(WebError::Redirect("/account/security".into())),
        },
    }
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, WebError>>>>;

/// Anyone signed in (staff or contact).
pub struct SignedIn(pub Viewer);
/// Staff only; contacts are refused.
pub struct Staff(pub Viewer);
/// Admins only.
pub struct Admin(pub Viewer);
/// Signed in, or half signed in because two-factor sign-in must be set up first (the
/// security page is the one page such a session may use).
pub struct Enrolling(pub Viewer);
/// Public pages: whoever it is, if anyone.
pub struct MaybeViewer(pub Option<Viewer>);

impl FromRequest for SignedIn {
    type Error = WebError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(req).await.map(SignedIn) })
    }
}

impl FromRequest for Staff {
    type Error = WebError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let v = signed_in(req).await?;
            if v.is_staff() {
                Ok(Staff(v))
            } else {
                Err(WebError::Forbidden)
            }
        })
    }
}

impl FromRequest for Admin {
    type Error = WebError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let v = signed_in(req).await?;
            if v.is_admin() {
                Ok(Admin(v))
            } else {
                Err(WebError::Forbidden)
            }
        })
    }
}

impl FromRequest for Enrolling {
    type Error = WebError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match resolve(&req).await? {
                None => Err(WebError::SignIn(here(&req))),
                Some(v) if v.stage == Stage::Totp => Err(WebError::Redirect("/login/code".into())),
                Some(v) if !v.is_staff() => Err(WebError::Forbidden),
                Some(v) => Ok(Enrolling(v)),
            }
        })
    }
}

impl FromRequest for MaybeViewer {
    type Error = WebError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(&req).await.map(MaybeViewer) })
    }
}

/// A cookie as the UI sets them: HttpOnly, SameSite=Lax, path /, Secure over HTTPS.
pub fn cookie(app: &App, name: &'static str, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    c.set_secure(app.config.is_https());
    c
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(app: &App, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(app, name, String::new());
    c.make_removal();
    c
}

/// The pre-session cookie of an anonymous visitor (made if missing) and the CSRF token of
/// the forms shown to them. Returns the cookie to set when it is new.
pub fn pre_session(app: &App, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(PRE_COOKIE).map(|c| c.value().to_string()).filter(|v| v.len() >= 16 && v.len() <= 100) {
        Some(v) => (sessions::csrf_token(&app.keys, &v), None),
        None => {
            let v = wrench_backend::keys::random_token(24);
            let token = sessions::csrf_token(&app.keys, &v);
            (token, Some(cookie(app, PRE_COOKIE, v)))
        }
    }
}
