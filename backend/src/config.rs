//! Configuration from the environment, exactly as CONTRACT.md names it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("WRENCH_DATABASE_URL {0:?} has an unknown scheme: use sqlite://PATH, postgres://… or postgresql://…")]
    DatabaseScheme(String),
    #[error("WRENCH_BIND {0:?} is not an address like 127.0.0.1:8080")]
    Bind(String),
    #[error("WRENCH_PUBLIC_URL {0:?} must start with http:// or https://")]
    PublicUrl(String),
    #[error("WRENCH_TRUSTED_PROXIES entry {0:?} is not an IP address")]
    Proxy(String),
    #[error("{0} must be a whole number, got {1:?}")]
    Number(&'static str, String),
}

/// Which database a URL names; anything but these schemes is an error, never a silent SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            Err(ConfigError::DatabaseScheme(url.to_string()))
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub bind: SocketAddr,
    pub public_url: String,
    /// Master secrets, newest first; older ones still verify what they signed.
    pub secret: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub mail_token: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub trusted_authserv_id: Option<String>,
    pub trusted_proxies: Vec<IpAddr>,
    pub clock_file: Option<PathBuf>,
    pub auto_close_days: i64,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(var("WRENCH_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database = match var("WRENCH_DATABASE_URL") {
            Some(url) => DatabaseUrl::parse(&url)?,
            None => DatabaseUrl::Sqlite(data_dir.join("wrench.db")),
        };
        let bind_text = var("WRENCH_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind: SocketAddr = bind_text.parse().map_err(|_| ConfigError::Bind(bind_text.clone()))?;
        let public_url =
            var("WRENCH_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind_text}")).trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::PublicUrl(public_url));
        }
        let mail_from = var("WRENCH_MAIL_FROM").unwrap_or_else(|| format!("support@{}", host_of(&public_url)));
        let trusted_proxies = var("WRENCH_TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().map_err(|_| ConfigError::Proxy(s.to_string())))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let auto_close_days = match var("WRENCH_AUTO_CLOSE_DAYS") {
            Some(v) => {
                v.parse().ok().filter(|d: &i64| *d > 0).ok_or(ConfigError::Number("WRENCH_AUTO_CLOSE_DAYS", v))?
            }
            None => 7,
        };
        Ok(Config {
            data_dir,
            database,
            bind,
            public_url,
            secret: var("WRENCH_SECRET"),
            admin_email: var("WRENCH_ADMIN_EMAIL"),
            admin_password: std::env::var("WRENCH_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()),
            mail_token: var("WRENCH_MAIL_TOKEN"),
            smtp_url: var("WRENCH_SMTP_URL"),
            mail_from,
            trusted_authserv_id: var("WRENCH_TRUSTED_AUTHSERV_ID"),
            trusted_proxies,
            clock_file: var("WRENCH_CLOCK_FILE").map(PathBuf::from),
            auto_close_days,
        })
    }

    pub fn public_host(&self) -> String {
        host_of(&self.public_url)
    }

    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The host part of an http(s) URL, without port or path.
pub fn host_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    authority.split(':').next().unwrap_or(authority).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_schemes() {
        assert_eq!(DatabaseUrl::parse("sqlite://./x.db").unwrap(), DatabaseUrl::Sqlite("./x.db".into()));
        assert!(matches!(DatabaseUrl::parse("postgresql://h/db"), Ok(DatabaseUrl::Postgres(_))));
        let err = DatabaseUrl::parse("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("sqlite://") && err.contains("postgres://"), "{err}");
    }

    #[test]
    fn hosts() {
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("https://Help.Example.com/x"), "help.example.com");
    }
}
