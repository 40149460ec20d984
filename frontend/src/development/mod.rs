//! Development in the browser: the thread list (staff and portal), a thread page with votes,
//! subscriptions and comments, join by shortcut (`/dev/j/CODE`), new threads, products and
//! releases (staff), and "Move to Development" from a ticket. Every action is a call into
//! `development::service`, which decides what the viewer may see and do: a customer never
//! sees an internal thread, staff notes or who else voted.

use crate::form::{Form, FormData};
use crate::page::{next_cursor, query, render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, SignedIn, Staff, Viewer};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use wrench_backend::accounts::auth::Principal;
use wrench_backend::accounts::model::User;
use wrench_backend::accounts::service as accounts;
use wrench_backend::app::App;
use wrench_backend::development::model::{
    DevThread, Product, Release, ReleaseStatus, ThreadKind, ThreadStatus, Visibility,
};
use wrench_backend::development::service::{
    self as dev, CommentView, MoveInput, ReleaseInput, ThreadFilter, ThreadInput, ThreadSort,
};
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::paging::PageRequest;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/development", web::get().to(list))
        .route("/development/new", web::get().to(new_page))
        .route("/development/new", web::post().to(create))
        .route("/development/products", web::get().to(products))
        .route("/development/products", web::post().to(create_product))
        .route("/development/releases", web::post().to(create_release))
        .route("/development/releases/{id}/released", web::post().to(mark_released))
        .route("/development/{id}", web::get().to(show))
        .route("/development/{id}/vote", web::post().to(vote))
        .route("/development/{id}/subscribe", web::post().to(subscribe))
        .route("/development/{id}/comment", web::post().to(comment))
        .route("/development/{id}/update", web::post().to(update))
        .route("/development/{id}/duplicate", web::post().to(duplicate))
        .route("/dev/j/{code}", web::get().to(join))
        .route("/tickets/{number}/move", web::post().to(move_ticket));
}

/// A thread as a row of the list or the head of its page, with names resolved.
pub struct ThreadRow {
    pub id: i64,
    pub title: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub public: bool,
    pub product: String,
    pub votes: i64,
    pub subscribers: i64,
    pub last_activity_at: NaiveDateTime,
}

/// Every product and release, loaded once per page and looked up by id.
struct Names {
    products: Vec<Product>,
    releases: Vec<Release>,
}

impl Names {
    fn load(app: &App, who: &Principal) -> Result<Names, ServiceError> {
        Ok(Names { products: dev::list_products(app, who)?, releases: dev::list_releases(app, who, None)? })
    }
    fn product(&self, id: i64) -> String {
        self.products.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_default()
    }
    fn release(&self, id: Option<i64>) -> String {
        id.and_then(|i| self.releases.iter().find(|r| r.id == i)).map(Release::label).unwrap_or_default()
    }
    fn releases_of(&self, product: i64) -> Vec<Release> {
        self.releases.iter().filter(|r| r.product_id == product).cloned().collect()
    }
}

impl ThreadRow {
    fn of(t: &DevThread, names: &Names) -> ThreadRow {
        ThreadRow {
            id: t.id,
            title: t.title.clone(),
            kind: t.kind().as_str(),
            status: t.status().as_str(),
            status_label: t.status().label(),
            public: t.is_public(),
            product: names.product(t.product_id),
            votes: t.vote_count,
            subscribers: t.subscriber_count,
            last_activity_at: t.last_activity_at,
        }
    }
}

fn sort_of(s: &str) -> ThreadSort {
    match s {
        "activity" => ThreadSort::Activity,
        "status" => ThreadSort::Status,
        _ => ThreadSort::Votes,
    }
}

#[derive(Template)]
#[template(path = "development/list.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<ThreadRow>,
    products: Vec<Product>,
    statuses: Vec<ThreadStatus>,
    q: String,
    kind: String,
    status: String,
    product: String,
    sort: String,
    mine: bool,
    this_page: String,
    next: Option<String>,
}

