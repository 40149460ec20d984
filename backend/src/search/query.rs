//! The search box's query language, parsed into a small tree and then into a tantivy query.
//!
//! `printer jam` (all words), `"paper jam"` (a phrase), `status:open`, `-closed` (exclude),
//! `a OR b`, `created:>2026-01-01`, `updated:<7d`, `#123` / `number:123`. Fields: subject,
//! body, from, company, status, priority, assignee, tag, number, kind, created, updated.
//! Words of five letters or more may be matched with a typo or two (`printr` → printer)
//! when the exact words find little; the service decides when.

use super::schema::{DocKind, Fields};
use std::collections::BTreeMap;
use std::ops::Bound;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;

pub const MAX_QUERY_CHARS: usize = 500;
pub const MAX_CLAUSES: usize = 32;
/// Words at least this long may match with a typo.
pub const FUZZY_MIN_CHARS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError(msg.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Subject,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lookup {
    From,
    Company,
    Assignee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    Created,
    Updated,
}

/// One thing a clause may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// Words (or a phrase) in the text fields, or in one of them.
    Text {
        field: Option<TextField>,
        text: String,
        phrase: bool,
    },
    Status(String),
    Priority(String),
    Number(i64),
    Kind(DocKind),
    Tag(String),
    /// A name or email resolved against the database (people, companies).
    Lookup(Lookup, String),
    /// Seconds since the epoch; bounds inclusive.
    Date {
        field: DateField,
        from: Option<i64>,
        to: Option<i64>,
    },
}

/// Atoms joined by OR; the clause is required (or excluded when negated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub any_of: Vec<Atom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub clauses: Vec<Clause>,
}

const FIELDS: &str = "subject, body, from, company, status, priority, assignee, tag, number, kind, created, updated";

pub const STATUSES: &[&str] = &[
    "new",
    "open",
    "waiting_on_customer",
    "waiting_on_third_party",
    "resolved",
    "closed",
    // development threads
    "triaged",
    "planned",
    "in_progress",
    "fixed",
    "released",
    "declined",
];

impl Parsed {
    /// The ticket number when the query is nothing but one (`123` or `#123`).
    pub fn ticket_number(&self) -> Option<i64> {
        match self.clauses.as_slice() {
            [Clause { negated: false, any_of }] => match any_of.as_slice() {
                [Atom::Number(n)] => Some(*n),
                [Atom::Text { field: None, text, phrase: false }] => text.parse::<i64>().ok().filter(|n| *n > 0),
                _ => None,
            },
            _ => None,
        }
    }

    /// Every name that must be resolved against the database.
    pub fn lookups(&self) -> Vec<(Lookup, String)> {
        let mut out = Vec::new();
        for c in &self.clauses {
            for a in &c.any_of {
                if let Atom::Lookup(l, v) = a {
                    if !out.contains(&(*l, v.clone())) {
                        out.push((*l, v.clone()));
                    }
                }
            }
        }
        out
    }

    pub fn uses(&self, f: impl Fn(&Atom) -> bool) -> bool {
        self.clauses.iter().any(|c| c.any_of.iter().any(&f))
    }

    /// Positive free words long enough to be matched with a typo.
    pub fn fuzzy_words(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.clauses.iter().filter(|c| !c.negated) {
            for a in &c.any_of {
                if let Atom::Text { text, phrase: false, .. } = a {
                    if text.chars().count() >= FUZZY_MIN_CHARS && text.chars().all(char::is_alphabetic) {
                        out.push(text.to_lowercase());
                    }
                }
            }
        }
        out
    }
}

enum Token {
    Or,
    Item { negated: bool, atom: Atom },
}

