//! Delivering a bundle to an environment's PDPs, and asking them what they serve. Besides
//! `bench::remote`, this is the only code that talks to the network.
//!
//! A PDP is reached one of three ways, by its URL in `permit.yaml`:
//! - `http(s)://` — an OPA server's REST API (`opa.rs`): modules and data are written in place,
//!   verified, and put back as they were if anything fails;
//! - `oci://host/repo` — an OCI registry OPAs pull from (`oci.rs`): one artifact, tagged with the
//!   environment and the revision;
//! - `file://` — a folder an HTTP server or OPA's bundle service reads (`dir.rs`).
//!
//! Every target ends a push either serving the new revision (verified by reading it back) or
//! serving what it served before. Secrets (tokens) never reach messages: errors pass `redact`.

pub mod dir;
pub mod oci;
pub mod opa;

use crate::bundle::Bundle;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bearer token read from an environment variable. Never printed.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Token {
        Token(value)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// How a PDP is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An OPA server's REST API at this base URL (no trailing `/`).
    Rest(String),
    Oci(oci::Reference),
    Dir(PathBuf),
}

/// A PDP of an environment, ready to be contacted.
#[derive(Debug, Clone)]
pub struct Pdp {
    /// The URL as written in `permit.yaml` (what reports show).
    pub url: String,
    pub target: Target,
    pub token: Option<Token>,
    /// The environment it serves (the OCI tag pullers follow).
    pub environment: String,
}

/// Why a URL in `permit.yaml` cannot be a PDP.
pub fn target(url: &str, project_root: &Path) -> Result<Target, String> {
    if let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    {
        if rest.trim_matches('/').is_empty() {
            return Err(format!("PDP URL `{url}` has no host"));
        }
        return Ok(Target::Rest(url.trim_end_matches('/').to_string()));
    }
    if url.starts_with("oci://") || url.starts_with("oci+http://") {
        return oci::Reference::parse(url).map(Target::Oci);
    }
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(format!("PDP URL `{url}` has no path"));
        }
        let p = Path::new(path);
        return Ok(Target::Dir(if p.is_absolute() {
            p.to_path_buf()
        } else {
            project_root.join(p)
        }));
    }
    Err(format!(
        "PDP URL `{url}` has an unsupported scheme; use `http(s)://` (OPA REST API), `oci://` (a registry OPAs pull from) or `file://` (a bundle folder)"
    ))
}

/// A failure talking to one PDP; `transient` ones are retried.
#[derive(Debug, Clone)]
pub struct PdpError {
    pub message: String,
    pub transient: bool,
}

impl PdpError {
    pub fn new(message: impl Into<String>) -> PdpError {
        PdpError {
            message: message.into(),
            transient: false,
        }
    }
}

impl std::fmt::Display for PdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What happened to one PDP.
#[derive(Debug, Clone)]
pub struct Report {
    pub pdp: String,
    /// The revision it served before (`None`: nothing of ours, or unknown when unreachable).
    pub before: Option<String>,
    /// The revision it serves now, read back from it.
    pub after: Option<String>,
    pub elapsed: Duration,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Now serving the new revision.
    Pushed,
    /// Already served it; nothing written.
    Current,
    /// `--dry-run`: would be pushed.
    Planned,
    /// Answered a status query.
    Reachable,
    /// Failed before writing anything.
    Failed(String),
    /// Failed after writing; what it served before was put back.
    RolledBack(String),
    /// Failed, and putting back what it served failed too: needs a person.
    Broken { error: String, restore: String },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed(_) | Outcome::RolledBack(_) | Outcome::Broken { .. }
        )
    }

    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Pushed => "pushed",
            Outcome::Current => "current",
            Outcome::Planned => "planned",
            Outcome::Reachable => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::RolledBack(_) => "rolled back",
            Outcome::Broken { .. } => "BROKEN",
        }
    }

    /// The error text of a failure.
    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Failed(e) | Outcome::RolledBack(e) => Some(e.clone()),
            Outcome::Broken { error, restore } => {
                Some(format!("{error}; restoring failed too: {restore}"))
            }
            _ => None,
        }
    }
}

/// What a target's push returns: the revision before and after, or how it failed.
pub struct Attempt {
    pub before: Option<String>,
    pub after: Option<String>,
    pub outcome: Outcome,
}

impl Attempt {
    /// Failed before writing anything: the target still serves `before`.
    pub fn failed(before: Option<String>, e: PdpError) -> Attempt {
        Attempt {
            after: before.clone(),
            before,
            outcome: Outcome::Failed(e.message),
        }
    }

