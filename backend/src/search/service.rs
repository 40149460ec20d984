//! Searching, with the caller's permissions inside the tantivy query: a contact's query
//! requires a document visible to their company (or public), so hits, totals, facet counts
//! and pages all agree; internal notes and staff-only documents never match for them.

use super::query::{self, Atom, Builder, Lookup, Parsed};
use super::schema::{acl_company, DocKind, Fields, ACL_PUBLIC, FACETS, UPDATED};
use crate::accounts::auth::Principal;
use crate::app::App;
use crate::db::DbConn;
use crate::error::{ServiceError, ServiceResult};
use crate::paging::{encode_cursor, PageRequest};
use crate::schema::{companies, contacts, users};
use diesel::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tantivy::collector::{Count, FacetCollector, FacetCounts, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentReader, TantivyDocument, Term};

/// When the exact words find fewer hits than this, words of five letters or more are
/// matched with a typo too.
pub const FUZZY_BELOW: usize = 3;
const SNIPPET_CHARS: usize = 200;
const FACET_LIMIT: usize = 20;
/// Recency: a document updated now scores up to this much more; the bonus halves every
/// `HALF_LIFE_DAYS`.
const RECENCY_BONUS: f32 = 0.5;
const HALF_LIFE_DAYS: f32 = 30.0;

#[derive(Debug, Clone)]
pub struct Hit {
    pub cursor: String,
    pub score: f32,
    pub kind: DocKind,
    pub id: i64,
    /// Ticket number (tickets, replies, notes) or thread id (threads, comments).
    pub number: i64,
    /// Safe HTML: the subject (or name, or title) with matches in `<mark>`.
    pub title_html: String,
    pub title: String,
    /// Safe HTML: the best passage of the text with matches in `<mark>`.
    pub snippet_html: String,
    pub status: String,
    pub priority: String,
    pub company_id: Option<i64>,
    pub company_name: Option<String>,
    pub author_name: String,
    pub tags: Vec<String>,
    pub extra: String,
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone)]
pub struct FacetValue {
    /// What to add to the query to narrow to this value (`status:open`, `kind:note`…).
    pub filter: String,
    pub value: String,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Facets {
    pub kind: Vec<FacetValue>,
    pub status: Vec<FacetValue>,
    pub company: Vec<FacetValue>,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    pub total: i64,
    pub facets: Facets,
    /// The query was just a ticket number the caller may see: go there.
    pub ticket_number: Option<i64>,
    /// The exact words found little; these results also match words with a typo.
    pub fuzzy: bool,
    pub has_next: bool,
    pub has_previous: bool,
    /// Cursor of the page before this one (for "previous" links), when there is one.
    pub previous_cursor: Option<String>,
    pub offset: i64,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("query", message)
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("search: {e}"))
}