/// Parses a query typed by a user. `now` (seconds since the epoch) anchors relative dates.
pub fn parse(input: &str, now: i64) -> Result<Parsed, QueryError> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return err(format!("the query is too long: at most {MAX_QUERY_CHARS} characters"));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut tokens: Vec<Token> = Vec::new();
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut negated = false;
        if chars[i] == '-' {
            negated = true;
            i += 1;
            if i >= chars.len() || chars[i].is_whitespace() {
                return err("a '-' must be followed by what to exclude, as in -printer");
            }
        }
        if chars[i] == '"' {
            let (text, next) = quoted(&chars, i)?;
            i = next;
            if text.trim().is_empty() {
                return err("an empty phrase \"\" searches for nothing: put words between the quotes");
            }
            tokens.push(Token::Item { negated, atom: Atom::Text { field: None, text, phrase: true } });
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ':' && chars[i] != '"' {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let url = chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/');
        if i < chars.len() && chars[i] == ':' && is_field_name(&word) && !url {
            i += 1;
            let (value, quoted_value, next) = if i < chars.len() && chars[i] == '"' {
                let (v, n) = quoted(&chars, i)?;
                (v, true, n)
            } else {
                let s = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                (chars[s..i].iter().collect::<String>(), false, i)
            };
            i = next;
            if value.trim().is_empty() {
                return err(format!("{word}: needs a value, as in {}", example(&word.to_lowercase())));
            }
            let atom = field_atom(&word.to_lowercase(), value.trim(), quoted_value, now)?;
            tokens.push(Token::Item { negated, atom });
            continue;
        }
        // A word (a colon inside it, as in a URL or a time, is part of the word).
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if word == "OR" && !negated {
            tokens.push(Token::Or);
        } else if word == "AND" && !negated {
            // All words are required anyway.
        } else if let Some(n) = word.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) {
            tokens.push(Token::Item { negated, atom: Atom::Number(n) });
        } else {
            tokens.push(Token::Item { negated, atom: Atom::Text { field: None, text: word, phrase: false } });
        }
    }
    let mut clauses: Vec<Clause> = Vec::new();
    let mut or_pending = false;
    for t in tokens {
        match t {
            Token::Or => {
                if clauses.is_empty() || or_pending {
                    return err("OR needs something on both sides, as in printer OR scanner");
                }
                if clauses.last().is_some_and(|c| c.negated) {
                    return err("an excluded term (-word) cannot be combined with OR");
                }
                or_pending = true;
            }
            Token::Item { negated, atom } => {
                if or_pending {
                    if negated {
                        return err("an excluded term (-word) cannot be combined with OR");
                    }
                    if let Some(last) = clauses.last_mut() {
                        last.any_of.push(atom);
                    }
                    or_pending = false;
                } else {
                    clauses.push(Clause { negated, any_of: vec![atom] });
                }
            }
        }
    }
    if or_pending {
        return err("OR needs something on both sides, as in printer OR scanner");
    }
    if clauses.is_empty() {
        return err("type something to search for");
    }
    if clauses.len() > MAX_CLAUSES {
        return err(format!("too many terms: at most {MAX_CLAUSES}"));
    }
    Ok(Parsed { clauses })
}

fn is_field_name(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic())
}

fn example(field: &str) -> String {
    match field {
        "status" => "status:open".into(),
        "priority" => "priority:high".into(),
        "number" => "number:123".into(),
        "created" | "updated" => format!("{field}:>2026-01-01 or {field}:<7d"),
        "kind" => "kind:ticket".into(),
        "tag" => "tag:printer".into(),
        "company" => "company:\"Acme Corp\"".into(),
        other => format!("{other}:word"),
    }
}

/// Reads a "quoted" string starting at the opening quote; returns it and the index after.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut j = open + 1;
    while j < chars.len() && chars[j] != '"' {
        j += 1;
    }
    if j >= chars.len() {
        return err("a quote is not closed: add the closing \" after the phrase");
    }
    Ok((chars[open + 1..j].iter().collect(), j + 1))
}

