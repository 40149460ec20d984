//! Depth and cost limits, checked on the parsed document before anything executes.
//! Fragments are expanded (each spread counts again), aliases count as the fields they are,
//! and a `first`/`last` argument multiplies the cost of what it selects. Introspection
//! (`__schema`, `__type`) is free, so the standard introspection query is always allowed.
//! `login` fields (and password resets) are counted too, so a document cannot smuggle many
//! sign-in attempts.

use juniper::{DefaultScalarValue, Definition, InputValue, OperationType, Selection, Variables};
use std::collections::HashMap;

pub const MAX_DEPTH: usize = 10;
pub const MAX_COST: u64 = 25_000;
pub const MAX_LOGINS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Analysis {
    pub depth: usize,
    pub cost: u64,
    pub logins: usize,
}

type Doc<'a> = Vec<Definition<'a, DefaultScalarValue>>;
type Fragments<'d, 'a> = HashMap<&'a str, &'d [Selection<'a, DefaultScalarValue>]>;

struct Walker<'d, 'a> {
    fragments: Fragments<'d, 'a>,
    variables: &'d Variables<DefaultScalarValue>,
}

impl<'d, 'a> Walker<'d, 'a> {
    fn int_value(&self, v: &InputValue<DefaultScalarValue>) -> Option<i32> {
        match v {
            InputValue::Scalar(DefaultScalarValue::Int(i)) => Some(*i),
            InputValue::Variable(var) => match self.variables.get(var) {
                Some(InputValue::Scalar(DefaultScalarValue::Int(i))) => Some(*i),
                _ => None,
            },
            _ => None,
        }
    }

    /// (depth below this selection set, cost of it)
    fn walk(&self, set: &[Selection<'a, DefaultScalarValue>], stack: &mut Vec<&'a str>) -> (usize, u64) {
        let mut depth = 0;
        let mut cost: u64 = 0;
        for sel in set {
            match sel {
                Selection::Field(f) => {
                    let f = &f.item;
                    if f.name.item.starts_with("__") && f.name.item != "__typename" {
                        continue;
                    }
                    let (d, c) = match &f.selection_set {
                        Some(children) => self.walk(children, stack),
                        None => (0, 0),
                    };
                    let multiplier = f
                        .arguments
                        .as_ref()
                        .and_then(|args| {
                            args.item
                                .items
                                .iter()
                                .find(|(n, _)| n.item == "first" || n.item == "last")
                                .map(|(_, v)| self.int_value(&v.item))
                        })
                        .flatten()
                        .map(|i| i.clamp(1, 1000) as u64)
                        // A connection asked for without `first` still returns a default page.
                        .unwrap_or(if f.selection_set.as_ref().is_some_and(|c| has_edges(c)) {
                            crate::paging::DEFAULT_PAGE as u64
                        } else {
                            1
                        });
                    depth = depth.max(d + 1);
                    cost = cost.saturating_add(1u64.saturating_add(multiplier.saturating_mul(c)));
                }
                Selection::InlineFragment(fr) => {
                    let (d, c) = self.walk(&fr.item.selection_set, stack);
                    depth = depth.max(d);
                    cost = cost.saturating_add(c);
                }
                Selection::FragmentSpread(sp) => {
                    let name = sp.item.name.item;
                    if stack.contains(&name) {
                        // A cycle: validation rejects it; count it as too costly here.
                        return (usize::MAX / 2, u64::MAX / 2);
                    }
                    if let Some(children) = self.fragments.get(name) {
                        stack.push(name);
                        let (d, c) = self.walk(children, stack);
                        stack.pop();
                        depth = depth.max(d);
                        cost = cost.saturating_add(c);
                    }
                }
            }
        }
        (depth, cost)
    }
}

/// Whether a selection set reads a connection's rows (`edges` or `nodes`).
fn has_edges(set: &[Selection<'_, DefaultScalarValue>]) -> bool {
    set.iter().any(|s| matches!(s, Selection::Field(f) if f.item.name.item == "edges" || f.item.name.item == "nodes"))
}

fn count_logins(set: &[Selection<'_, DefaultScalarValue>], fragments: &Fragments<'_, '_>, depth: usize) -> usize {
    if depth > 8 {
        return 0;
    }
    set.iter()
        .map(|s| match s {
            // Password resets hash a password too (and probe addresses): they count as sign-ins.
            Selection::Field(f) => {
                usize::from(matches!(f.item.name.item, "login" | "resetPassword" | "requestPasswordReset"))
            }
            Selection::InlineFragment(fr) => count_logins(&fr.item.selection_set, fragments, depth + 1),
            Selection::FragmentSpread(sp) => {
                fragments.get(sp.item.name.item).map(|c| count_logins(c, fragments, depth + 1)).unwrap_or(0)
            }
        })
        .sum()
}

/// Analyses the operation that would run (or every operation when none is named).
/// Returns `None` when the document does not parse: execution reports that error itself.
pub fn analyse(
    schema: &super::Schema,
    query: &str,
    operation: Option<&str>,
    variables: &Variables<DefaultScalarValue>,
) -> Option<Analysis> {
    let doc: Doc<'_> = juniper::parser::parse_document_source(query, &schema.schema).ok()?;
    let mut fragments: Fragments<'_, '_> = HashMap::new();
    for d in &doc {
        if let Definition::Fragment(f) = d {
            fragments.insert(f.item.name.item, &f.item.selection_set);
        }
    }
    let mut total = Analysis::default();
    for d in &doc {
        let Definition::Operation(op) = d else { continue };
        let op = &op.item;
        if let Some(wanted) = operation {
            if op.name.as_ref().map(|n| n.item) != Some(wanted) {
                continue;
            }
        }
        // The values a page size would take: the request's variables over their defaults.
        let mut values = variables.clone();
        for (name, def) in op.variables_definition.iter().flat_map(|v| v.item.items.iter()) {
            if let Some(default) = &def.default_value {
                values.entry(name.item.to_string()).or_insert_with(|| default.item.clone());
            }
        }
        let walker = Walker { fragments: fragments.clone(), variables: &values };
        let (depth, cost) = walker.walk(&op.selection_set, &mut Vec::new());
        total.depth = total.depth.max(depth);
        total.cost = total.cost.saturating_add(cost);
        if op.operation_type == OperationType::Mutation {
            total.logins += count_logins(&op.selection_set, &fragments, 0);
        }
    }
    Some(total)
}

/// Says why a document is refused, if it is.
pub fn refusal(a: &Analysis) -> Option<String> {
    if a.depth > MAX_DEPTH {
        Some(format!("the query is nested {} levels deep; the limit is {MAX_DEPTH}", a.depth))
    } else if a.cost > MAX_COST {
        Some(format!("the query would cost {} (fields multiplied by page sizes); the limit is {MAX_COST}", a.cost))
    } else if a.logins > MAX_LOGINS {
        Some(format!("the request has {} login fields; at most {MAX_LOGINS} are allowed", a.logins))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(q: &str) -> Analysis {
        let schema = super::super::schema();
        analyse(&schema, q, None, &Variables::new()).unwrap()
    }

    #[test]
    fn depth_counts_fragments_and_cost_multiplies_by_first() {
        let a = run("query { tickets(first: 50) { edges { node { subject } } } }");
        assert_eq!(a.depth, 4);
        assert_eq!(a.cost, 1 + 50 * (1 + (1 + 1)));
        let b = run(
            "fragment F on Ticket { subject number } query { tickets(first: 10) { edges { node { ...F ...F } } } }",
        );
        assert_eq!(b.cost, 1 + 10 * (1 + (1 + 4)), "each spread counts again");
        let c = run("{ a: viewer { __typename } b: viewer { __typename } }");
        assert_eq!(c.cost, 4, "aliases count as the fields they are");
    }

    #[test]
    fn default_page_sizes_and_variable_defaults_count() {
        let a = run("{ tickets { edges { node { subject } } } }");
        assert_eq!(a.cost, 1 + 25 * (1 + (1 + 1)), "no `first`: the default page of 25");
        let b = run("query($n: Int = 100) { tickets(first: $n) { edges { node { subject } } } }");
        assert_eq!(b.cost, 1 + 100 * (1 + (1 + 1)), "a variable's default value counts");
    }

    #[test]
    fn introspection_is_free_and_logins_are_counted() {
        let a = run("{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }");
        assert_eq!(a.cost, 0);
        assert!(refusal(&a).is_none());
        let many: String =
            (0..11).map(|i| format!("l{i}: login(email: \"a@b.c\", password: \"x\") {{ token }} ")).collect();
        let l = run(&format!("mutation {{ {many} }}"));
        assert_eq!(l.logins, 11);
        assert!(refusal(&l).is_some());
    }

    #[test]
    fn deep_documents_are_refused() {
        let q = "{ tickets { edges { node { company { contacts { edges { node { company { contacts { edges { node { name } } } } } } } } } } } }";
        let a = run(q);
        assert!(a.depth > MAX_DEPTH, "{a:?}");
        assert!(refusal(&a).is_some());
    }
}
