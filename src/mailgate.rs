//! `wrench mailgate`: a thin HTTP client for an MTA pipe. Reads one message on stdin and
//! posts it to `BASE/mail/inbound`. It opens no database and starts fast.
//! Exit codes follow sysexits: 0 accepted or duplicate, 75 try again later, 65 bounce.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EX_OK: u8 = 0;
const EX_DATAERR: u8 = 65;
const EX_TEMPFAIL: u8 = 75;

#[derive(clap::Args)]
pub struct Args {
    /// The Wrench server's base URL, e.g. https://help.example.com
    #[arg(long)]
    url: String,
    /// The envelope recipient (picks the queue); default $ORIGINAL_RECIPIENT.
    #[arg(long)]
    recipient: Option<String>,
    /// Read the bearer token from this file instead of WRENCH_MAIL_TOKEN.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Give up after this many seconds (the MTA retries).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

fn token(args: &Args) -> Result<String, String> {
    if let Some(path) = &args.token_file {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()));
    }
    std::env::var("WRENCH_MAIL_TOKEN")
        .map(|s| s.trim().to_string())
        .map_err(|_| "no token: set WRENCH_MAIL_TOKEN or pass --token-file".to_string())
}

/// The exit code for an HTTP status from the server.
pub fn exit_for_status(status: u16) -> u8 {
    match status {
        200..=299 => EX_OK,
        400 | 413 | 422 => EX_DATAERR,
        _ => EX_TEMPFAIL,
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' | b'+' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn run(args: Args) -> ExitCode {
    let code = match post(&args) {
        Ok((status, body)) => {
            let code = exit_for_status(status);
            if code != EX_OK {
                // The MTA puts this line into the bounce it sends back to the sender.
                let why = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                    .unwrap_or_else(|| body.chars().take(200).collect());
                eprintln!("wrench mailgate: the server answered {status}: {why}");
            }
            code
        }
        Err(e) => {
            eprintln!("wrench mailgate: {e}");
            EX_TEMPFAIL
        }
    };
    ExitCode::from(code)
}

fn post(args: &Args) -> Result<(u16, String), String> {
    let token = token(args)?;
    let mut message = Vec::new();
    std::io::stdin().read_to_end(&mut message).map_err(|e| format!("reading the message: {e}"))?;
    let recipient =
        args.recipient.clone().or_else(|| std::env::var("ORIGINAL_RECIPIENT").ok()).filter(|r| !r.is_empty());
    let mut url = format!("{}/mail/inbound", args.url.trim_end_matches('/'));
    if let Some(r) = recipient {
        url.push_str("?to=");
        url.push_str(&percent_encode(&r));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(args.timeout)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Content-Type", "message/rfc822")
        .header("Authorization", &format!("Bearer {token}"))
        .send(&message[..])
        .map_err(|e| format!("posting to {url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(exit_for_status(200), 0);
        assert_eq!(exit_for_status(202), 0);
        for s in [400, 413, 422] {
            assert_eq!(exit_for_status(s), 65, "{s}");
        }
        for s in [401, 403, 429, 500, 502, 503] {
            assert_eq!(exit_for_status(s), 75, "{s}");
        }
    }
}
