//! The search index's document schema and its version. Every document is one searchable
//! thing (a ticket, a reply, a company…) with the same fields; a kind leaves the ones it has
//! no use for empty. Changing a field here means raising `SCHEMA_VERSION`: an index built
//! with another version is rebuilt from the database at start.

use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STORED,
    STRING,
};
use tantivy::{TantivyDocument, Term};

pub const SCHEMA_VERSION: u32 = 1;

/// The kinds of document, as stored in the `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    Ticket,
    Reply,
    Note,
    Company,
    Contact,
    DevThread,
    DevComment,
}

impl DocKind {
    pub const ALL: [DocKind; 7] = [
        DocKind::Ticket,
        DocKind::Reply,
        DocKind::Note,
        DocKind::Company,
        DocKind::Contact,
        DocKind::DevThread,
        DocKind::DevComment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Ticket => "ticket",
            DocKind::Reply => "reply",
            DocKind::Note => "note",
            DocKind::Company => "company",
            DocKind::Contact => "contact",
            DocKind::DevThread => "thread",
            DocKind::DevComment => "comment",
        }
    }

    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            DocKind::Ticket => "Tickets",
            DocKind::Reply => "Replies",
            DocKind::Note => "Internal notes",
            DocKind::Company => "Companies",
            DocKind::Contact => "Contacts",
            DocKind::DevThread => "Development threads",
            DocKind::DevComment => "Development comments",
        }
    }
}

/// Who may see a document, as terms of the `acl` field. Staff see everything; a contact's
/// query requires one of `public` or `company:<their company>`. A document with no acl
/// term (internal notes, staff-only threads, companies, contacts) is staff-only.
pub fn acl_company(company_id: i64) -> String {
    format!("company:{company_id}")
}
pub const ACL_PUBLIC: &str = "public";

/// A document before it becomes a tantivy document: what `documents.rs` builds per kind.
#[derive(Debug, Clone, Default)]
pub struct SearchDoc {
    pub kind: Option<DocKind>,
    /// Unique per document: "ticket:12", "entry:55", "dev_comment:3"…
    pub key: String,
    /// The change-log key whose change rebuilds this document ("ticket:12" for the ticket
    /// and each of its entries), so one delete removes everything it produced.
    pub owner: String,
    pub id: i64,
    /// The ticket number (tickets, replies, notes) or thread id (threads, comments).
    pub number: i64,
    pub subject: String,
    pub body: String,
    /// Names that free text should find (author, requester, company), not shown.
    pub names: String,
    /// "user:5" / "contact:9": who wrote it (for `from:`).
    pub authors: Vec<String>,
    pub author_name: String,
    pub company_id: Option<i64>,
    pub status: String,
    pub priority: String,
    /// 0 when unassigned.
    pub assignee_id: i64,
    pub tags: Vec<String>,
    pub acl: Vec<String>,
    /// Seconds since the epoch (UTC).
    pub created: i64,
    pub updated: i64,
    /// A short stored line shown with the hit (an email, a thread kind…).
    pub extra: String,
    /// What a ticket (or thread) shares with the documents it owns (subject, status,
    /// company, tags…). When a change leaves it as indexed, only the owner's own document
    /// is rewritten, not its whole thread.
    pub shared: String,
}

/// Field handles of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub kind: Field,
    pub key: Field,
    pub owner: Field,
    pub id: Field,
    pub number: Field,
    pub subject: Field,
    pub body: Field,
    pub names: Field,
    pub authors: Field,
    pub author_name: Field,
    pub company_id: Field,
    pub status: Field,
    pub priority: Field,
    pub assignee_id: Field,
    pub tags: Field,
    pub acl: Field,
    pub created: Field,
    pub updated: Field,
    pub extra: Field,
    pub shared: Field,
    pub facets: Field,
}

