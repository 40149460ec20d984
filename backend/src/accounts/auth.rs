//! Who is calling: the `Principal`, and how a bearer credential becomes one.
//! - JWTs from `login`, signed with the derived JWT key (its id in the header), with a
//!   stated lifetime and the account's `auth_version`: deactivating an account or changing
//!   its password bumps the version, so every earlier JWT stops working at once.
//! - API tokens `wrn_…`: random, shown once, stored as a SHA-256 hash, scoped, optionally
//!   expiring, revocable, and tied to the owner's `auth_version` in the same way.

use super::model::{Contact, Role, TokenScope, User};
use crate::app::App;
use crate::error::{ServiceError, ServiceResult};
use crate::keys::Purpose;
use crate::schema::{api_tokens, contacts, users};
use chrono::Duration;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const JWT_LIFETIME_HOURS: i64 = 12;
pub const API_TOKEN_PREFIX: &str = "wrn_";

/// What a credential may do. Sign-ins (JWT, web session) are `Full`; API tokens carry the
/// scope they were created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Full,
    Token(TokenScope),
}

#[derive(Debug, Clone)]
pub struct StaffPrincipal {
    pub user_id: i64,
    pub role: Role,
    pub scope: Scope,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct ContactPrincipal {
    pub contact_id: i64,
    pub company_id: i64,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Staff(StaffPrincipal),
    Contact(ContactPrincipal),
    /// Background work acting on the system's behalf (auto-close, SLA escalation…).
    System,
}

impl Principal {
    pub fn staff(user: &User, scope: Scope) -> Self {
        Principal::Staff(StaffPrincipal {
            user_id: user.id,
            role: user.role(),
            scope,
            name: user.name.clone(),
            email: user.email.clone(),
        })
    }

    pub fn contact(c: &Contact) -> Self {
        Principal::Contact(ContactPrincipal {
            contact_id: c.id,
            company_id: c.company_id,
            name: c.name.clone(),
            email: c.email.clone(),
        })
    }

    pub fn is_staff(&self) -> bool {
        matches!(self, Principal::Staff(_) | Principal::System)
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::Staff(s) => Some(s.user_id),
            _ => None,
        }
    }

    pub fn contact_id(&self) -> Option<i64> {
        match self {
            Principal::Contact(c) => Some(c.contact_id),
            _ => None,
        }
    }

    /// Anyone signed in (or the system) may read what their role allows.
    pub fn require_signed_in(&self) -> ServiceResult<()> {
        match self {
            Principal::Anonymous => Err(ServiceError::Unauthenticated),
            _ => Ok(()),
        }
    }

    /// Staff (or the system), with a credential allowed to read.
    pub fn require_staff(&self) -> ServiceResult<&Self> {
        match self {
            Principal::Anonymous => Err(ServiceError::Unauthenticated),
            Principal::Contact(_) => Err(ServiceError::Forbidden),
            _ => Ok(self),
        }
    }

    /// May this credential change things? (Read-only API tokens may not.)
    pub fn require_write(&self) -> ServiceResult<()> {
        match self {
            Principal::Anonymous => Err(ServiceError::Unauthenticated),
            Principal::Staff(StaffPrincipal { scope: Scope::Token(TokenScope::Read), .. }) => {
                Err(ServiceError::Forbidden)
            }
            _ => Ok(()),
        }
    }

    /// Staff allowed to write.
    pub fn require_staff_write(&self) -> ServiceResult<()> {
        self.require_staff()?;
        self.require_write()
    }

    /// An admin with a credential that carries admin rights.
    pub fn require_admin(&self) -> ServiceResult<()> {
        match self {
            Principal::Anonymous => Err(ServiceError::Unauthenticated),
            Principal::System => Ok(()),
            Principal::Staff(s)
                if s.role == Role::Admin && matches!(s.scope, Scope::Full | Scope::Token(TokenScope::Admin)) =>
            {
                Ok(())
            }
            _ => Err(ServiceError::Forbidden),
        }
    }

    /// The company a contact is confined to; `None` for staff, who see every company.
    pub fn confined_to_company(&self) -> Option<i64> {
        match self {
            Principal::Contact(c) => Some(c.company_id),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// "u:ID" for staff, "c:ID" for contacts.
    sub: String,
    ver: i64,
    iat: i64,
    exp: i64,
}

/// Issues a JWT for a staff user or contact.
pub fn issue_jwt(app: &App, subject: &Subject) -> ServiceResult<String> {
    let key = app.keys.current(Purpose::Jwt);
    let now = app.clock.now();
    let (sub, ver) = match subject {
        Subject::User(u) => (format!("u:{}", u.id), u.auth_version),
        Subject::Contact(c) => (format!("c:{}", c.id), c.auth_version),
    };
    let claims =
        Claims { sub, ver, iat: now.timestamp(), exp: (now + Duration::hours(JWT_LIFETIME_HOURS)).timestamp() };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.id.clone());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key.bytes))
        .map_err(|e| ServiceError::internal(format!("signing a JWT: {e}")))
}

pub enum Subject {
    User(User),
    Contact(Contact),
}