fn field_atom(field: &str, value: &str, quoted_value: bool, now: i64) -> Result<Atom, QueryError> {
    let norm = || value.trim().to_lowercase().replace([' ', '-'], "_");
    Ok(match field {
        "subject" => Atom::Text { field: Some(TextField::Subject), text: value.into(), phrase: quoted_value },
        "body" => Atom::Text { field: Some(TextField::Body), text: value.into(), phrase: quoted_value },
        "from" => Atom::Lookup(Lookup::From, value.into()),
        "company" => Atom::Lookup(Lookup::Company, value.into()),
        "assignee" => Atom::Lookup(Lookup::Assignee, value.into()),
        "status" => {
            let s = norm();
            if !STATUSES.contains(&s.as_str()) {
                return err(format!("status:{value} is not a status; use one of {}", STATUSES.join(", ")));
            }
            Atom::Status(s)
        }
        "priority" => {
            let p = norm();
            if crate::tickets::model::Priority::parse(&p).is_none() {
                return err(format!("priority:{value} is not a priority; use low, normal, high or urgent"));
            }
            Atom::Priority(p)
        }
        "number" => match value.trim_start_matches('#').parse::<i64>() {
            Ok(n) if n > 0 => Atom::Number(n),
            _ => return err(format!("number:{value} is not a ticket number; use number:123")),
        },
        "tag" => Atom::Tag(crate::tickets::service::normalize_tag(value)),
        "kind" | "type" => {
            let k = match norm().as_str() {
                "tickets" => "ticket".to_string(),
                "replies" => "reply".to_string(),
                "notes" => "note".to_string(),
                "companies" => "company".to_string(),
                "contacts" => "contact".to_string(),
                "threads" | "dev_thread" | "bug" | "feature" => "thread".to_string(),
                "comments" => "comment".to_string(),
                other => other.to_string(),
            };
            match DocKind::parse(&k) {
                Some(k) => Atom::Kind(k),
                None => {
                    return err(format!(
                        "kind:{value} is not a kind; use ticket, reply, note, company, contact, thread or comment"
                    ))
                }
            }
        }
        "created" | "updated" => {
            let f = if field == "created" { DateField::Created } else { DateField::Updated };
            let (from, to) = date_range(field, value, now)?;
            Atom::Date { field: f, from, to }
        }
        other => return err(format!("{other}: is not a field; use one of {FIELDS}")),
    })
}

const DAY: i64 = 86_400;

/// `>2026-01-01`, `>=…`, `<…`, `<=…`, `2026-01-01` (that day), `2026-01-01..2026-02-01`,
/// and ages: `<7d` (within the last 7 days), `>7d` (longer ago); units h, d, w.
fn date_range(field: &str, value: &str, now: i64) -> Result<(Option<i64>, Option<i64>), QueryError> {
    let bad = || {
        QueryError(format!(
            "{field}:{value} is not a date range; use {field}:>2026-01-01, {field}:<2026-02-01, {field}:2026-01-01..2026-01-31 or {field}:<7d"
        ))
    };
    if let Some((a, b)) = value.split_once("..") {
        let from = if a.is_empty() { None } else { Some(day_start(a).ok_or_else(bad)?) };
        let to = if b.is_empty() { None } else { Some(day_start(b).ok_or_else(bad)? + DAY - 1) };
        return Ok((from, to));
    }
    let (op, rest) = ["<=", ">=", "<", ">", "="]
        .iter()
        .find_map(|op| value.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", value));
    if let Some(age) = age_seconds(rest) {
        let at = now - age;
        // An age reads backwards: "<7d" is newer than seven days ago.
        return Ok(match op {
            "" | "<" | "<=" => (Some(at), None),
            ">" | ">=" => (None, Some(at)),
            _ => return Err(bad()),
        });
    }
    let day = day_start(rest).ok_or_else(bad)?;
    Ok(match op {
        ">" => (Some(day + DAY), None),
        ">=" => (Some(day), None),
        "<" => (None, Some(day - 1)),
        "<=" => (None, Some(day + DAY - 1)),
        _ => (Some(day), Some(day + DAY - 1)),
    })
}

fn day_start(s: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

fn age_seconds(s: &str) -> Option<i64> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok().filter(|n: &i64| *n >= 0 && *n < 100_000)?;
    match unit {
        'h' => Some(n * 3600),
        'd' => Some(n * DAY),
        'w' => Some(n * 7 * DAY),
        _ => None,
    }
}

// ---------------------------------------------------------------- to a tantivy query

/// What the builder needs besides the tree: field handles, the text analyzer, and the
/// database's answers for names (`from:`, `company:`, `assignee:`).
pub struct Builder<'a> {
    pub fields: &'a Fields,
    pub analyzer: TextAnalyzer,
    /// Resolved lookups: author terms ("user:5") for From, ids for Company and Assignee.
    pub resolved: &'a BTreeMap<(Lookup, String), Vec<String>>,
    /// Also match positive words of five letters or more with a typo.
    pub fuzzy: bool,
}

