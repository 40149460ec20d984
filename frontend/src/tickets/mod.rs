//! Tickets in the browser: the technician console (dashboard, filtered list, ticket page
//! with every action, new ticket on behalf of a contact) and the customer portal (the
//! company's tickets, new ticket, replies). The same URLs serve both: a contact signed in
//! at `/tickets` sees the portal, never a staff field or another company's ticket.

pub mod dashboard;
pub mod list;
pub mod new;
pub mod view;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard::show))
        .route("/tickets", web::get().to(list::list))
        .route("/tickets/new", web::get().to(new::page))
        .route("/tickets/new", web::post().to(new::create))
        .route("/tickets/{number}", web::get().to(view::show))
        .route("/tickets/{number}/reply", web::post().to(view::reply))
        .route("/tickets/{number}/note", web::post().to(view::note))
        .route("/tickets/{number}/update", web::post().to(view::update))
        .route("/tickets/{number}/time", web::post().to(view::log_time))
        .route("/tickets/{number}/link", web::post().to(view::link))
        .route("/tickets/{number}/merge", web::post().to(view::merge));
}