/// Searches everything the caller may see.
pub fn search(app: &App, who: &Principal, text: &str, page: &PageRequest) -> ServiceResult<SearchResults> {
    who.require_signed_in()?;
    let now = app.now().and_utc().timestamp();
    let parsed = query::parse(text, now).map_err(|e| invalid(e.0))?;
    if who.confined_to_company().is_some()
        && parsed.uses(|a| matches!(a, Atom::Lookup(Lookup::Assignee, _) | Atom::Tag(_)))
    {
        return Err(invalid("assignee: and tag: are for staff; search by words, status, number or date"));
    }
    let offset = page.offset()?;
    let g = app
        .search
        .current()
        .ok_or_else(|| ServiceError::Conflict("the search index is being built; try again in a moment".into()))?;
    let mut conn = app.conn()?;
    let resolved = resolve(&mut conn, who, &parsed)?;
    let ticket_number = match parsed.ticket_number() {
        Some(n) => crate::tickets::service::visible(&mut conn, who, n).ok().map(|t| t.id),
        None => None,
    };
    drop(conn);

    let analyzer = g.index.tokenizer_for_field(g.fields.body).map_err(internal)?;
    let mut builder = Builder { fields: &g.fields, analyzer: analyzer.clone(), resolved: &resolved, fuzzy: false };
    let Some(user_query) = builder.build(&parsed) else {
        return Err(invalid("there is nothing to search for in that: use letters or numbers"));
    };
    let highlight = builder.highlight_terms(&parsed);
    let limit = page.first as usize;
    // One searcher for the whole request: the indexer may reload the reader at any moment, and
    // document addresses are only valid in the searcher that produced them.
    let searcher = g.reader.searcher();
    let mut found = run(&searcher, permitted(who, &g.fields, user_query), offset as usize, limit + 1, now)?;
    let mut fuzzy = false;
    let typo_words = parsed.fuzzy_words();
    if found.total < FUZZY_BELOW && !typo_words.is_empty() {
        builder.fuzzy = true;
        if let Some(q) = builder.build(&parsed) {
            let again = run(&searcher, permitted(who, &g.fields, q), offset as usize, limit + 1, now)?;
            if again.total > found.total {
                found = again;
                fuzzy = true;
            }
        }
    }
    let has_next = found.top.len() > limit;
    found.top.truncate(limit);
    let mut hits = Vec::with_capacity(found.top.len());
    let highlighter = Highlighter::new(&highlight, if fuzzy { typo_words } else { Vec::new() }, analyzer);
    for (i, (score, addr)) in found.top.iter().enumerate() {
        let doc: TantivyDocument = searcher.doc(*addr).map_err(internal)?;
        let mut hit = to_hit(&g.fields, &doc, &highlighter, *score);
        hit.cursor = encode_cursor(&format!("o:{}", offset + i as i64));
        if !who.is_staff() {
            // Tags are staff-only; customers see other customers' comments without a name.
            hit.tags.clear();
            if hit.kind == DocKind::DevComment {
                hit.author_name.clear();
            }
        }
        hits.push(hit);
    }
    let company_ids: BTreeSet<i64> =
        hits.iter().filter_map(|h| h.company_id).chain(company_facet_ids(&found.facets)).collect();
    let mut conn = app.conn()?;
    let names = company_names(&mut conn, &company_ids.into_iter().collect::<Vec<_>>())?;
    for h in &mut hits {
        h.company_name = h.company_id.and_then(|c| names.get(&c).cloned());
    }
    let facets = facets(&found.facets, &names, who);
    let previous_cursor = (offset > 0).then(|| {
        let prev = offset - page.first;
        if prev <= 0 {
            String::new()
        } else {
            encode_cursor(&format!("o:{}", prev - 1))
        }
    });
    Ok(SearchResults {
        hits,
        total: found.total as i64,
        facets,
        ticket_number,
        fuzzy,
        has_next,
        has_previous: offset > 0,
        previous_cursor,
        offset,
    })
}

/// The index's figures (admins only): generation, size, lag, documents by kind.
pub fn index_status(app: &App, who: &Principal) -> ServiceResult<super::IndexStatus> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let head = crate::changelog::head(&mut conn)?;
    Ok(app.search.status(head))
}

/// The user's query, restricted to what the caller may see. Staff see every document; a
/// contact only public documents and those of their company (internal notes and
/// staff-only documents carry neither term).
pub fn permitted(who: &Principal, f: &Fields, q: Box<dyn Query>) -> Box<dyn Query> {
    let Some(company) = who.confined_to_company() else { return q };
    let acl = |v: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(f.acl, v), IndexRecordOption::Basic))
    };
    let visible =
        BooleanQuery::new(vec![(Occur::Should, acl(ACL_PUBLIC)), (Occur::Should, acl(&acl_company(company)))]);
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, q),
        (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(visible), 0.0))),
    ]))
}

struct Found {
    top: Vec<(Score, DocAddress)>,
    total: usize,
    facets: FacetCounts,
}

fn run(searcher: &Searcher, q: Box<dyn Query>, offset: usize, limit: usize, now: i64) -> ServiceResult<Found> {
    let top = TopDocs::with_limit(limit).and_offset(offset).tweak_score(move |seg: &SegmentReader| {
        let updated = seg.fast_fields().i64(UPDATED).ok().map(|c| c.first_or_default_col(now));
        move |doc: DocId, score: Score| {
            let at = updated.as_ref().map(|c| c.get_val(doc)).unwrap_or(now);
            let age_days = (now - at).max(0) as f32 / 86_400.0;
            score * (1.0 + RECENCY_BONUS * 0.5f32.powf(age_days / HALF_LIFE_DAYS))
        }
    });
    let mut fc = FacetCollector::for_field(FACETS);
    fc.add_facet("/kind");
    fc.add_facet("/status");
    fc.add_facet("/company");
    let (top, total, facets) = searcher.search(&*q, &(top, Count, fc)).map_err(internal)?;
    Ok(Found { top, total, facets })
}

