//! Diesel queries for accounts.

use super::model::{Company, Contact, Queue, QueueMember, User};
use crate::db::DbConn;
use crate::schema::{companies, company_domains, contacts, queue_members, queues, users};
use diesel::prelude::*;

pub fn user_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email)).select(User::as_select()).first(conn).optional()
}

pub fn user(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).optional()
}

pub fn contact_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<Contact>> {
    contacts::table.filter(contacts::email.eq(email)).select(Contact::as_select()).first(conn).optional()
}

pub fn contact(conn: &mut DbConn, id: i64) -> QueryResult<Option<Contact>> {
    contacts::table.find(id).select(Contact::as_select()).first(conn).optional()
}

pub fn company(conn: &mut DbConn, id: i64) -> QueryResult<Option<Company>> {
    companies::table.find(id).select(Company::as_select()).first(conn).optional()
}

pub fn company_by_domain(conn: &mut DbConn, domain: &str) -> QueryResult<Option<Company>> {
    company_domains::table
        .inner_join(companies::table)
        .filter(company_domains::domain.eq(domain))
        .select(Company::as_select())
        .first(conn)
        .optional()
}

pub fn company_domains(conn: &mut DbConn, company_id: i64) -> QueryResult<Vec<String>> {
    company_domains::table
        .filter(company_domains::company_id.eq(company_id))
        .order(company_domains::domain)
        .select(company_domains::domain)
        .load(conn)
}

pub fn queue(conn: &mut DbConn, id: i64) -> QueryResult<Option<Queue>> {
    queues::table.find(id).select(Queue::as_select()).first(conn).optional()
}

pub fn default_queue(conn: &mut DbConn, triage: bool) -> QueryResult<Queue> {
    queues::table.filter(queues::is_triage.eq(triage)).order(queues::id).select(Queue::as_select()).first(conn)
}

pub fn queue_members(conn: &mut DbConn, queue_id: i64) -> QueryResult<Vec<(QueueMember, User)>> {
    queue_members::table
        .inner_join(users::table)
        .filter(queue_members::queue_id.eq(queue_id))
        .order(users::name)
        .select((QueueMember::as_select(), User::as_select()))
        .load(conn)
}

pub fn admin_count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.filter(users::role.eq("admin")).filter(users::active.eq(true)).count().get_result(conn)
}