pub async fn list(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let q = f.get("q").trim().to_string();
    let kind = f.get("kind").to_string();
    let status = f.get("status").to_string();
    let product = f.get("product").to_string();
    let sort = match f.get("sort") {
        s @ ("activity" | "status") => s.to_string(),
        _ => "votes".to_string(),
    };
    let mine = f.get("mine") == "1";
    let filter = ThreadFilter {
        kind: ThreadKind::parse(&kind),
        statuses: ThreadStatus::parse(&status).into_iter().collect(),
        product_id: product.parse().ok(),
        label: None,
        subscribed: mine,
        search: Some(q.clone()).filter(|s| !s.is_empty()),
    };
    let (who, after, s) = (v.who.clone(), f.opt("after"), sort_of(&sort));
    let (page, names) = run(&app, move |app| {
        let mut req = PageRequest::new(Some(50), after)?;
        req.count = false;
        Ok((dev::list_threads(app, &who, &filter, s, &req)?, Names::load(app, &who)?))
    })
    .await?;
    let base = vec![
        ("q", q.clone()),
        ("kind", kind.clone()),
        ("status", status.clone()),
        ("product", product.clone()),
        ("sort", sort.clone()),
        ("mine", if mine { "1".into() } else { String::new() }),
    ];
    let keep: Vec<(&str, String)> = base.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let next = next_cursor(&page).map(|a| {
        let mut p = keep.clone();
        p.push(("after", a));
        query(&p)
    });
    render(&ListPage {
        c: Chrome::new(&v, "Development", "development").with_notice(&f),
        rows: page.items.iter().map(|(_, t)| ThreadRow::of(t, &names)).collect(),
        products: names.products,
        statuses: ThreadStatus::ALL.to_vec(),
        q,
        kind,
        status,
        product,
        sort,
        mine,
        this_page: query(&keep),
        next,
    })
}

// ---------------------------------------------------------------- one thread

pub struct CommentRow {
    pub author: String,
    pub author_kind: &'static str,
    pub internal: bool,
    pub body: String,
    pub created_at: NaiveDateTime,
}

impl CommentRow {
    fn of(c: CommentView) -> CommentRow {
        CommentRow {
            author: c.author_name,
            author_kind: c.author_kind,
            internal: c.comment.internal,
            body: c.comment.body,
            created_at: c.comment.created_at,
        }
    }
}

/// What the staff form shows: the user's input after an error, else the thread's values.
#[derive(Default)]
struct KeptThread {
    comment: String,
    status: String,
    fixed_in: String,
    owner: String,
    labels: String,
    visibility: String,
    survivor: String,
}

#[derive(Template)]
#[template(path = "development/thread.html")]
struct ThreadPage {
    c: Chrome,
    t: ThreadRow,
    description: String,
    shortcut_url: String,
    affected: String,
    fixed_in: String,
    duplicate_of: Option<i64>,
    owner: String,
    labels: Vec<String>,
    voted: bool,
    subscribed: bool,
    comments: Vec<CommentRow>,
    // Staff only (empty for customers: the service refuses them anyway).
    voters: Vec<String>,
    followers: Vec<String>,
    tickets: Vec<i64>,
    next_statuses: Vec<ThreadStatus>,
    releases: Vec<Release>,
    users: Vec<User>,
    /// What the staff form showed, so only the fields changed there are saved.
    was_fixed: String,
    was_owner: String,
    errors: Errors,
    k: KeptThread,
}

struct ThreadData {
    thread: DevThread,
    names: Names,
    labels: Vec<String>,
    standing: (bool, bool),
    comments: Vec<CommentView>,
    voters: Vec<String>,
    followers: Vec<String>,
    tickets: Vec<i64>,
    users: Vec<User>,
}

fn load_thread(app: &App, who: &Principal, id: i64) -> Result<ThreadData, ServiceError> {
    let thread = dev::get_thread(app, who, id)?;
    let names = Names::load(app, who)?;
    let labels = dev::labels_of(app, who, id)?;
    let standing = dev::my_standing(app, who, id)?;
    let comments = dev::comments(app, who, id)?;
    let (voters, followers, tickets, users) = if who.is_staff() {
        let users = accounts::list_users(app, who, false, &PageRequest::new(Some(100), None)?)?
            .items
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        (dev::voters(app, who, id)?, dev::subscriber_names(app, who, id)?, dev::linked_tickets(app, who, id)?, users)
    } else {
        Default::default()
    };
    Ok(ThreadData { thread, names, labels, standing, comments, voters, followers, tickets, users })
}

