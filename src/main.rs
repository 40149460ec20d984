//! The `wrench` binary: parses the command line and wires the library together.

mod mailgate;
mod reindex;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use wrench_backend::accounts::auth::Principal;
use wrench_backend::accounts::model::Role;
use wrench_backend::accounts::service::{self as accounts, UserInput};
use wrench_backend::config::Config;

#[derive(Parser)]
#[command(name = "wrench", version, about = "Wrench: ticketing and support for managed-service providers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (web UI, GraphQL API, mail and agent endpoints, background workers).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL); needs no database or configuration.
    Schema,
    /// Manage staff users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a backup archive: the SQLite database (a consistent online snapshot), the
    /// attachments and the secret. With PostgreSQL, back the database up with pg_dump.
    Backup {
        /// Where to write the archive (a .tar file).
        path: PathBuf,
    },
    /// Restore a backup archive into the data directory (stop the server first).
    Restore {
        path: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
    },
    /// Read one email on stdin and post it to a Wrench server (for an MTA pipe).
    ///
    /// Exit codes: 0 accepted or duplicate; 75 temporary failure, the MTA should retry
    /// (connection error, timeout, 5xx, 401, 403, 429, internal failure); 65 the message is
    /// refused and should bounce (400, 413, 422).
    Mailgate(mailgate::Args),
    /// Rebuild the search index from the database into a new generation; a running server
    /// keeps serving the old one and switches within seconds, replaying what changed meanwhile.
    Reindex(reindex::Args),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an admin or technician; the password is read from stdin (one line).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin or technician
        #[arg(long, default_value = "technician")]
        role: String,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WRENCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        print!("{}", wrench_backend::graphql::sdl());
        return std::process::ExitCode::SUCCESS;
    }
    if let Command::Mailgate(args) = cli.command {
        return mailgate::run(args);
    }
    init_logging();
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("wrench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match command {
        Command::Serve => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let app = tokio::task::spawn_blocking(move || wrench_backend::server::build_app(config)).await??;
                wrench_backend::server::serve(app, wrench_frontend::configure).await
            })
        }
        Command::Migrate => {
            let pool = wrench_backend::db::open_pool(&config.database, 1)?;
            let mut conn = pool.get().context("connecting to the database")?;
            let n = wrench_backend::db::migrate(&mut conn)?;
            println!("applied {n} migration(s)");
            Ok(())
        }
        Command::User { command: UserCommand::Create { email, name, role } } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("--role must be admin or technician"))?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let app = wrench_backend::server::build_app(config)?;
            let input = UserInput {
                email: Some(email),
                name: Some(name),
                role: Some(role),
                password: Some(password),
                ..Default::default()
            };
            let user = accounts::create_user(&app, &Principal::System, input).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {} {} (id {})", user.role, user.email, user.id);
            Ok(())
        }
        Command::Backup { path } => {
            println!("{}", wrench_backend::backup::backup(&config, &path)?);
            Ok(())
        }
        Command::Restore { path, force } => {
            println!("{}", wrench_backend::backup::restore(&config, &path, force)?);
            Ok(())
        }
        Command::Reindex(args) => reindex::run(config, args),
        Command::Schema | Command::Mailgate(_) => Ok(()),
    }
}
