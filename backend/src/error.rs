//! The one error type services return, designed once:
//! - the data layer returns plain `diesel::QueryResult`; `diesel::NotFound` becomes `NotFound`;
//! - a user's mistake is `Invalid` (field-level messages saying what to change), `Conflict`,
//!   `Forbidden`, `NotFound`, `RateLimited` or `Unauthenticated`;
//! - anything else is `Internal`: logged once with its context under a reference id, and only
//!   that reference is shown to the caller.
//!
//! GraphQL (`graphql::errors`), HTML pages and the HTTP endpoints each map it in one place.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("you are not allowed to do that")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {0} seconds")]
    RateLimited(u64),
    #[error("internal error (reference {0})")]
    Internal(String),
}

fn invalid_summary(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(field, message)])
    }

    /// Logs an unexpected fault with its context and returns the error carrying only a reference.
    pub fn internal(context: impl std::fmt::Display) -> Self {
        let reference = crate::keys::random_token(6);
        tracing::error!(reference = %reference, "internal error: {context}");
        ServiceError::Internal(reference)
    }

    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ServiceError::Invalid(errs) => errs.clone(),
            other => vec![FieldError::new("", other.to_string())],
        }
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ServiceError::NotFound("record"),
            other => ServiceError::internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ServiceError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ServiceError::internal(format!("database pool: {e}"))
    }
}

impl From<validator::ValidationErrors> for ServiceError {
    fn from(errs: validator::ValidationErrors) -> Self {
        let mut out = Vec::new();
        for (field, kinds) in errs.field_errors() {
            for k in kinds {
                let message =
                    k.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| format!("is invalid ({})", k.code));
                out.push(FieldError::new(camel_case(&field), message));
            }
        }
        out.sort_by(|a, b| a.field.cmp(&b.field));
        ServiceError::Invalid(out)
    }
}

/// `company_id` → `companyId`, so field errors name the GraphQL and form field the user sent.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Collects field errors while validating by hand, then fails once with all of them.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn new() -> Self {
        Checks(Vec::new())
    }
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }
    pub fn merge(&mut self, r: Result<(), validator::ValidationErrors>) {
        if let Err(e) = r {
            if let ServiceError::Invalid(v) = ServiceError::from(e) {
                self.0.extend(v);
            }
        }
    }
    pub fn finish(self) -> ServiceResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self.0))
        }
    }
}