async fn thread_page(
    req: &HttpRequest,
    v: &Viewer,
    id: i64,
    errors: Errors,
    f: &FormData,
) -> Result<ThreadPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let d = run(&app, move |app| load_thread(app, &who, id)).await?;
    let t = &d.thread;
    let owner =
        t.owner_user_id.and_then(|o| d.users.iter().find(|u| u.id == o)).map(|u| u.name.clone()).unwrap_or_default();
    let was_fixed = t.fixed_in_release_id.map(|r| r.to_string()).unwrap_or_default();
    let was_owner = t.owner_user_id.map(|o| o.to_string()).unwrap_or_else(|| "none".into());
    let mut k = KeptThread {
        status: t.status().as_str().into(),
        fixed_in: t.fixed_in_release_id.map(|r| r.to_string()).unwrap_or_default(),
        owner: t.owner_user_id.map(|o| o.to_string()).unwrap_or_else(|| "none".into()),
        labels: d.labels.join(", "),
        visibility: t.visibility().as_str().into(),
        ..Default::default()
    };
    match errors.form.as_str() {
        "comment" => k.comment = f.get("body").into(),
        "update" => {
            k.status = f.get("status").into();
            k.fixed_in = f.get("fixedInReleaseId").into();
            k.owner = f.get("ownerUserId").into();
            k.labels = f.get("labels").into();
            k.visibility = f.get("visibility").into();
        }
        "duplicate" => k.survivor = f.get("survivorId").into(),
        _ => {}
    }
    let mut next_statuses = vec![t.status()];
    next_statuses.extend(ThreadStatus::ALL.iter().copied().filter(|s| t.status().can_become(*s)));
    Ok(ThreadPage {
        c: Chrome::new(v, t.title.clone(), "development").with_notice(&FormData::from_query(req)),
        t: ThreadRow::of(t, &d.names),
        description: t.description.clone(),
        shortcut_url: format!("{}/dev/j/{}", app.config.public_url, t.shortcut),
        affected: d.names.release(t.affected_release_id),
        fixed_in: d.names.release(t.fixed_in_release_id),
        duplicate_of: t.duplicate_of_id,
        owner,
        labels: d.labels,
        voted: d.standing.0,
        subscribed: d.standing.1,
        comments: d.comments.into_iter().map(CommentRow::of).collect(),
        voters: d.voters,
        followers: d.followers,
        tickets: d.tickets,
        next_statuses,
        releases: if v.is_staff() { d.names.releases_of(t.product_id) } else { Vec::new() },
        users: d.users,
        was_fixed,
        was_owner,
        errors,
        k,
    })
}

pub async fn show(req: HttpRequest, SignedIn(v): SignedIn, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    render(&thread_page(&req, &v, path.into_inner(), Errors::none(), &FormData::default()).await?)
}

async fn thread_errors(
    req: &HttpRequest,
    v: &Viewer,
    id: i64,
    form: &str,
    e: ServiceError,
    f: &FormData,
) -> Result<HttpResponse, WebError> {
    let errors = Errors::from_service(form, e)?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &thread_page(req, v, id, errors, f).await?)
}

/// Follows a thread's shortcut link: signs in first if needed (the extractor sends the
/// visitor to the login page and back), then joins in one step.
pub async fn join(req: HttpRequest, SignedIn(v): SignedIn, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, code) = (v.who.clone(), path.into_inner());
    let t = run(&app, move |app| dev::join_by_shortcut(app, &who, &code)).await?;
    Ok(see_other(&format!("/development/{}?done=joined", t.id)))
}

pub async fn vote(
    req: HttpRequest,
    SignedIn(v): SignedIn,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id, withdraw) = (v.who.clone(), path.into_inner(), f.get("withdraw") == "1");
    run(&app, move |app| if withdraw { dev::unvote(app, &who, id) } else { dev::vote(app, &who, id) }).await?;
    Ok(see_other(&format!("/development/{id}?done={}", if withdraw { "unvoted" } else { "voted" })))
}

