//! Start-up and the HTTP server: configuration → keys → clock → pool → migrations →
//! settings → the first admin; then background workers and the routes.

use crate::app::App;
use crate::clock::{Clock, FileClock, SystemClock};
use crate::config::{Config, DatabaseUrl};
use crate::jobs::{self, Registry};
use crate::keys::Keys;
use actix_web::{middleware, web, HttpResponse, HttpServer};
use anyhow::Context as _;
use std::sync::Arc;

/// Opens everything the app needs and applies pending migrations.
pub fn build_app(config: Config) -> anyhow::Result<Arc<App>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let keys = Keys::load(config.secret.as_deref(), &config.data_dir)?;
    let clock: Arc<dyn Clock> = match &config.clock_file {
        Some(path) => {
            tracing::warn!("WRENCH_CLOCK_FILE is set: time is read from {} (tests only)", path.display());
            Arc::new(FileClock::new(path.clone()))
        }
        None => Arc::new(SystemClock),
    };
    let size = match config.database {
        DatabaseUrl::Sqlite(_) => 16,
        DatabaseUrl::Postgres(_) => 16,
    };
    let pool = crate::db::open_pool(&config.database, size)?;
    {
        let mut conn = pool.get().context("connecting to the database")?;
        let ran = crate::db::migrate(&mut conn)?;
        if ran > 0 {
            tracing::info!("applied {ran} database migration(s) on {}", config.database.backend_name());
        }
    }
    let app = Arc::new(App::new(config, pool, clock, keys));
    crate::settings::load(&app)?;
    if let Some(msg) = crate::accounts::service::ensure_initial_admin(&app)? {
        tracing::info!("{msg}");
    }
    crate::accounts::sessions::ensure_prune_scheduled(&app)?;
    Ok(app)
}

/// Every background job kind and its handler.
pub fn job_registry() -> Registry {
    let mut r = Registry::new();
    r.register(crate::tickets::service::AUTO_CLOSE_JOB, Arc::new(crate::tickets::service::auto_close));
    r.register(crate::accounts::sessions::PRUNE_JOB, Arc::new(crate::accounts::sessions::prune));
    r.register(crate::development::service::RELEASE_FANOUT_JOB, Arc::new(crate::development::service::release_fanout));
    r.register_serial(crate::sla::service::DEADLINE_JOB, Arc::new(crate::sla::service::deadline_job));
    r.register_serial(crate::sla::service::REMEASURE_JOB, Arc::new(crate::sla::service::remeasure_job));
    r.register(crate::mail::outbound::SEND_JOB, Arc::new(crate::mail::outbound::send));
    r.register(crate::assets::alerts::OFFLINE_JOB, Arc::new(crate::assets::alerts::offline_job));
    r
}

/// Serves HTTP until the process is told to stop. `extra` adds the web UI's routes.
pub async fn serve<F>(app: Arc<App>, extra: F) -> anyhow::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Send + Sync + Clone + 'static,
{
    let registry = Arc::new(job_registry());
    tokio::spawn(jobs::worker(app.clone(), registry));
    tokio::spawn(crate::search::indexer::run(app.clone()));
    let gql = Arc::new(crate::graphql::http::GraphqlState::new());
    let bind = app.config.bind;
    let data = web::Data::new(app.clone());
    let gql_data = web::Data::new(gql);
    let server = HttpServer::new(move || {
        let extra = extra.clone();
        actix_web::App::new()
            .app_data(data.clone())
            .app_data(gql_data.clone())
            .app_data(web::PayloadConfig::new(crate::graphql::http::MAX_BODY_BYTES + 1))
            .wrap(middleware::from_fn(crate::http::request_context))
            .route("/healthz", web::get().to(crate::http::healthz))
            .route("/graphql", web::post().to(crate::graphql::http::endpoint))
            .route(
                "/graphql",
                web::get().to(|| async {
                    HttpResponse::MethodNotAllowed()
                        .insert_header(("Allow", "POST"))
                        .body("POST a GraphQL request here.\n")
                }),
            )
            .configure(crate::mail::inbound::configure)
            .configure(crate::assets::ingest::routes)
            .configure(move |cfg| extra(cfg))
    })
    .bind(bind)
    .with_context(|| format!("listening on {bind}"))?;
    let addrs = server.addrs();
    let running = server.run();
    for a in addrs {
        tracing::info!("listening on http://{a}");
    }
    tracing::info!("browse to {}", app.config.public_url);
    running.await?;
    Ok(())
}