impl Builder<'_> {
    fn tokens(&mut self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stream = self.analyzer.token_stream(text);
        stream.process(&mut |t| out.push(t.text.clone()));
        out
    }

    /// The user's query (without any permission filter). `None` when nothing searchable
    /// is left (only punctuation).
    pub fn build(&mut self, parsed: &Parsed) -> Option<Box<dyn Query>> {
        let mut parts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut positive = false;
        for c in &parsed.clauses {
            let alts: Vec<Box<dyn Query>> = c.any_of.iter().filter_map(|a| self.atom(a, !c.negated)).collect();
            if alts.is_empty() {
                continue;
            }
            let q: Box<dyn Query> = if alts.len() == 1 {
                alts.into_iter().next()?
            } else {
                Box::new(BooleanQuery::new(alts.into_iter().map(|q| (Occur::Should, q)).collect()))
            };
            if c.negated {
                parts.push((Occur::MustNot, q));
            } else {
                positive = true;
                parts.push((Occur::Must, q));
            }
        }
        if parts.is_empty() {
            return None;
        }
        if !positive {
            parts.push((Occur::Must, Box::new(AllQuery)));
        }
        Some(Box::new(BooleanQuery::new(parts)))
    }

    fn term(field: Field, text: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
    }

    fn int(field: Field, v: i64) -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_i64(field, v), IndexRecordOption::Basic))
    }

    fn text_fields(&self, field: Option<TextField>) -> Vec<(Field, f32)> {
        match field {
            Some(TextField::Subject) => vec![(self.fields.subject, 1.0)],
            Some(TextField::Body) => vec![(self.fields.body, 1.0)],
            None => vec![(self.fields.subject, 2.0), (self.fields.body, 1.0), (self.fields.names, 0.5)],
        }
    }

    fn atom(&mut self, a: &Atom, positive: bool) -> Option<Box<dyn Query>> {
        let f = self.fields;
        Some(match a {
            Atom::Text { field, text, phrase } => {
                let tokens = self.tokens(text);
                if tokens.is_empty() {
                    return None;
                }
                let mut alts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (field_handle, boost) in self.text_fields(*field) {
                    let q: Box<dyn Query> = if tokens.len() == 1 {
                        Box::new(TermQuery::new(
                            Term::from_field_text(field_handle, &tokens[0]),
                            IndexRecordOption::WithFreqs,
                        ))
                    } else {
                        Box::new(PhraseQuery::new(
                            tokens.iter().map(|t| Term::from_field_text(field_handle, t)).collect(),
                        ))
                    };
                    alts.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
                    let typo_ok = self.fuzzy
                        && positive
                        && !*phrase
                        && tokens.len() == 1
                        && tokens[0].chars().count() >= FUZZY_MIN_CHARS
                        && tokens[0].chars().all(char::is_alphabetic)
                        && field_handle != f.names;
                    if typo_ok {
                        let distance = if tokens[0].chars().count() >= 8 { 2 } else { 1 };
                        let fq = FuzzyTermQuery::new(Term::from_field_text(field_handle, &tokens[0]), distance, true);
                        alts.push((Occur::Should, Box::new(BoostQuery::new(Box::new(fq), boost * 0.5))));
                    }
                }
                Box::new(BooleanQuery::new(alts))
            }
            Atom::Status(s) => Self::term(f.status, s),
            Atom::Priority(p) => Self::term(f.priority, p),
            Atom::Number(n) => Self::int(f.number, *n),
            Atom::Kind(k) => Self::term(f.kind, k.as_str()),
            Atom::Tag(t) => Self::term(f.tags, t),
            Atom::Lookup(l, v) => {
                let values = self.resolved.get(&(*l, v.clone())).cloned().unwrap_or_default();
                let alts: Vec<(Occur, Box<dyn Query>)> = values
                    .iter()
                    .filter_map(|val| {
                        let q = match l {
                            Lookup::From => Self::term(f.authors, val),
                            Lookup::Company => Self::int(f.company_id, val.parse().ok()?),
                            Lookup::Assignee => Self::int(f.assignee_id, val.parse().ok()?),
                        };
                        Some((Occur::Should, q))
                    })
                    .collect();
                if alts.is_empty() {
                    // Nobody by that name: the clause matches nothing.
                    Box::new(EmptyQuery)
                } else {
                    Box::new(BooleanQuery::new(alts))
                }
            }
            Atom::Date { field, from, to } => {
                let handle = match field {
                    DateField::Created => f.created,
                    DateField::Updated => f.updated,
                };
                let lo = from.map(|v| Bound::Included(Term::from_field_i64(handle, v))).unwrap_or(Bound::Unbounded);
                let hi = to.map(|v| Bound::Included(Term::from_field_i64(handle, v))).unwrap_or(Bound::Unbounded);
                Box::new(RangeQuery::new(lo, hi))
            }
        })
    }

    /// The analysed words to highlight in snippets (positive text atoms).
    pub fn highlight_terms(&mut self, parsed: &Parsed) -> Vec<String> {
        let mut out = Vec::new();
        for c in parsed.clauses.iter().filter(|c| !c.negated) {
            for a in &c.any_of {
                if let Atom::Text { text, .. } = a {
                    for t in self.tokens(text) {
                        if !out.contains(&t) {
                            out.push(t);
                        }
                    }
                }
            }
        }
        out
    }
}