pub async fn subscribe(
    req: HttpRequest,
    SignedIn(v): SignedIn,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id, leave) = (v.who.clone(), path.into_inner(), f.get("leave") == "1");
    run(&app, move |app| if leave { dev::unsubscribe(app, &who, id) } else { dev::subscribe(app, &who, id) }).await?;
    Ok(see_other(&format!("/development/{id}?done={}", if leave { "unsubscribed" } else { "subscribed" })))
}

pub async fn comment(
    req: HttpRequest,
    SignedIn(v): SignedIn,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let id = path.into_inner();
    let (who, body, internal) = (v.who.clone(), f.get("body").to_string(), f.get("internal") == "1");
    match run(&app, move |app| dev::add_comment(app, &who, id, &body, internal)).await {
        Ok(_) => Ok(see_other(&format!("/development/{id}?done=commented"))),
        Err(e) => thread_errors(&req, &v, id, "comment", e, &f).await,
    }
}

fn labels_of(s: &str) -> Vec<String> {
    s.split([',', '\n']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// Only the fields the technician changed (the form carries the values it showed in
/// `was_*`), so two people editing different fields do not undo each other.
pub async fn update(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let id = path.into_inner();
    let changed = |name: &str| f.get(name) != f.get(&format!("was_{name}"));
    let mut bad = Vec::new();
    let mut input = ThreadInput::default();
    if changed("status") {
        input.status = ThreadStatus::parse(f.get("status"));
        if input.status.is_none() {
            bad.push(FieldError::new("status", "choose a status from the list"));
        }
    }
    if changed("fixedInReleaseId") && !f.get("fixedInReleaseId").is_empty() {
        match f.int("fixedInReleaseId", "Fixed in") {
            Ok(r) => input.fixed_in_release_id = r,
            Err(e) => bad.push(e),
        }
    }
    if changed("ownerUserId") {
        input.owner_user_id = Some(f.get("ownerUserId").parse().ok());
    }
    if changed("labels") {
        input.labels = Some(labels_of(f.get("labels")));
    }
    if changed("visibility") {
        input.visibility = Visibility::parse(f.get("visibility"));
        if input.visibility.is_none() {
            bad.push(FieldError::new("visibility", "choose public or internal"));
        }
    }
    if !bad.is_empty() {
        return thread_errors(&req, &v, id, "update", ServiceError::Invalid(bad), &f).await;
    }
    let who = v.who.clone();
    match run(&app, move |app| dev::update_thread(app, &who, id, input)).await {
        Ok(_) => Ok(see_other(&format!("/development/{id}?done=saved"))),
        Err(e) => thread_errors(&req, &v, id, "update", e, &f).await,
    }
}

pub async fn duplicate(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let id = path.into_inner();
    let survivor = match f.int("survivorId", "Surviving thread") {
        Ok(Some(s)) => s,
        Ok(None) => {
            let e = ServiceError::invalid("survivorId", "give the number of the thread this one duplicates");
            return thread_errors(&req, &v, id, "duplicate", e, &f).await;
        }
        Err(e) => return thread_errors(&req, &v, id, "duplicate", ServiceError::Invalid(vec![e]), &f).await,
    };
    let who = v.who.clone();
    match run(&app, move |app| dev::mark_duplicate(app, &who, id, survivor)).await {
        Ok(_) => Ok(see_other(&format!("/development/{survivor}?done=merged"))),
        Err(e) => thread_errors(&req, &v, id, "duplicate", e, &f).await,
    }
}

// ---------------------------------------------------------------- new thread

#[derive(Template)]
#[template(path = "development/new.html")]
struct NewPage {
    c: Chrome,
    products: Vec<Product>,
    releases: Vec<Release>,
    kind: String,
    title: String,
    description: String,
    product: String,
    affected: String,
    visibility: String,
    labels: String,
    errors: Errors,
}

async fn new_form(req: &HttpRequest, v: &Viewer, f: &FormData, errors: Errors) -> Result<NewPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (products, releases) =
        run(&app, move |app| Ok((dev::list_products(app, &who)?, dev::list_releases(app, &who, None)?))).await?;
    Ok(NewPage {
        c: Chrome::new(v, "New development thread", "development"),
        products,
        releases,
        kind: f.opt("kind").unwrap_or_else(|| "bug".into()),
        title: f.get("title").into(),
        description: f.get("description").into(),
        product: f.get("productId").into(),
        affected: f.get("affectedReleaseId").into(),
        visibility: f.opt("visibility").unwrap_or_default(),
        labels: f.get("labels").into(),
        errors,
    })
}

pub async fn new_page(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    render(&new_form(&req, &v, &FormData::default(), Errors::none()).await?)
}

/// The thread fields of a form (new thread, or a new thread from a ticket).
fn thread_input(f: &FormData) -> Result<ThreadInput, Vec<FieldError>> {
    let mut bad = Vec::new();
    let kind = ThreadKind::parse(f.get("kind"));
    if kind.is_none() {
        bad.push(FieldError::new("kind", "choose bug or feature"));
    }
    let visibility = Visibility::parse(f.get("visibility"));
    if visibility.is_none() {
        bad.push(FieldError::new("visibility", "choose public or internal"));
    }
    let product_id = match f.int("productId", "Product") {
        Ok(Some(p)) => Some(p),
        Ok(None) => {
            bad.push(FieldError::new("productId", "choose a product"));
            None
        }
        Err(e) => {
            bad.push(e);
            None
        }
    };
    let affected = match f.int("affectedReleaseId", "Affected build") {
        Ok(a) => a,
        Err(e) => {
            bad.push(e);
            None
        }
    };
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(ThreadInput {
        kind,
        title: Some(f.get("title").to_string()),
        description: Some(f.get("description").to_string()),
        product_id,
        affected_release_id: affected,
        visibility,
        labels: Some(labels_of(f.get("labels"))),
        ..Default::default()
    })
}

pub async fn create(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let input = match thread_input(&f) {
        Ok(i) => i,
        Err(bad) => {
            let errors = Errors::new("thread", bad);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &new_form(&req, &v, &f, errors).await?);
        }
    };
    let who = v.who.clone();
    match run(&app, move |app| dev::create_thread(app, &who, input)).await {
        Ok(t) => Ok(see_other(&format!("/development/{}?done=created", t.id))),
        Err(e) => {
            let errors = Errors::from_service("thread", e)?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &new_form(&req, &v, &f, errors).await?)
        }
    }
}

