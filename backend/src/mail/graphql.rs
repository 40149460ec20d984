//! GraphQL for the mail gateway: the quarantine list (admins: list, release, discard), the
//! address → queue routes, a ticket's mail and attachments.

use super::{service, store};
use crate::connection;
use crate::graphql::{id_arg, page_request, payload, to_id, utc, Ctx, OrField, UserError};
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, GraphQLObject, ID};

pub struct MailMessageGql(pub store::MailMessage);

#[graphql_object(name = "MailMessage", context = Ctx)]
/// A message Wrench received or sent.
impl MailMessageGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// "in" or "out".
    fn direction(&self) -> &str {
        &self.0.direction
    }
    fn message_id(&self) -> &str {
        &self.0.message_id
    }
    /// The ticket number it was filed on or sent about.
    fn ticket_number(&self) -> Option<i32> {
        self.0.ticket_id.and_then(|t| i32::try_from(t).ok())
    }
    /// new_ticket, reply, follow_up, note, bounce, held, dropped (in); ack, reply, status (out).
    fn kind(&self) -> &str {
        &self.0.kind
    }
    /// filed, held, rejected, dropped, released, discarded (in); queued, sent (out).
    fn status(&self) -> &str {
        &self.0.status
    }
    /// Why it was held or dropped.
    fn reason(&self) -> &str {
        &self.0.reason
    }
    #[graphql(name = "fromAddress")]
    fn sender(&self) -> &str {
        &self.0.from_addr
    }
    /// The envelope recipient (in) or the recipient (out).
    fn to_address(&self) -> &str {
        &self.0.to_addr
    }
    fn subject(&self) -> &str {
        &self.0.subject
    }
    fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
    fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at.map(utc)
    }
    /// Where staff download the message exactly as it arrived or was sent (an `.eml`);
    /// none while a message is still queued, or for one that was not kept.
    fn raw_url(&self) -> Option<String> {
        self.0.raw_url()
    }
}

connection!(MailMessageConnection, MailMessageEdge, MailMessageGql, "A page of quarantined mail, newest first.");

pub struct AttachmentGql(pub store::MailAttachment);

#[graphql_object(name = "MailAttachment", context = Ctx)]
/// A file that came with a mail message.
impl AttachmentGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn filename(&self) -> &str {
        &self.0.filename
    }
    fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// For `cid:` images in the message's HTML.
    fn content_id(&self) -> Option<&str> {
        self.0.content_id.as_deref()
    }
    fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }
    fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Where to download it (for whoever may see the ticket).
    fn url(&self) -> String {
        format!("/mail/attachments/{}", self.0.id)
    }
}

/// A recipient address and the queue its mail opens tickets in.
#[derive(Debug, Clone, GraphQLObject)]
pub struct MailRoute {
    /// An address, or "default".
    pub address: String,
    pub queue_id: ID,
}

/// The outcome of releasing a held message.
#[derive(Debug, Clone, GraphQLObject)]
pub struct MailReleasePayload {
    pub ticket_number: Option<i32>,
    pub outcome: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct MailMessagePayload {
    pub message: Option<MailMessageGql>,
    pub errors: Vec<UserError>,
}

pub async fn quarantine(
    ctx: &Ctx,
    include_resolved: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<MailMessageConnection> {
    let req = page_request(first, after)?;
    let all = include_resolved.unwrap_or(false);
    let page = ctx.run(move |app, who| service::quarantine(app, who, all, &req)).await.gql()?;
    Ok(MailMessageConnection::from_page(page, MailMessageGql))
}

pub async fn ticket_mail(ctx: &Ctx, number: i32) -> FieldResult<Vec<MailMessageGql>> {
    let rows = ctx.run(move |app, who| service::ticket_mail(app, who, number.into())).await.gql()?;
    Ok(rows.into_iter().map(MailMessageGql).collect())
}

pub async fn ticket_attachments(ctx: &Ctx, number: i32) -> FieldResult<Vec<AttachmentGql>> {
    let rows = ctx.run(move |app, who| service::attachments(app, who, number.into())).await.gql()?;
    Ok(rows.into_iter().map(AttachmentGql).collect())
}

pub async fn mail_routes(ctx: &Ctx) -> FieldResult<Vec<MailRoute>> {
    let rows = ctx.run(service::routes).await.gql()?;
    Ok(rows.into_iter().map(|(address, q)| MailRoute { address, queue_id: to_id(q) }).collect())
}

pub async fn undeliverable(ctx: &Ctx, email: String) -> FieldResult<bool> {
    ctx.run(move |app, who| service::undeliverable(app, who, &email)).await.gql()
}

pub async fn release(ctx: &Ctx, id: ID) -> FieldResult<MailReleasePayload> {
    let r = ctx
        .run(move |app, who| {
            let id = id_arg("id", &id)?;
            service::release(app, who, id)
        })
        .await;
    let (r, errors) = payload(r)?;
    Ok(MailReleasePayload {
        ticket_number: r.as_ref().and_then(|r| r.ticket).and_then(|t| i32::try_from(t).ok()),
        outcome: r.map(|r| r.outcome),
        errors,
    })
}

pub async fn discard(ctx: &Ctx, id: ID) -> FieldResult<MailMessagePayload> {
    let r = ctx
        .run(move |app, who| {
            let id = id_arg("id", &id)?;
            service::discard(app, who, id)
        })
        .await;
    let (m, errors) = payload(r)?;
    Ok(MailMessagePayload { message: m.map(MailMessageGql), errors })
}

pub async fn set_route(ctx: &Ctx, address: String, queue_id: Option<ID>) -> FieldResult<Vec<UserError>> {
    let r = ctx
        .run(move |app, who| {
            let q = queue_id.as_ref().map(|q| id_arg("queueId", q)).transpose()?;
            service::set_route(app, who, &address, q)
        })
        .await;
    Ok(payload(r)?.1)
}
