//! `madoguchi-backend.toml`: every key, its default and its meaning. Unknown keys are refused.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The service configuration. Paths are relative to the configuration file's directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://PATH` (created if missing; WAL) or `postgres://USER@HOST:PORT/DB`.
    pub database: String,
    /// Kiosk and administrator API, HTTPS with mandatory client certificates.
    pub listen: String,
    /// Public HTTPS listener without client certificates, serving only `/v1/verify/...` and
    /// `/v1/openapi.json` (for the QR code on printed documents). Empty: off.
    pub public_listen: String,
    /// Base URL printed into each document's QR code (`{verify_base_url}/{number}?code=...`).
    pub verify_base_url: String,
    /// Directory with the CAs, the server certificate and the Ed25519 signing key (`init` creates it).
    pub keys_dir: PathBuf,
    /// Host names and IP addresses the server certificate is made for (at `init`).
    pub server_names: Vec<String>,
    /// Directory of pinned JPKI CA certificates (DER or PEM). Empty: none pinned, every resident refused.
    pub jpki_anchors_dir: PathBuf,
    /// Accept JPKI test-environment anchors and certificates (the demo world's).
    pub allow_test_anchors: bool,
    /// Refuse authentication when no current CRL of the certificate's issuer was imported.
    pub require_crl: bool,
    /// Lifetime of a challenge (seconds).
    pub challenge_ttl_s: i64,
    /// Lifetime of an authenticated session (seconds).
    pub session_ttl_s: i64,
    /// An issuance without an outcome after this long is voided and marked for refund (seconds).
    pub outcome_timeout_s: i64,
    /// How often each instance looks for unconfirmed issuances to void (seconds).
    pub sweep_interval_s: u64,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// Issuances allowed in one session.
    pub max_issuances_per_session: i64,
    /// Database connection pool size.
    pub db_max_connections: u32,
    /// How long to wait for a locked database (SQLite busy timeout) or a pool connection (ms).
    pub db_busy_timeout_ms: u64,
    /// SQLite `synchronous` pragma: `off`, `normal` or `full`.
    pub sqlite_synchronous: String,
    /// How long a credential (kiosk/admin) lookup may be cached per instance (ms); a revocation
    /// takes effect on new connections at once and on open ones within this time.
    pub credential_cache_ms: u64,
    /// Tokio worker threads (0: one per core).
    pub worker_threads: usize,
    /// Log filter (`error`, `warn`, `info`, `debug`, or env_logger syntax); `RUST_LOG` wins.
    pub log: String,
    /// The card-management key (Ed25519, PKCS#8 PEM) that authorises PIN resets. Empty:
    /// `card-management-key.pem` in `keys_dir` (where `load-world` puts the world's). Without
    /// it PIN resets are off (`reset_unavailable`).
    pub card_management_key: PathBuf,
    /// How long a PIN-reset reservation may be used after it was made (seconds).
    pub reservation_ttl_s: i64,
    /// Public listener: requests per second each source (IPv4 address, IPv6 /64) may make on
    /// average; beyond it `rate_limited` (429) and no database work.
    pub public_rate_per_s: f64,
    /// Public listener: requests a source may make at once before the rate applies.
    pub public_burst: u32,
    /// Public listener: sources tracked at most; beyond it new sources share one bucket, so a
    /// flood from many addresses costs bounded memory.
    pub public_max_sources: usize,
    /// How often the public listener's rejections are written, counted, as one audit record
    /// (seconds; also on shutdown).
    pub public_rejection_flush_s: u64,
    /// How often a signed checkpoint of the audit chain's head is stored (seconds; also on
    /// shutdown); `audit export` hands the newest out.
    pub audit_checkpoint_interval_s: u64,
    /// Document payloads (they hold the resident's data, possibly the 個人番号) are erased
    /// this many days after the outcome; the payload's SHA-256 stays (0: never erase).
    pub payload_retention_days: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: "sqlite://madoguchi.db".into(),
            listen: "127.0.0.1:8443".into(),
            public_listen: "127.0.0.1:8444".into(),
            verify_base_url: "https://127.0.0.1:8444/v1/verify".into(),
            keys_dir: "keys".into(),
            server_names: vec!["localhost".into(), "127.0.0.1".into()],
            jpki_anchors_dir: "anchors".into(),
            allow_test_anchors: false,
            require_crl: true,
            challenge_ttl_s: 120,
            session_ttl_s: 600,
            outcome_timeout_s: 600,
            sweep_interval_s: 30,
            max_body_bytes: 65_536,
            max_issuances_per_session: 10,
            db_max_connections: 8,
            db_busy_timeout_ms: 5_000,
            sqlite_synchronous: "normal".into(),
            credential_cache_ms: 1_000,
            worker_threads: 0,
            log: "info".into(),
            card_management_key: PathBuf::new(),
            reservation_ttl_s: 86_400,
            public_rate_per_s: 5.0,
            public_burst: 20,
            public_max_sources: 100_000,
            public_rejection_flush_s: 60,
            audit_checkpoint_interval_s: 3600,
            payload_retention_days: 90,
        }
    }
}

