//! GraphQL for the notifications inbox.

use super::service::{self, Notification};
use crate::connection;
use crate::graphql::{ids, page_request, payload, to_id, utc, Ctx, OrField, UserError};
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, GraphQLObject, ID};

pub struct NotificationGql(pub Notification);

#[graphql_object(name = "Notification", context = Ctx)]
impl NotificationGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// ticket.new, ticket.reply, ticket.note, ticket.update…
    fn kind(&self) -> &str {
        &self.0.kind
    }
    fn title(&self) -> &str {
        &self.0.title
    }
    fn body(&self) -> &str {
        &self.0.body
    }
    fn ticket_number(&self) -> Option<i32> {
        self.0.ticket_id.and_then(|t| i32::try_from(t).ok())
    }
    /// A path in the web UI.
    fn link(&self) -> &str {
        &self.0.link
    }
    fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

connection!(NotificationConnection, NotificationEdge, NotificationGql, "A page of notifications, newest first.");

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct MarkNotificationsReadPayload {
    /// How many notifications changed from unread to read.
    pub marked: i32,
    pub errors: Vec<UserError>,
}

pub async fn notifications(
    ctx: &Ctx,
    unread_only: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<NotificationConnection> {
    let req = page_request(first, after)?;
    let unread = unread_only.unwrap_or(false);
    let page = ctx.run(move |app, who| service::list(app, who, unread, &req)).await.gql()?;
    Ok(NotificationConnection::from_page(page, NotificationGql))
}

pub async fn mark_notifications_read(ctx: &Ctx, ids_in: Option<Vec<ID>>) -> FieldResult<MarkNotificationsReadPayload> {
    let all = ids_in.is_none();
    let r = ctx
        .run(move |app, who| {
            let list = ids("ids", &ids_in)?;
            service::mark_read(app, who, if all { None } else { Some(&list) })
        })
        .await;
    let (n, errors) = payload(r)?;
    Ok(MarkNotificationsReadPayload { marked: n.map(|n| i32::try_from(n).unwrap_or(i32::MAX)).unwrap_or(0), errors })
}