/// Names typed after `from:`, `company:` and `assignee:`, looked up in the database.
fn resolve(
    conn: &mut DbConn,
    who: &Principal,
    parsed: &Parsed,
) -> ServiceResult<BTreeMap<(Lookup, String), Vec<String>>> {
    let mut out = BTreeMap::new();
    for (lookup, value) in parsed.lookups() {
        let v = value.trim().to_lowercase();
        let pat = format!("%{}%", crate::accounts::service::escape_like(&v));
        let like = |col: &str| {
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("lower({col}) LIKE "))
                .bind::<diesel::sql_types::Text, _>(pat.clone())
                .sql(" ESCAPE '\\'")
        };
        let values: Vec<String> = match lookup {
            Lookup::Company => {
                let exact: Vec<i64> =
                    companies::table.filter(companies::name_key.eq(&v)).select(companies::id).load(conn)?;
                let ids = if exact.is_empty() {
                    companies::table.filter(like("companies.name")).select(companies::id).limit(50).load(conn)?
                } else {
                    exact
                };
                ids.into_iter().map(|i| i.to_string()).collect()
            }
            Lookup::Assignee => match v.as_str() {
                "me" => who.user_id().into_iter().map(|i| i.to_string()).collect(),
                "none" | "nobody" | "unassigned" => vec!["0".into()],
                _ => users::table
                    .filter(like("users.name").or(like("users.email")))
                    .select(users::id)
                    .limit(50)
                    .load::<i64>(conn)?
                    .into_iter()
                    .map(|i| i.to_string())
                    .collect(),
            },
            Lookup::From => {
                if v == "me" {
                    match who {
                        Principal::Staff(s) => vec![format!("user:{}", s.user_id)],
                        Principal::Contact(c) => vec![format!("contact:{}", c.contact_id)],
                        _ => Vec::new(),
                    }
                } else {
                    let mut vals: Vec<String> = users::table
                        .filter(like("users.name").or(like("users.email")))
                        .select(users::id)
                        .limit(50)
                        .load::<i64>(conn)?
                        .into_iter()
                        .map(|i| format!("user:{i}"))
                        .collect();
                    vals.extend(
                        contacts::table
                            .filter(like("contacts.name").or(like("contacts.email")))
                            .select(contacts::id)
                            .limit(100)
                            .load::<i64>(conn)?
                            .into_iter()
                            .map(|i| format!("contact:{i}")),
                    );
                    vals
                }
            }
        };
        out.insert((lookup, value), values);
    }
    Ok(out)
}