    /// Failed after writing; what the target served before was put back.
    pub fn rolled_back(before: Option<String>, e: PdpError) -> Attempt {
        Attempt {
            after: before.clone(),
            before,
            outcome: Outcome::RolledBack(e.message),
        }
    }

    /// Failed, and putting back what the target served failed too (`restore` says how).
    pub fn broken(
        before: Option<String>,
        after: Option<String>,
        e: PdpError,
        restore: String,
    ) -> Attempt {
        Attempt {
            before,
            after,
            outcome: Outcome::Broken {
                error: e.message,
                restore,
            },
        }
    }
}

/// The revision `pdp` serves now.
pub fn status(pdp: &Pdp) -> Result<Option<String>, PdpError> {
    let result = match &pdp.target {
        Target::Rest(base) => opa::status(&Client::new(pdp), base),
        Target::Oci(r) => oci::status(&Client::new(pdp), r, &oci::tag(&pdp.environment)),
        Target::Dir(d) => dir::status(d),
    };
    result.map_err(|e| redact(e, pdp))
}

/// Pushes `bundle` to `pdp`; `dry_run` only reads what it serves.
pub fn push(pdp: &Pdp, bundle: &Bundle, dry_run: bool) -> Report {
    let start = Instant::now();
    let attempt = if dry_run {
        match status(pdp) {
            Ok(before) => Attempt {
                outcome: if before.as_deref() == Some(bundle.meta.revision.as_str()) {
                    Outcome::Current
                } else {
                    Outcome::Planned
                },
                after: before.clone(),
                before,
            },
            Err(e) => Attempt::failed(None, e),
        }
    } else {
        let a = match &pdp.target {
            Target::Rest(base) => opa::push(&Client::new(pdp), base, bundle),
            Target::Oci(r) => oci::push(&Client::new(pdp), r, &oci::tag(&pdp.environment), bundle),
            Target::Dir(d) => dir::push(d, bundle),
        };
        Attempt {
            outcome: redact_outcome(a.outcome, pdp),
            ..a
        }
    };
    Report {
        pdp: pdp.url.clone(),
        before: attempt.before,
        after: attempt.after,
        elapsed: start.elapsed(),
        outcome: attempt.outcome,
    }
}

/// Runs `f` on every PDP with at most `jobs` at a time; reports come back in PDP order.
/// `done` is called after each PDP (progress).
pub fn fan_out<F>(pdps: &[Pdp], jobs: usize, f: F, done: &(dyn Fn(&Report) + Sync)) -> Vec<Report>
where
    F: Fn(&Pdp) -> Report + Sync,
{
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Report>>> = Mutex::new(vec![None; pdps.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, pdps.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(pdp) = pdps.get(i) else { break };
                let report = f(pdp);
                done(&report);
                if let Ok(mut slots) = slots.lock() {
                    slots[i] = Some(report);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_default();
    slots
        .into_iter()
        .zip(pdps)
        .map(|(r, pdp)| {
            r.unwrap_or_else(|| Report {
                pdp: pdp.url.clone(),
                before: None,
                after: None,
                elapsed: Duration::ZERO,
                outcome: Outcome::Failed("internal error: the worker stopped".into()),
            })
        })
        .collect()
}

/// Removes every secret of `pdp` from an error.
fn redact(mut e: PdpError, pdp: &Pdp) -> PdpError {
    e.message = redact_text(&e.message, pdp);
    e
}

fn redact_text(text: &str, pdp: &Pdp) -> String {
    match &pdp.token {
        Some(Token(t)) if !t.is_empty() => text.replace(t.as_str(), "<redacted>"),
        _ => text.to_string(),
    }
}

fn redact_outcome(o: Outcome, pdp: &Pdp) -> Outcome {
    match o {
        Outcome::Failed(e) => Outcome::Failed(redact_text(&e, pdp)),
        Outcome::RolledBack(e) => Outcome::RolledBack(redact_text(&e, pdp)),
        Outcome::Broken { error, restore } => Outcome::Broken {
            error: redact_text(&error, pdp),
            restore: redact_text(&restore, pdp),
        },
        o => o,
    }
}

/// An HTTP reply with its body read.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> String {
        let t = String::from_utf8_lossy(&self.body);
        let t = t.trim();
        // OPA's errors are short JSON; a proxy's page need not be
        match t.char_indices().nth(300) {
            Some((i, _)) => format!("{}…", &t[..i]),
            None => t.to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// HTTP with the PDP's token, timeouts, and retries with exponential backoff on connection
/// failures, timeouts and 5xx answers.
pub struct Client {
    agent: ureq::Agent,
    token: Option<Token>,
}

const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

impl Client {
    pub fn new(pdp: &Pdp) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Client {
            agent,
            token: pdp.token.clone(),
        }
    }

    /// One request, retried while the failure is transient.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, PdpError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let result = self.once(method, url, headers, body);
            let transient = match &result {
                Ok(r) => r.status >= 500,
                Err(e) => e.transient,
            };
            if !transient || attempt >= ATTEMPTS {
                return result;
            }
            std::thread::sleep(backoff);
            backoff *= 2;
            attempt += 1;
        }
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, PdpError> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(Token(t)) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(body.to_vec())
            .map_err(|e| PdpError::new(format!("{method} {url}: invalid request ({e})")))?;
        match self.agent.run(req) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(4 << 30)
                    .read_to_vec()
                    .map_err(|e| PdpError {
                        message: format!("{method} {url}: reading the answer failed ({e})"),
                        transient: true,
                    })?;
                Ok(Reply {
                    status,
                    headers,
                    body,
                })
            }
            Err(e) => {
                let transient = matches!(
                    e,
                    ureq::Error::Io(_)
                        | ureq::Error::Timeout(_)
                        | ureq::Error::ConnectionFailed
                        | ureq::Error::Protocol(_)
                );
                Err(PdpError {
                    message: format!("{method} {url}: {e}"),
                    transient,
                })
            }
        }
    }
}

