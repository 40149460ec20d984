//! Pages of results for Relay-style connections. Short admin lists page by offset; the
//! ticket list pages by keyset (see `tickets::store`). Cursors are opaque base64 strings.

use crate::error::{ServiceError, ServiceResult};
use base64::Engine;

pub const MAX_PAGE: i64 = 100;
pub const DEFAULT_PAGE: i64 = 25;

#[derive(Debug, Clone)]
pub struct PageRequest {
    pub first: i64,
    pub after: Option<String>,
    /// Whether the caller wants the total count (counting a large filtered set costs more
    /// than the page itself; GraphQL asks only when `totalCount` is selected).
    pub count: bool,
}

impl PageRequest {
    pub fn new(first: Option<i32>, after: Option<String>) -> ServiceResult<Self> {
        let first = first.map(i64::from).unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(ServiceError::invalid("first", format!("must be between 1 and {MAX_PAGE}")));
        }
        Ok(PageRequest { first, after: after.filter(|a| !a.is_empty()), count: true })
    }

    pub fn without_count(mut self) -> Self {
        self.count = false;
        self
    }

    pub fn offset(&self) -> ServiceResult<i64> {
        match &self.after {
            None => Ok(0),
            Some(c) => decode_cursor(c)
                .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<i64>().ok()))
                .filter(|n| *n >= 0)
                .map(|n| n + 1)
                .ok_or_else(|| ServiceError::invalid("after", "is not a cursor from this list")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub total: i64,
    pub has_next: bool,
    pub has_previous: bool,
}

impl<T> Page<T> {
    /// Builds an offset page from `first + 1` loaded rows starting at `offset`.
    pub fn from_offset(mut rows: Vec<T>, offset: i64, first: i64, total: i64) -> Self {
        let has_next = rows.len() as i64 > first;
        rows.truncate(first as usize);
        let items = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| (encode_cursor(&format!("o:{}", offset + i as i64)), r))
            .collect();
        Page { items, total, has_next, has_previous: offset > 0 }
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(|(c, t)| (c, f(t))).collect(),
            total: self.total,
            has_next: self.has_next,
            has_previous: self.has_previous,
        }
    }
}

pub fn encode_cursor(raw: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Option<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| String::from_utf8(b).ok())
}