/// Edit distance (with adjacent transpositions), for highlighting words found by typo.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

pub fn fuzzy_distance(word: &str) -> usize {
    if word.chars().count() >= 8 {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn p(s: &str) -> Parsed {
        parse(s, NOW).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn text(t: &str) -> Atom {
        Atom::Text { field: None, text: t.into(), phrase: false }
    }

    #[test]
    fn words_phrases_fields_exclusion_and_or() {
        let q = p(r#"printer "paper jam" -toner status:open a OR b subject:"new laptop""#);
        assert_eq!(q.clauses.len(), 6);
        assert_eq!(q.clauses[0], Clause { negated: false, any_of: vec![text("printer")] });
        assert_eq!(q.clauses[1].any_of, vec![Atom::Text { field: None, text: "paper jam".into(), phrase: true }]);
        assert!(q.clauses[2].negated);
        assert_eq!(q.clauses[3].any_of, vec![Atom::Status("open".into())]);
        assert_eq!(q.clauses[4].any_of, vec![text("a"), text("b")]);
        assert_eq!(
            q.clauses[5].any_of,
            vec![Atom::Text { field: Some(TextField::Subject), text: "new laptop".into(), phrase: true }]
        );
    }

    #[test]
    fn dates_absolute_and_relative() {
        let day = day_start("2026-01-01").unwrap();
        let q = p("created:>2026-01-01 updated:<7d created:2026-01-01");
        assert_eq!(
            q.clauses[0].any_of,
            vec![Atom::Date { field: DateField::Created, from: Some(day + DAY), to: None }]
        );
        assert_eq!(
            q.clauses[1].any_of,
            vec![Atom::Date { field: DateField::Updated, from: Some(NOW - 7 * DAY), to: None }]
        );
        assert_eq!(
            q.clauses[2].any_of,
            vec![Atom::Date { field: DateField::Created, from: Some(day), to: Some(day + DAY - 1) }]
        );
    }

    #[test]
    fn mistakes_get_messages_that_say_what_to_change() {
        for (q, needle) in [
            ("\"paper jam", "quote is not closed"),
            ("status:bogus", "not a status"),
            ("priority:meh", "not a priority"),
            ("colour:red", "is not a field"),
            ("created:yesterday", "not a date range"),
            ("OR printer", "OR needs something"),
            ("printer OR", "OR needs something"),
            ("- printer", "must be followed"),
            ("   ", "type something"),
            ("number:abc", "not a ticket number"),
            ("subject:", "needs a value"),
        ] {
            let e = parse(q, NOW).expect_err(q);
            assert!(e.0.contains(needle), "{q}: {e}");
        }
    }

    #[test]
    fn a_number_alone_goes_to_the_ticket() {
        assert_eq!(p("#42").ticket_number(), Some(42));
        assert_eq!(p("42").ticket_number(), Some(42));
        assert_eq!(p("42 printer").ticket_number(), None);
    }

    #[test]
    fn urls_are_words_not_fields() {
        let q = p("https://example.com/x");
        assert_eq!(q.clauses[0].any_of, vec![text("https://example.com/x")]);
    }

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("printr", "printer"), 1);
        assert_eq!(edit_distance("pritner", "printer"), 1);
        assert_eq!(edit_distance("monitor", "printer"), 4);
    }
}