// ---------------------------------------------------------------- products and releases

pub struct ReleaseRow {
    pub id: i64,
    pub product: String,
    pub label: String,
    pub status: &'static str,
    pub released: bool,
    pub release_date: Option<NaiveDateTime>,
    pub notes: String,
}

#[derive(Template)]
#[template(path = "development/products.html")]
struct ProductsPage {
    c: Chrome,
    products: Vec<Product>,
    releases: Vec<ReleaseRow>,
    errors: Errors,
    product_name: String,
    product_description: String,
    release_product: String,
    release_version: String,
    release_build: String,
    release_status: String,
    release_notes: String,
}

async fn products_page(req: &HttpRequest, v: &Viewer, f: &FormData, errors: Errors) -> Result<ProductsPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let names = run(&app, move |app| Names::load(app, &who)).await?;
    let releases = names
        .releases
        .iter()
        .map(|r| ReleaseRow {
            id: r.id,
            product: names.product(r.product_id),
            label: r.label(),
            status: r.status().as_str(),
            released: r.status() == ReleaseStatus::Released,
            release_date: r.release_date,
            notes: r.notes.clone(),
        })
        .collect();
    Ok(ProductsPage {
        c: Chrome::new(v, "Products and releases", "development").with_notice(&FormData::from_query(req)),
        products: names.products,
        releases,
        product_name: if errors.form == "product" { f.get("name").into() } else { String::new() },
        product_description: if errors.form == "product" { f.get("description").into() } else { String::new() },
        release_product: f.get("productId").into(),
        release_version: if errors.form == "release" { f.get("version").into() } else { String::new() },
        release_build: if errors.form == "release" { f.get("build").into() } else { String::new() },
        release_status: f.opt("status").unwrap_or_else(|| "planned".into()),
        release_notes: if errors.form == "release" { f.get("notes").into() } else { String::new() },
        errors,
    })
}

