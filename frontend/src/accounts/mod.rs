//! Accounts in the browser: signing in and out (password, two-factor code, invite links,
//! password reset links), the viewer's own settings and security, and the staff pages for
//! companies and contacts.

pub mod companies;
pub mod contacts;
pub mod settings;
pub mod signin;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(signin::login_page))
        .route("/login", web::post().to(signin::login))
        .route("/login/code", web::get().to(signin::code_page))
        .route("/login/code", web::post().to(signin::give_code))
        .route("/login/forgot", web::get().to(signin::forgot_page))
        .route("/login/forgot", web::post().to(signin::forgot))
        .route("/reset/{token}", web::get().to(signin::reset_page))
        .route("/reset/{token}", web::post().to(signin::reset))
        .route("/logout", web::post().to(signin::logout))
        .route("/invite/{token}", web::get().to(signin::invite_page))
        .route("/invite/{token}", web::post().to(signin::accept_invite))
        .route("/account", web::get().to(settings::account_page))
        .route("/account", web::post().to(settings::save_account))
        .route("/account/security", web::get().to(settings::security_page))
        .route("/account/security/start", web::post().to(settings::start_totp))
        .route("/account/security/confirm", web::post().to(settings::confirm_totp))
        .route("/account/security/disable", web::post().to(settings::disable_totp))
        .route("/account/security/recovery-codes", web::post().to(settings::new_recovery_codes))
        .route("/companies", web::get().to(companies::list))
        .route("/companies/new", web::get().to(companies::new_page))
        .route("/companies/new", web::post().to(companies::create))
        .route("/companies/{id}", web::get().to(companies::show))
        .route("/companies/{id}/edit", web::get().to(companies::edit_page))
        .route("/companies/{id}/edit", web::post().to(companies::update))
        .route("/contacts", web::get().to(contacts::list))
        .route("/contacts/new", web::get().to(contacts::new_page))
        .route("/contacts/new", web::post().to(contacts::create))
        .route("/contacts/{id}", web::get().to(contacts::show))
        .route("/contacts/{id}/edit", web::get().to(contacts::edit_page))
        .route("/contacts/{id}/edit", web::post().to(contacts::update))
        .route("/contacts/{id}/invite", web::post().to(contacts::invite));
}
