//! The email-to-ticket gateway: inbound mail (HTTP endpoint and `wrench mailgate`) becomes
//! tickets and replies, exactly once; outbound notifications leave through durable jobs,
//! stamped and threaded; auto-replies, loops and bounces are recognised; held mail waits in
//! an admin-visible quarantine.

pub mod autoreply;
pub mod bounce;
pub mod graphql;
pub mod inbound;
pub mod outbound;
pub mod parse;
pub mod service;
pub mod store;
pub mod threading;

/// `../shared/mail/SUB` next to the repository (the real-world test corpus), if present.
pub fn shared_corpus(sub: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    root.ancestors().map(|a| a.join("shared/mail").join(sub)).find(|p| p.is_dir())
}