/// Turns a bearer credential (JWT or API token) into a principal; any problem is
/// `Unauthenticated`, without saying which check failed.
pub fn resolve_bearer(app: &App, conn: &mut crate::db::DbConn, token: &str) -> ServiceResult<Principal> {
    if token.starts_with(API_TOKEN_PREFIX) {
        resolve_api_token(app, conn, token)
    } else {
        resolve_jwt(app, conn, token)
    }
}

fn resolve_jwt(app: &App, conn: &mut crate::db::DbConn, token: &str) -> ServiceResult<Principal> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| ServiceError::Unauthenticated)?;
    let kid = header.kid.ok_or(ServiceError::Unauthenticated)?;
    let key = app.keys.by_id(Purpose::Jwt, &kid).ok_or(ServiceError::Unauthenticated)?;
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below against the injected clock, not the system clock.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key.bytes), &validation)
        .map_err(|_| ServiceError::Unauthenticated)?;
    let claims = data.claims;
    if claims.exp <= app.clock.now().timestamp() {
        return Err(ServiceError::Unauthenticated);
    }
    let (kind, id) = claims.sub.split_once(':').ok_or(ServiceError::Unauthenticated)?;
    let id: i64 = id.parse().map_err(|_| ServiceError::Unauthenticated)?;
    match kind {
        "u" => {
            let user: User = users::table
                .find(id)
                .select(User::as_select())
                .first(conn)
                .optional()?
                .ok_or(ServiceError::Unauthenticated)?;
            if !user.active || user.auth_version != claims.ver {
                return Err(ServiceError::Unauthenticated);
            }
            Ok(Principal::staff(&user, Scope::Full))
        }
        "c" => {
            let c: Contact = contacts::table
                .find(id)
                .select(Contact::as_select())
                .first(conn)
                .optional()?
                .ok_or(ServiceError::Unauthenticated)?;
            if !c.active || c.auth_version != claims.ver {
                return Err(ServiceError::Unauthenticated);
            }
            Ok(Principal::contact(&c))
        }
        _ => Err(ServiceError::Unauthenticated),
    }
}

fn resolve_api_token(app: &App, conn: &mut crate::db::DbConn, token: &str) -> ServiceResult<Principal> {
    let hash = crate::keys::sha256_hex(token.as_bytes());
    let now = app.now();
    let row: Option<(super::model::ApiToken, User)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .select((super::model::ApiToken::as_select(), User::as_select()))
        .first(conn)
        .optional()?;
    let (tok, user) = row.ok_or(ServiceError::Unauthenticated)?;
    let expired = tok.expires_at.is_some_and(|e| e <= now);
    if tok.revoked_at.is_some() || expired || !user.active || tok.auth_version != user.auth_version {
        return Err(ServiceError::Unauthenticated);
    }
    let scope = TokenScope::parse(&tok.scope).ok_or(ServiceError::Unauthenticated)?;
    // Last use is informational: record it at most once a minute to keep reads cheap.
    if tok.last_used_at.is_none_or(|t| now - t > Duration::minutes(1)) {
        let _ = diesel::update(api_tokens::table.find(tok.id)).set(api_tokens::last_used_at.eq(now)).execute(conn);
    }
    Ok(Principal::staff(&user, Scope::Token(scope)))
}

/// A fresh API token: the secret shown once, and its hash and display prefix to store.
pub fn new_api_token() -> (String, String, String) {
    let secret = format!("{API_TOKEN_PREFIX}{}", crate::keys::random_token(30).replace(['-', '_'], "x"));
    let hash = crate::keys::sha256_hex(secret.as_bytes());
    let prefix = secret.chars().take(10).collect();
    (secret, hash, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role, scope: Scope) -> Principal {
        Principal::Staff(StaffPrincipal { user_id: 1, role, scope, name: "A".into(), email: "a@x".into() })
    }

    #[test]
    fn permission_matrix() {
        let admin = staff(Role::Admin, Scope::Full);
        let tech = staff(Role::Technician, Scope::Full);
        let read_token = staff(Role::Admin, Scope::Token(TokenScope::Read));
        let write_token = staff(Role::Admin, Scope::Token(TokenScope::Write));
        let contact = Principal::Contact(ContactPrincipal {
            contact_id: 1,
            company_id: 2,
            name: "C".into(),
            email: "c@x".into(),
        });

        assert!(admin.require_admin().is_ok());
        assert!(matches!(tech.require_admin(), Err(ServiceError::Forbidden)));
        assert!(
            matches!(write_token.require_admin(), Err(ServiceError::Forbidden)),
            "admin rights need an admin-scoped token"
        );
        assert!(read_token.require_staff().is_ok());
        assert!(matches!(read_token.require_write(), Err(ServiceError::Forbidden)));
        assert!(matches!(contact.require_staff(), Err(ServiceError::Forbidden)));
        assert!(contact.require_write().is_ok());
        assert_eq!(contact.confined_to_company(), Some(2));
        assert_eq!(admin.confined_to_company(), None);
        assert!(matches!(Principal::Anonymous.require_signed_in(), Err(ServiceError::Unauthenticated)));
    }

    #[test]
    fn api_tokens_are_prefixed_and_hashed() {
        let (secret, hash, prefix) = new_api_token();
        assert!(secret.starts_with("wrn_") && secret.len() > 40);
        assert_eq!(hash, crate::keys::sha256_hex(secret.as_bytes()));
        assert!(secret.starts_with(&prefix));
    }
}