/// (key, default, meaning) for the README; kept next to the struct so they cannot drift far
/// (a unit test checks every key is listed).
pub const KEYS: &[(&str, &str, &str)] = &[
    ("database", "\"sqlite://madoguchi.db\"", "`sqlite://PATH` (one file, WAL, created if missing) or `postgres://USER@HOST:PORT/DB`; `--database` overrides it"),
    ("listen", "\"127.0.0.1:8443\"", "kiosk and administrator API: HTTPS, client certificate required"),
    ("public_listen", "\"127.0.0.1:8444\"", "public HTTPS without client certificates, only `/v1/verify/…` and `/v1/openapi.json`; `\"\"` turns it off"),
    ("verify_base_url", "\"https://127.0.0.1:8444/v1/verify\"", "base of the verification URL printed as a QR code on each document"),
    ("keys_dir", "\"keys\"", "kiosk CA, server CA and certificate, Ed25519 signing key, verify-code key (`init` creates them)"),
    ("server_names", "[\"localhost\", \"127.0.0.1\"]", "names and addresses in the server certificate (used by `init`)"),
    ("jpki_anchors_dir", "\"anchors\"", "pinned JPKI CA certificates (DER/PEM files)"),
    ("allow_test_anchors", "false", "accept JPKI test-environment anchors and certificates (demo world)"),
    ("require_crl", "true", "refuse authentication (`revocation_unavailable`) without a current CRL for the issuer"),
    ("challenge_ttl_s", "120", "challenge lifetime, seconds"),
    ("session_ttl_s", "600", "authenticated session lifetime, seconds"),
    ("outcome_timeout_s", "600", "issuances without an outcome this long are voided and marked for refund"),
    ("sweep_interval_s", "30", "how often each instance voids overdue issuances"),
    ("max_body_bytes", "65536", "largest request body (`payload_too_large` beyond)"),
    ("max_issuances_per_session", "10", "issuances allowed in one session"),
    ("db_max_connections", "8", "most database connections the instance opens (at least 4): one for the group commit (two on SQLite), a quarter for the pool, the rest for the flow's own"),
    ("db_busy_timeout_ms", "5000", "wait for a locked database or a pool connection before `database_busy`"),
    ("sqlite_synchronous", "\"normal\"", "SQLite `synchronous` pragma (`off`, `normal`, `full`); paper-making writes are synced whatever it says"),
    ("credential_cache_ms", "1000", "per-instance cache of kiosk/admin credentials; revocation reaches open connections within this time, new ones at once"),
    ("worker_threads", "0", "tokio worker threads (0 = one per core)"),
    ("log", "\"info\"", "log filter (`RUST_LOG` wins)"),
    ("card_management_key", "\"\"", "Ed25519 card-management key (PKCS#8 PEM) that authorises PIN resets; `\"\"` = `card-management-key.pem` in `keys_dir`, where `load-world` copies the world's; without it resets answer `reset_unavailable`"),
    ("reservation_ttl_s", "86400", "how long a PIN-reset reservation lasts after it was made, seconds"),
    ("public_rate_per_s", "5.0", "public listener: average requests per second per source (IPv4 address, IPv6 /64); beyond it `rate_limited` (429)"),
    ("public_burst", "20", "public listener: requests a source may make at once before the rate applies"),
    ("public_max_sources", "100000", "public listener: sources tracked; beyond it new sources share one bucket (bounded memory)"),
    ("public_rejection_flush_s", "60", "the public listener's rejections are audited as one record of counts this often (and on shutdown)"),
    ("audit_checkpoint_interval_s", "3600", "how often a signed checkpoint of the audit chain's head is stored (and on shutdown); `audit export` hands it out"),
    ("payload_retention_days", "90", "document payloads (resident data, maybe the 個人番号) are erased this many days after the outcome; their SHA-256 stays; 0 = keep"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: String, source: Box<toml::de::Error> },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file; relative paths in it are taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.display().to_string(), source: Box::new(source) })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    /// Makes `keys_dir`, `jpki_anchors_dir` and a relative SQLite path absolute against `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        if self.keys_dir.is_relative() {
            self.keys_dir = base.join(&self.keys_dir);
        }
        if !self.jpki_anchors_dir.as_os_str().is_empty() && self.jpki_anchors_dir.is_relative() {
            self.jpki_anchors_dir = base.join(&self.jpki_anchors_dir);
        }
        if !self.card_management_key.as_os_str().is_empty() && self.card_management_key.is_relative() {
            self.card_management_key = base.join(&self.card_management_key);
        }
        if let Some(rest) = self.database.strip_prefix("sqlite://") {
            let (file, query) = rest.split_once('?').map_or((rest, None), |(f, q)| (f, Some(q)));
            if !file.is_empty() && file != ":memory:" && Path::new(file).is_relative() {
                let abs = base.join(file);
                self.database = match query {
                    Some(q) => format!("sqlite://{}?{q}", abs.display()),
                    None => format!("sqlite://{}", abs.display()),
                };
            }
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |k: &str, m: &str| Err(ConfigError::Invalid(format!("{k}: {m}")));
        if !(self.database.starts_with("sqlite:")
            || self.database.starts_with("postgres:")
            || self.database.starts_with("postgresql:"))
        {
            return bad("database", "must start with sqlite:// or postgres://");
        }
        if self.challenge_ttl_s <= 0 || self.challenge_ttl_s > 3600 {
            return bad("challenge_ttl_s", "must be 1..=3600");
        }
        if self.session_ttl_s <= 0 || self.session_ttl_s > 86_400 {
            return bad("session_ttl_s", "must be 1..=86400");
        }
        if self.reservation_ttl_s <= 0 || self.reservation_ttl_s > 30 * 86_400 {
            return bad("reservation_ttl_s", "must be 1..=2592000");
        }
        if self.outcome_timeout_s <= 0 {
            return bad("outcome_timeout_s", "must be positive");
        }
        if self.sweep_interval_s == 0 {
            return bad("sweep_interval_s", "must be positive");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        if self.max_issuances_per_session < 1 {
            return bad("max_issuances_per_session", "must be at least 1");
        }
        if self.db_max_connections < 4 {
            return bad("db_max_connections", "must be at least 4");
        }
        if !matches!(self.sqlite_synchronous.as_str(), "off" | "normal" | "full") {
            return bad("sqlite_synchronous", "must be off, normal or full");
        }
        if !(self.public_rate_per_s.is_finite() && self.public_rate_per_s > 0.0) {
            return bad("public_rate_per_s", "must be a positive number");
        }
        if self.public_burst == 0 {
            return bad("public_burst", "must be at least 1");
        }
        if self.public_max_sources == 0 {
            return bad("public_max_sources", "must be at least 1");
        }
        if self.public_rejection_flush_s == 0 {
            return bad("public_rejection_flush_s", "must be positive");
        }
        if self.audit_checkpoint_interval_s == 0 {
            return bad("audit_checkpoint_interval_s", "must be positive");
        }
        if self.payload_retention_days < 0 {
            return bad("payload_retention_days", "must be 0 (keep) or more");
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("listen", "must be IP:PORT");
        }
        if !self.public_listen.is_empty() && self.public_listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("public_listen", "must be IP:PORT or empty");
        }
        Ok(())
    }

    /// Where the card-management key is read from.
    pub fn card_management_key_path(&self) -> PathBuf {
        if self.card_management_key.as_os_str().is_empty() {
            self.keys_dir.join(crate::pki::CARD_MANAGEMENT_KEY)
        } else {
            self.card_management_key.clone()
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database.starts_with("postgres")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_documented_and_defaults_parse() {
        let defaults = toml::to_string(&Config::default()).unwrap();
        let table: toml::Table = toml::from_str(&defaults).unwrap();
        for key in table.keys() {
            assert!(KEYS.iter().any(|(k, _, _)| k == key), "{key} missing from KEYS");
        }
        for (k, default, _) in KEYS {
            let parsed: toml::Table = toml::from_str(&format!("{k} = {default}")).unwrap();
            assert_eq!(parsed.get(*k), table.get(*k), "documented default of {k}");
        }
        Config::default().validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("databse = \"x\"").unwrap_err();
        assert!(err.to_string().contains("databse"), "{err}");
    }
}