/// `s` with every byte outside RFC 3986's unreserved set and `/` percent-encoded.
pub fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A revision shortened for tables: a commit SHA to 12 characters (keeping a `-dirty` suffix).
/// Revisions read from PDPs can be anything, so this cuts at characters, not bytes.
pub fn short(rev: &str) -> String {
    let (sha, suffix) = match rev.split_once('-') {
        Some((sha, rest)) => (sha, format!("-{rest}")),
        None => (rev, String::new()),
    };
    if sha.chars().count() > 12 && sha.chars().all(|c| c.is_ascii_hexdigit()) {
        format!("{}{suffix}", sha.chars().take(12).collect::<String>())
    } else {
        rev.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_targets() {
        let root = Path::new("/p");
        assert_eq!(
            target("http://127.0.0.1:8181/", root).unwrap(),
            Target::Rest("http://127.0.0.1:8181".into())
        );
        assert!(matches!(
            target("oci://127.0.0.1:5000/policies/staging", root),
            Ok(Target::Oci(_))
        ));
        assert_eq!(
            target("file://out/bundles", root).unwrap(),
            Target::Dir(PathBuf::from("/p/out/bundles"))
        );
        assert!(target("ftp://x", root)
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(target("http://", root).is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let pdp = Pdp {
            url: "http://x".into(),
            target: Target::Rest("http://x".into()),
            token: Some(Token::new("tok-123".into())),
            environment: "dev".into(),
        };
        let e = redact(PdpError::new("bad tok-123 here"), &pdp);
        assert_eq!(e.message, "bad <redacted> here");
        assert!(!format!("{pdp:?}").contains("tok-123"));
    }

    #[test]
    fn short_revisions() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(short(sha), "0123456789ab");
        assert_eq!(short(&format!("{sha}-dirty")), "0123456789ab-dirty");
        assert_eq!(short("abc"), "abc");
        assert_eq!(
            short("content-0123456789abcdef"),
            "content-0123456789abcdef"
        );
        let odd = "ééééééééééééééééé";
        assert_eq!(short(odd), odd);
    }

    #[test]
    fn paths_are_encoded() {
        assert_eq!(encode_path("permit/a b.rego"), "permit/a%20b.rego");
    }

    #[test]
    fn fan_out_keeps_order_and_bounds_workers() {
        let pdps: Vec<Pdp> = (0..7)
            .map(|i| Pdp {
                url: format!("file:///{i}"),
                target: Target::Dir(PathBuf::from(format!("/{i}"))),
                token: None,
                environment: "dev".into(),
            })
            .collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let reports = fan_out(
            &pdps,
            3,
            |p| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Report {
                    pdp: p.url.clone(),
                    before: None,
                    after: None,
                    elapsed: Duration::ZERO,
                    outcome: Outcome::Reachable,
                }
            },
            &|_| {},
        );
        let urls: Vec<&str> = reports.iter().map(|r| r.pdp.as_str()).collect();
        assert_eq!(
            urls,
            pdps.iter().map(|p| p.url.as_str()).collect::<Vec<_>>()
        );
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(peak.load(Ordering::SeqCst) >= 2);
    }
}