pub const FACETS: &str = "facets";
pub const UPDATED: &str = "updated";

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let text_unstored = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let int = NumericOptions::default().set_indexed().set_stored();
    let int_fast = NumericOptions::default().set_indexed().set_stored().set_fast();
    let fields = Fields {
        kind: b.add_text_field("kind", STRING | STORED),
        key: b.add_text_field("key", STRING | STORED),
        owner: b.add_text_field("owner", STRING),
        id: b.add_i64_field("id", int.clone()),
        number: b.add_i64_field("number", int.clone()),
        subject: b.add_text_field("subject", text.clone()),
        body: b.add_text_field("body", text),
        names: b.add_text_field("names", text_unstored),
        authors: b.add_text_field("authors", STRING),
        author_name: b.add_text_field("author_name", STORED),
        company_id: b.add_i64_field("company_id", int.clone()),
        status: b.add_text_field("status", STRING | STORED),
        priority: b.add_text_field("priority", STRING | STORED),
        assignee_id: b.add_i64_field("assignee_id", int),
        tags: b.add_text_field("tags", STRING | STORED),
        acl: b.add_text_field("acl", STRING),
        created: b.add_i64_field("created", int_fast.clone()),
        updated: b.add_i64_field(UPDATED, int_fast),
        extra: b.add_text_field("extra", STORED),
        shared: b.add_text_field("shared", STORED),
        facets: b.add_facet_field(FACETS, FacetOptions::default()),
    };
    (b.build(), fields)
}

impl Fields {
    /// Looks the handles up in an opened index's schema.
    pub fn of(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            kind: f("kind")?,
            key: f("key")?,
            owner: f("owner")?,
            id: f("id")?,
            number: f("number")?,
            subject: f("subject")?,
            body: f("body")?,
            names: f("names")?,
            authors: f("authors")?,
            author_name: f("author_name")?,
            company_id: f("company_id")?,
            status: f("status")?,
            priority: f("priority")?,
            assignee_id: f("assignee_id")?,
            tags: f("tags")?,
            acl: f("acl")?,
            created: f("created")?,
            updated: f(UPDATED)?,
            extra: f("extra")?,
            shared: f("shared")?,
            facets: f(FACETS)?,
        })
    }

    pub fn key_term(&self, key: &str) -> Term {
        Term::from_field_text(self.key, key)
    }

    pub fn owner_term(&self, owner: &str) -> Term {
        Term::from_field_text(self.owner, owner)
    }

    pub fn to_document(&self, d: &SearchDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        let kind = d.kind.unwrap_or(DocKind::Ticket).as_str();
        doc.add_text(self.kind, kind);
        doc.add_text(self.key, &d.key);
        doc.add_text(self.owner, &d.owner);
        doc.add_i64(self.id, d.id);
        doc.add_i64(self.number, d.number);
        doc.add_text(self.subject, &d.subject);
        doc.add_text(self.body, &d.body);
        doc.add_text(self.names, &d.names);
        for a in &d.authors {
            doc.add_text(self.authors, a);
        }
        doc.add_text(self.author_name, &d.author_name);
        if let Some(c) = d.company_id {
            doc.add_i64(self.company_id, c);
            doc.add_facet(self.facets, Facet::from_path(["company", &c.to_string()]));
        }
        if !d.status.is_empty() {
            doc.add_text(self.status, &d.status);
            doc.add_facet(self.facets, Facet::from_path(["status", d.status.as_str()]));
        }
        if !d.priority.is_empty() {
            doc.add_text(self.priority, &d.priority);
        }
        doc.add_i64(self.assignee_id, d.assignee_id);
        for t in &d.tags {
            doc.add_text(self.tags, t);
        }
        for a in &d.acl {
            doc.add_text(self.acl, a);
        }
        doc.add_i64(self.created, d.created);
        doc.add_i64(self.updated, d.updated);
        doc.add_text(self.extra, &d.extra);
        doc.add_text(self.shared, &d.shared);
        doc.add_facet(self.facets, Facet::from_path(["kind", kind]));
        doc
    }
}
