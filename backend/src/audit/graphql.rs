//! GraphQL for the audit log (admins only).

use super::AuditEntry;
use crate::connection;
use crate::graphql::{page_request, to_id, utc, Ctx, OrField};
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, ID};

pub struct AuditEntryGql(pub AuditEntry, pub Option<String>);

#[graphql_object(name = "AuditEntry", context = Ctx)]
/// One administrative action: who did what to which record.
impl AuditEntryGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// e.g. user.create, user.update, queue.update, token.create, token.revoke.
    fn action(&self) -> &str {
        &self.0.action
    }
    fn target_kind(&self) -> &str {
        &self.0.target_kind
    }
    fn target_id(&self) -> Option<ID> {
        self.0.target_id.map(to_id)
    }
    fn detail(&self) -> &str {
        &self.0.detail
    }
    /// Null for the system.
    fn actor_name(&self) -> Option<&str> {
        self.1.as_deref()
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

connection!(AuditEntryConnection, AuditEntryEdge, AuditEntryGql, "A page of the audit log, newest first.");

pub async fn audit_log(ctx: &Ctx, first: Option<i32>, after: Option<String>) -> FieldResult<AuditEntryConnection> {
    let req = page_request(first, after)?;
    let page = ctx.run(move |app, who| super::list(app, who, &req)).await.gql()?;
    Ok(AuditEntryConnection::from_page(page, |(e, n)| AuditEntryGql(e, n)))
}