fn company_names(conn: &mut DbConn, ids: &[i64]) -> ServiceResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(companies::table
        .filter(companies::id.eq_any(ids))
        .select((companies::id, companies::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

fn company_facet_ids(counts: &FacetCounts) -> Vec<i64> {
    counts.top_k("/company", FACET_LIMIT).into_iter().filter_map(|(f, _)| f.to_path().last()?.parse().ok()).collect()
}

fn facets(counts: &FacetCounts, names: &HashMap<i64, String>, who: &Principal) -> Facets {
    let values = |root: &str| -> Vec<(String, u64)> {
        counts
            .top_k(root, FACET_LIMIT)
            .into_iter()
            .filter_map(|(f, n)| f.to_path().last().map(|v| (v.to_string(), n)))
            .collect()
    };
    let kind = values("/kind")
        .into_iter()
        .filter_map(|(v, count)| {
            let k = DocKind::parse(&v)?;
            Some(FacetValue { filter: format!("kind:{v}"), label: k.label().into(), value: v, count })
        })
        .collect();
    let status = values("/status")
        .into_iter()
        .map(|(v, count)| FacetValue {
            filter: format!("status:{v}"),
            label: {
                let s = v.replace('_', " ");
                let mut c = s.chars();
                c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
            },
            value: v,
            count,
        })
        .collect();
    // A contact's hits all belong to their own company (or none): no company facet.
    let company = if who.is_staff() {
        values("/company")
            .into_iter()
            .filter_map(|(v, count)| {
                let name = names.get(&v.parse().ok()?)?.clone();
                Some(FacetValue {
                    filter: format!("company:\"{}\"", name.replace('"', "")),
                    value: v,
                    label: name,
                    count,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Facets { kind, status, company }
}

/// Marks the query's words in stored text: tantivy's snippet generator for passages, and
/// whole-text marking for titles. With typo matching, words within the typo distance of
/// a query word are marked too.
struct Highlighter {
    terms: Vec<String>,
    typo_words: Vec<String>,
    analyzer: TextAnalyzer,
}

impl Highlighter {
    fn new(terms: &[String], typo_words: Vec<String>, analyzer: TextAnalyzer) -> Self {
        Highlighter { terms: terms.to_vec(), typo_words, analyzer }
    }

    fn tokens(&self, text: &str) -> Vec<(usize, usize, String)> {
        let mut a = self.analyzer.clone();
        let mut out = Vec::new();
        let mut s = a.token_stream(text);
        s.process(&mut |t| out.push((t.offset_from, t.offset_to, t.text.clone())));
        out
    }

    fn matches(&self, token: &str) -> bool {
        self.terms.iter().any(|t| t == token)
            || self.typo_words.iter().any(|w| query::edit_distance(w, token) <= query::fuzzy_distance(w))
    }

    /// The terms of this text to mark.
    fn terms_in(&self, text: &str) -> BTreeMap<String, Score> {
        let mut m: BTreeMap<String, Score> = self.terms.iter().map(|t| (t.clone(), 1.0)).collect();
        if !self.typo_words.is_empty() {
            for (_, _, t) in self.tokens(text) {
                if self.matches(&t) {
                    m.insert(t, 1.0);
                }
            }
        }
        m
    }

    /// The best passage (at most `SNIPPET_CHARS`), or the start of the text.
    fn passage(&self, field: tantivy::schema::Field, text: &str) -> String {
        let gen = SnippetGenerator::new(self.terms_in(text), self.analyzer.clone(), field, SNIPPET_CHARS);
        let mut snippet = gen.snippet(text);
        if snippet.is_empty() {
            let start: String = text.chars().take(SNIPPET_CHARS).collect();
            let more = if text.chars().count() > SNIPPET_CHARS { "…" } else { "" };
            return format!("{}{more}", escape(start.trim()));
        }
        snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
        snippet.to_html()
    }

    /// The whole (short) text with every match marked.
    fn whole(&self, text: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for (from, to, t) in self.tokens(text) {
            if self.matches(&t) && from >= at && to <= text.len() {
                out.push_str(&escape(&text[at..from]));
                out.push_str("<mark>");
                out.push_str(&escape(&text[from..to]));
                out.push_str("</mark>");
                at = to;
            }
        }
        out.push_str(&escape(&text[at..]));
        out
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn to_hit(f: &Fields, doc: &TantivyDocument, hl: &Highlighter, score: f32) -> Hit {
    let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let int = |field| doc.get_first(field).and_then(|v| v.as_i64());
    let title = text(f.subject);
    let body = text(f.body);
    Hit {
        cursor: String::new(),
        score,
        kind: DocKind::parse(&text(f.kind)).unwrap_or(DocKind::Ticket),
        id: int(f.id).unwrap_or_default(),
        number: int(f.number).unwrap_or_default(),
        title_html: hl.whole(&title),
        title,
        snippet_html: hl.passage(f.body, &body),
        status: text(f.status),
        priority: text(f.priority),
        company_id: int(f.company_id),
        company_name: None,
        author_name: text(f.author_name),
        tags: doc.get_all(f.tags).filter_map(|v| v.as_str().map(str::to_string)).collect(),
        extra: text(f.extra),
        created: int(f.created).unwrap_or_default(),
        updated: int(f.updated).unwrap_or_default(),
    }
}