pub async fn products(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    render(&products_page(&req, &v, &FormData::default(), Errors::none()).await?)
}

async fn products_errors(
    req: &HttpRequest,
    v: &Viewer,
    form: &str,
    e: ServiceError,
    f: &FormData,
) -> Result<HttpResponse, WebError> {
    let errors = Errors::from_service(form, e)?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &products_page(req, v, f, errors).await?)
}

pub async fn create_product(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, name, description) = (v.who.clone(), f.get("name").to_string(), f.get("description").to_string());
    match run(&app, move |app| dev::create_product(app, &who, &name, &description)).await {
        Ok(_) => Ok(see_other("/development/products?done=created")),
        Err(e) => products_errors(&req, &v, "product", e, &f).await,
    }
}

pub async fn create_release(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let product_id = match f.int("productId", "Product") {
        Ok(p) => p,
        Err(e) => return products_errors(&req, &v, "release", ServiceError::Invalid(vec![e]), &f).await,
    };
    let status = ReleaseStatus::parse(f.get("status"));
    if status.is_none() {
        let e = ServiceError::invalid("status", "choose planned or beta");
        return products_errors(&req, &v, "release", e, &f).await;
    }
    let input = ReleaseInput {
        product_id,
        version: Some(f.get("version").to_string()).filter(|s| !s.trim().is_empty()),
        build: Some(f.get("build").to_string()).filter(|s| !s.trim().is_empty()),
        status,
        notes: Some(f.get("notes").to_string()),
    };
    let who = v.who.clone();
    match run(&app, move |app| dev::create_release(app, &who, input)).await {
        Ok(_) => Ok(see_other("/development/products?done=created")),
        Err(e) => products_errors(&req, &v, "release", e, &f).await,
    }
}

pub async fn mark_released(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(_f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    run(&app, move |app| dev::mark_released(app, &who, id)).await?;
    Ok(see_other("/development/products?done=released"))
}

// ---------------------------------------------------------------- from a ticket

/// "Move to Development" on the ticket page: attach to an existing thread (by number or
/// shortcut) or create one from the ticket.
pub async fn move_ticket(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let number = path.into_inner();
    let resolve = f.get("resolve") == "1";
    let existing = f.get("existing").trim().to_string();
    let input = if f.get("mode") == "existing" {
        if existing.is_empty() {
            let e = ServiceError::invalid("existing", "give the thread's number or shortcut");
            return crate::tickets::view::with_errors(&req, &v, number, "move", e, &f).await;
        }
        let who = v.who.clone();
        let thread_id = match existing.trim_start_matches('#').parse::<i64>() {
            Ok(id) => id,
            Err(_) => {
                let code = existing.rsplit('/').next().unwrap_or_default().to_string();
                match run(&app, move |app| dev::get_by_shortcut(app, &who, &code)).await {
                    Ok(t) => t.id,
                    Err(e) => return crate::tickets::view::with_errors(&req, &v, number, "move", e, &f).await,
                }
            }
        };
        MoveInput { number, thread_id: Some(thread_id), new_thread: None, resolve }
    } else {
        match thread_input(&f) {
            Ok(t) => MoveInput { number, thread_id: None, new_thread: Some(t), resolve },
            Err(bad) => {
                return crate::tickets::view::with_errors(&req, &v, number, "move", ServiceError::Invalid(bad), &f)
                    .await
            }
        }
    };
    let who = v.who.clone();
    match run(&app, move |app| dev::move_ticket(app, &who, input)).await {
        Ok((t, _)) => Ok(see_other(&format!("/development/{}?done=moved", t.id))),
        Err(e) => crate::tickets::view::with_errors(&req, &v, number, "move", e, &f).await,
    }
}
