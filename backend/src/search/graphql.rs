//! GraphQL types for search: typed hits (a union), snippets as safe HTML, facets, totals.

use super::schema::DocKind;
use super::service::{self, FacetValue, Hit, SearchResults};
use crate::graphql::{page_request, to_id, Ctx, OrField, PageInfo};
use crate::tickets::graphql::{PriorityGql, StatusGql};
use crate::tickets::model::{Priority, Status};
use chrono::{DateTime, Utc};
use juniper::{FieldResult, GraphQLObject, GraphQLUnion, ID};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn int(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A ticket whose subject or first message matched.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct TicketHit {
    pub number: i32,
    pub subject: String,
    /// The subject as HTML with the matched words in `<mark>` (escaped, safe to embed).
    pub subject_html: String,
    /// The best matching passage as HTML with `<mark>` (escaped, safe to embed).
    pub snippet_html: String,
    pub status: StatusGql,
    pub priority: PriorityGql,
    pub company_name: Option<String>,
    pub requester_name: Option<String>,
    /// Staff only (empty for customers).
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A public reply on a ticket.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct ReplyHit {
    pub id: ID,
    pub ticket_number: i32,
    pub ticket_subject: String,
    pub author_name: String,
    pub snippet_html: String,
    pub created_at: DateTime<Utc>,
}

/// An internal note (staff only).
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct NoteHit {
    pub id: ID,
    pub ticket_number: i32,
    pub ticket_subject: String,
    pub author_name: String,
    pub snippet_html: String,
    pub created_at: DateTime<Utc>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct CompanyHit {
    pub id: ID,
    pub name: String,
    pub name_html: String,
    pub snippet_html: String,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct ContactHit {
    pub id: ID,
    pub name: String,
    pub name_html: String,
    pub email: String,
    pub company_name: Option<String>,
    pub snippet_html: String,
}

/// A bug report or feature request in Development.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct DevThreadHit {
    pub id: ID,
    pub title: String,
    pub title_html: String,
    /// bug or feature
    pub kind: String,
    pub status: String,
    pub snippet_html: String,
    pub updated_at: DateTime<Utc>,
}

/// A comment on a development thread (staff notes only for staff).
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct DevCommentHit {
    pub id: ID,
    pub thread_id: ID,
    pub thread_title: String,
    /// Empty for customers looking at another customer's comment.
    pub author_name: String,
    pub internal: bool,
    pub snippet_html: String,
    pub created_at: DateTime<Utc>,
}

/// A server or workstation an agent reports on.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct AssetHit {
    pub id: ID,
    pub hostname: String,
    pub hostname_html: String,
    /// Operating system name and version.
    pub os: String,
    pub company_name: Option<String>,
    pub snippet_html: String,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(GraphQLUnion)]
#[graphql(context = Ctx)]
pub enum SearchHit {
    Ticket(TicketHit),
    Reply(ReplyHit),
    Note(NoteHit),
    Company(CompanyHit),
    Contact(ContactHit),
    DevThread(DevThreadHit),
    DevComment(DevCommentHit),
    Asset(AssetHit),
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SearchEdge {
    pub cursor: String,
    /// Relevance (with the recency boost); higher is better.
    pub score: f64,
    /// The kind of document: ticket, reply, note, company, contact, thread, comment, asset.
    pub kind: String,
    pub node: SearchHit,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SearchFacetValue {
    pub value: String,
    pub label: String,
    pub count: i32,
    /// What to add to the query to narrow the results to this value.
    pub filter: String,
}

/// How the matches divide up, over all pages.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SearchFacets {
    pub kind: Vec<SearchFacetValue>,
    pub status: Vec<SearchFacetValue>,
    /// Staff only (empty for customers).
    pub company: Vec<SearchFacetValue>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SearchConnection {
    pub edges: Vec<SearchEdge>,
    pub page_info: PageInfo,
    /// How many documents match, over all pages.
    pub total_count: i32,
    pub facets: SearchFacets,
    /// Set when the query was just the number of a ticket you may see: go there.
    pub ticket_number: Option<i32>,
    /// True when the exact words found little and these results include words with a typo.
    pub fuzzy: bool,
    /// This page's hits grouped by kind, each group where its best hit ranks.
    pub groups: Vec<SearchGroup>,
}

/// The hits of one kind on this page.
#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SearchGroup {
    /// ticket, reply, note, company, contact, thread, comment, asset.
    pub kind: String,
    /// The kind as people read it ("Tickets", "Replies"…).
    pub label: String,
    /// How many documents of this kind match, over all pages.
    pub total_count: i32,
    pub edges: Vec<SearchEdge>,
}

fn facet_values(v: Vec<FacetValue>) -> Vec<SearchFacetValue> {
    v.into_iter()
        .map(|f| SearchFacetValue {
            value: f.value,
            label: f.label,
            count: i32::try_from(f.count).unwrap_or(i32::MAX),
            filter: f.filter,
        })
        .collect()
}

fn node(h: Hit) -> SearchHit {
    match h.kind {
        DocKind::Ticket => SearchHit::Ticket(TicketHit {
            number: int(h.number),
            subject_html: h.title_html,
            subject: h.title,
            snippet_html: h.snippet_html,
            status: Status::parse(&h.status).unwrap_or(Status::Open).into(),
            priority: Priority::parse(&h.priority).unwrap_or(Priority::Normal).into(),
            company_name: h.company_name,
            requester_name: Some(h.author_name).filter(|n| !n.is_empty()),
            tags: h.tags,
            created_at: at(h.created),
            updated_at: at(h.updated),
        }),
        DocKind::Reply => SearchHit::Reply(ReplyHit {
            id: to_id(h.id),
            ticket_number: int(h.number),
            ticket_subject: h.title,
            author_name: h.author_name,
            snippet_html: h.snippet_html,
            created_at: at(h.created),
        }),
        DocKind::Note => SearchHit::Note(NoteHit {
            id: to_id(h.id),
            ticket_number: int(h.number),
            ticket_subject: h.title,
            author_name: h.author_name,
            snippet_html: h.snippet_html,
            created_at: at(h.created),
        }),
        DocKind::Company => SearchHit::Company(CompanyHit {
            id: to_id(h.id),
            name: h.title,
            name_html: h.title_html,
            snippet_html: h.snippet_html,
        }),
        DocKind::Contact => SearchHit::Contact(ContactHit {
            id: to_id(h.id),
            name: h.title,
            name_html: h.title_html,
            email: h.extra,
            company_name: h.company_name,
            snippet_html: h.snippet_html,
        }),
        DocKind::DevThread => SearchHit::DevThread(DevThreadHit {
            id: to_id(h.id),
            title: h.title,
            title_html: h.title_html,
            kind: h.extra,
            status: h.status,
            snippet_html: h.snippet_html,
            updated_at: at(h.updated),
        }),
        DocKind::DevComment => SearchHit::DevComment(DevCommentHit {
            id: to_id(h.id),
            thread_id: to_id(h.number),
            thread_title: h.title,
            author_name: h.author_name,
            internal: h.extra == "internal",
            snippet_html: h.snippet_html,
            created_at: at(h.created),
        }),
        DocKind::Asset => SearchHit::Asset(AssetHit {
            id: to_id(h.id),
            hostname: h.title,
            hostname_html: h.title_html,
            os: h.extra,
            company_name: h.company_name,
            snippet_html: h.snippet_html,
            last_seen_at: at(h.updated),
        }),
    }
}

fn edge(h: Hit) -> SearchEdge {
    SearchEdge { cursor: h.cursor.clone(), score: f64::from(h.score), kind: h.kind.as_str().to_string(), node: node(h) }
}

/// Groups the page's hits by kind, keeping relevance order inside and between groups.
fn groups(hits: &[Hit], kinds: &[FacetValue]) -> Vec<SearchGroup> {
    let mut out: Vec<SearchGroup> = Vec::new();
    for h in hits {
        let kind = h.kind.as_str();
        let at = match out.iter().position(|g| g.kind == kind) {
            Some(i) => i,
            None => {
                let total = kinds.iter().find(|f| f.value == kind).map_or(0, |f| f.count);
                out.push(SearchGroup {
                    kind: kind.to_string(),
                    label: h.kind.label().to_string(),
                    total_count: i32::try_from(total).unwrap_or(i32::MAX),
                    edges: Vec::new(),
                });
                out.len() - 1
            }
        };
        out[at].edges.push(edge(h.clone()));
    }
    out
}

pub fn connection(r: SearchResults) -> SearchConnection {
    let groups = groups(&r.hits, &r.facets.kind);
    let page_info = PageInfo {
        has_next_page: r.has_next,
        has_previous_page: r.has_previous,
        start_cursor: r.hits.first().map(|h| h.cursor.clone()),
        end_cursor: r.hits.last().map(|h| h.cursor.clone()),
    };
    SearchConnection {
        edges: r.hits.into_iter().map(edge).collect(),
        page_info,
        total_count: i32::try_from(r.total).unwrap_or(i32::MAX),
        facets: SearchFacets {
            kind: facet_values(r.facets.kind),
            status: facet_values(r.facets.status),
            company: facet_values(r.facets.company),
        },
        ticket_number: r.ticket_number.map(int),
        fuzzy: r.fuzzy,
        groups,
    }
}

pub async fn search(
    ctx: &Ctx,
    query: String,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<SearchConnection> {
    let page = page_request(first, after)?;
    let r = ctx.run(move |app, who| service::search(app, who, &query, &page)).await.gql()?;
    Ok(connection(r))
}
