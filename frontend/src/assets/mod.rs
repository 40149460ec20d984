//! Assets in the web UI: a company's machines, one machine's page (inventory, a readable
//! history, recent logs, its alert tickets), and the staff page for agent enrollment keys
//! and OCS/FusionInventory credentials.

use crate::form::{Form, FormData};
use crate::page::{invalid_text, next_cursor, query, render, see_other, Chrome, WebError};
use crate::session::{app_of, run, SignedIn, Staff};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::assets::model::{
    AgentCredential, Asset, AssetAlert, AssetChange, AssetLog, EnrollmentKey, Inventory, OcsCredential,
};
use wrench_backend::assets::service::{self as assets, AssetFilter};
use wrench_backend::assets::store::LogQuery;
use wrench_backend::paging::PageRequest;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets", web::get().to(list))
        .route("/assets/keys", web::get().to(keys))
        .route("/assets/keys", web::post().to(create_key))
        .route("/assets/keys/{id}/revoke", web::post().to(revoke_key))
        .route("/assets/ocs", web::post().to(create_ocs))
        .route("/assets/ocs/{id}/revoke", web::post().to(revoke_ocs))
        .route("/assets/agents/{id}/revoke", web::post().to(revoke_agent))
        .route("/assets/{id}", web::get().to(view));
}

#[derive(Template)]
#[template(path = "assets/list.html")]
struct List {
    c: Chrome,
    rows: Vec<Asset>,
    total: i64,
    search: String,
    company: String,
    next: Option<String>,
}

async fn list(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let search = f.get("q").to_string();
    let company = f.get("company").to_string();
    let filter = AssetFilter {
        company_id: company.parse().ok(),
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let (who, after) = (v.who.clone(), f.opt("after"));
    let page = run(&app, move |app| assets::list(app, &who, &filter, &PageRequest::new(Some(50), after)?)).await?;
    let next = next_cursor(&page).map(|a| query(&[("q", search.clone()), ("company", company.clone()), ("after", a)]));
    render(&List {
        c: Chrome::new(&v, "Assets", "assets"),
        total: page.total,
        rows: page.items.into_iter().map(|(_, a)| a).collect(),
        search,
        company,
        next,
    })
}

#[derive(Template)]
#[template(path = "assets/asset.html")]
struct View {
    c: Chrome,
    a: Asset,
    company: String,
    inv: Inventory,
    has_inventory: bool,
    changes: Vec<AssetChange>,
    logs: Vec<AssetLog>,
    alerts: Vec<AssetAlert>,
    agents: Vec<AgentCredential>,
}

impl View {
    fn gib(&self, bytes: &u64) -> String {
        format!("{:.1} GiB", *bytes as f64 / 1024.0 / 1024.0 / 1024.0)
    }
    fn pct(&self, p: &f64) -> String {
        format!("{p:.1} %")
    }
}

async fn view(req: HttpRequest, SignedIn(v): SignedIn, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let id = path.into_inner();
    let who = v.who.clone();
    let staff = v.is_staff();
    let (a, company, changes, logs, alerts, agents) = run(&app, move |app| {
        let a = assets::get(app, &who, id)?;
        let company = assets::company_name(app, a.company_id)?;
        let changes = assets::changes(app, &who, id, &PageRequest::new(Some(100), None)?)?;
        let logs = if staff {
            assets::logs(app, &who, id, LogQuery { limit: 100, ..Default::default() })?
        } else {
            Vec::new()
        };
        let alerts = assets::alerts(app, &who, id)?;
        let agents = if staff { assets::agents_of(app, &who, id)? } else { Vec::new() };
        Ok((a, company, changes.items.into_iter().map(|(_, c)| c).collect::<Vec<_>>(), logs, alerts, agents))
    })
    .await?;
    let inv = a.inventory();
    render(&View {
        c: Chrome::new(&v, a.hostname.clone(), "assets"),
        has_inventory: a.snapshot.is_some(),
        inv,
        a,
        company,
        changes,
        logs,
        alerts,
        agents,
    })
}

#[derive(Template)]
#[template(path = "assets/keys.html")]
struct Keys {
    c: Chrome,
    keys: Vec<EnrollmentKey>,
    ocs: Vec<OcsCredential>,
    companies: Vec<(i64, String)>,
    /// A secret just created, shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
}

async fn keys_page(
    req: &HttpRequest,
    v: &crate::session::Viewer,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (keys, ocs, companies) = run(&app, move |app| {
        let keys = assets::list_enrollment_keys(app, &who, None)?;
        let ocs = assets::list_ocs_credentials(app, &who, None)?;
        let companies =
            wrench_backend::accounts::service::list_companies(app, &who, None, &PageRequest::new(Some(100), None)?)?;
        Ok((keys, ocs, companies.items.into_iter().map(|(_, c)| (c.id, c.name)).collect::<Vec<_>>()))
    })
    .await?;
    render(&Keys { c: Chrome::new(v, "Agent keys", "assets"), keys, ocs, companies, created, error })
}

impl Keys {
    fn company_name(&self, id: &i64) -> String {
        self.companies.iter().find(|(c, _)| c == id).map(|(_, n)| n.clone()).unwrap_or_else(|| format!("#{id}"))
    }
}

async fn keys(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    keys_page(&req, &v, None, None).await
}

async fn create_key(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let company: i64 = f.get("company").parse().map_err(|_| WebError::BadRequest("choose a company".into()))?;
    let label = f.get("label").to_string();
    let who = v.who.clone();
    match run(&app, move |app| assets::create_enrollment_key(app, &who, company, &label)).await {
        Ok((k, secret)) => keys_page(&req, &v, Some((format!("Enrollment key \"{}\"", k.label), secret)), None).await,
        Err(wrench_backend::error::ServiceError::Invalid(e)) => keys_page(&req, &v, None, Some(invalid_text(&e))).await,
        Err(e) => Err(e.into()),
    }
}

async fn revoke_key(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(_f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    run(&app, move |app| assets::revoke_enrollment_key(app, &who, id)).await?;
    Ok(see_other("/assets/keys"))
}

async fn create_ocs(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let company: i64 = f.get("company").parse().map_err(|_| WebError::BadRequest("choose a company".into()))?;
    let username = f.get("username").to_string();
    let who = v.who.clone();
    let u = username.clone();
    match run(&app, move |app| assets::create_ocs_credential(app, &who, company, &u, None)).await {
        Ok((_, secret)) => {
            keys_page(&req, &v, Some((format!("OCS credentials for user \"{username}\"; password"), secret)), None)
                .await
        }
        Err(wrench_backend::error::ServiceError::Invalid(e)) => keys_page(&req, &v, None, Some(invalid_text(&e))).await,
        Err(e) => Err(e.into()),
    }
}

async fn revoke_ocs(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(_f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    run(&app, move |app| assets::revoke_ocs_credential(app, &who, id)).await?;
    Ok(see_other("/assets/keys"))
}

async fn revoke_agent(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(_f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let agent = run(&app, move |app| assets::revoke_agent(app, &who, id)).await?;
    Ok(see_other(&format!("/assets/{}", agent.asset_id)))
}
