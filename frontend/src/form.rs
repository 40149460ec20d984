//! Submitted forms and query strings. `Form` is the one way a handler receives a POST: it
//! refuses (403) any form whose `csrf_token` does not derive from the sender's session (or
//! pre-session) cookie, so no state-changing handler can forget the check.

use crate::page::WebError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;
use wrench_backend::accounts::sessions::{self, COOKIE, PRE_COOKIE};

/// Name/value pairs in their order; a name may repeat (checkboxes, multi-selects).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(raw: &[u8]) -> Self {
        FormData(form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub fn from_query(req: &HttpRequest) -> Self {
        FormData::parse(req.query_string().as_bytes())
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// The value, trimmed, or `None` when empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()).collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A whole number, `Ok(None)` when empty, or an error naming the field.
    pub fn int(&self, name: &str, label: &str) -> Result<Option<i64>, wrench_backend::error::FieldError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => {
                v.trim_start_matches('#').parse::<i64>().map(Some).map_err(|_| {
                    wrench_backend::error::FieldError::new(name, format!("{label} must be a whole number"))
                })
            }
        }
    }

    /// Whether `name` was sent with `value` (a checked checkbox, a selected option).
    pub fn contains(&self, name: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v == value)
    }
}

/// A POSTed form whose CSRF token has been checked.
pub struct Form(pub FormData);

impl FromRequest for Form {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| WebError::TooLarge)?;
            let form = FormData::parse(&body);
            let app = crate::session::app_of(&req)?;
            let token = form.get("csrf_token");
            // Signed in, only the session's own token counts: a pre-session cookie planted by
            // a sibling site must not be able to vouch for a forged form.
            let signed_in = req.cookie(COOKIE).is_some() && matches!(crate::session::resolve(&req).await, Ok(Some(_)));
            let cookies: &[&str] = if signed_in { &[COOKIE] } else { &[COOKIE, PRE_COOKIE] };
            let ok = cookies
                .iter()
                .filter_map(|name| req.cookie(name))
                .any(|c| sessions::csrf_ok(&app.keys, c.value(), token));
            if ok {
                Ok(Form(form))
            } else {
                Err(WebError::Csrf)
            }
        })
    }
}
