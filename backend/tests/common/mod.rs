//! Test harness: a shared demo world, a backend started as a real process on loopback, kiosk and
//! administrator credentials made with the real CLI, a private PostgreSQL cluster, and the
//! resident flow as a kiosk drives it. Everything is cleaned up on drop.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::client::{client_config, Client, Reply};
use madoguchi_api::{PublicKey, SignedBlob};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_madoguchi-backend");
pub const KIYOSE: &str = "132217";
pub const TOKOROZAWA: &str = "112089";

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The demo world, generated once per day into the cargo target's temporary directory.
pub fn world() -> &'static Path {
    static WORLD: OnceLock<PathBuf> = OnceLock::new();
    WORLD.get_or_init(|| {
        let today = madoguchi_api::municipality::jst(time::OffsetDateTime::now_utc()).date();
        // Keyed by this test binary's build (a changed generator gives a new world) and the day.
        let built = std::fs::metadata(std::env::current_exe().unwrap())
            .and_then(|m| m.modified())
            .map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs())
            .unwrap_or(0);
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        for old in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = old.file_name().to_string_lossy().to_string();
            if name.starts_with("backend-world-") && !name.starts_with(&format!("backend-world-{today}")) {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        let dir = root.join(format!("backend-world-{today}-{built}"));
        if !dir.join("manifest.json").exists() {
            let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("backend-world-{today}.{}", std::process::id()));
            madoguchi_sim::world::generate_world(&tmp, 7, today).expect("world");
            // Another test binary may have won the race: either copy is the same world.
            let _ = std::fs::rename(&tmp, &dir);
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir
    })
}

/// The world's manifest, read with the simulator's definition, as JSON for the tests to index.
pub fn manifest() -> Value {
    serde_json::to_value(madoguchi_sim::world::Manifest::load(world()).unwrap()).unwrap()
}

fn profile(name: &str) -> madoguchi_sim::profile::CardProfile {
    madoguchi_sim::profile::CardProfile::load(&world().join("cards").join(format!("{name}.json"))).unwrap()
}

/// A card of the world: certificate and key.
pub struct Card {
    pub id: String,
    pub cert: Vec<u8>,
    pub key: ring::signature::RsaKeyPair,
}

impl Card {
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.cert))
    }
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), msg, &mut sig).unwrap();
        sig
    }
}

/// `R0001` (card) or `R0001-android` / `R0002-iphone` (phone tokens).
pub fn card(name: &str) -> Card {
    let p = profile(name);
    Card {
        id: p.holder.clone(),
        cert: p.jpki.auth_cert.clone(),
        key: ring::signature::RsaKeyPair::from_pkcs8(&p.jpki.auth_key_pkcs8).unwrap(),
    }
}

/// A card's signature certificate and key (EF 0001, EF 001A), as a `Card`; `None` under 15.
pub fn sign_card(name: &str) -> Option<Card> {
    let p = profile(name);
    Some(Card {
        id: p.holder.clone(),
        cert: p.jpki.sign_cert.clone()?,
        key: ring::signature::RsaKeyPair::from_pkcs8(p.jpki.sign_key_pkcs8.as_ref()?).unwrap(),
    })
}

/// The card's PIN and password values (to check they appear nowhere they must not).
pub fn secrets_of(name: &str) -> Vec<String> {
    let p = profile(name);
    let mut v = vec![p.jpki.auth_pin.value.clone()];
    v.extend(p.jpki.sign_password.as_ref().map(|s| s.value.clone()));
    v
}

pub fn sign_cert(name: &str) -> Vec<u8> {
    profile(name).jpki.sign_cert.unwrap()
}

/// A port free now and never handed out before in this process ([`madoguchi_sim::lab::free_port`]).
pub fn free_port() -> u16 {
    madoguchi_sim::lab::free_port().expect("free port")
}

pub fn cli(config: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN).arg("--config").arg(config).args(args).output().unwrap();
    out
}

pub fn cli_ok(config: &Path, args: &[&str]) -> String {
    let out = cli(config, args);
    assert!(
        out.status.success(),
        "madoguchi-backend {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A deployment: configuration, keys, database, credentials; servers are started from it.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub database: String,
}

impl Deployment {
    /// `extra` is appended to the TOML (e.g. `challenge_ttl_s = 1`).
    pub fn new(database: Option<String>, extra: &str) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("madoguchi.db").display()));
        let config = dir.path().join("madoguchi-backend.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"{database}\"\nlisten = \"127.0.0.1:0\"\npublic_listen = \"127.0.0.1:0\"\nkeys_dir = \"keys\"\njpki_anchors_dir = \"{}\"\nallow_test_anchors = true\nlog = \"warn\"\n{extra}\n",
                world().join("anchors").display()
            ),
        )
        .unwrap();
        let d = Deployment { dir, config, database };
        cli_ok(&d.config, &["init"]);
        cli_ok(&d.config, &["load-world", world().to_str().unwrap()]);
        d
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn enroll_kiosk(&self, id: &str, store: &str) -> PathBuf {
        let out = self.path(&format!("kiosks/{id}"));
        cli_ok(&self.config, &["kiosk", "enroll", "--id", id, "--store", store, "--out", out.to_str().unwrap()]);
        out
    }

    pub fn enroll_admin(&self, id: &str, municipality: &str) -> PathBuf {
        let out = self.path(&format!("admins/{id}"));
        cli_ok(
            &self.config,
            &["admin", "enroll", "--id", id, "--municipality", municipality, "--out", out.to_str().unwrap()],
        );
        out
    }

    pub fn start(&self) -> Server {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        // "listening 127.0.0.1:PORT public 127.0.0.1:PORT"
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.first(), Some(&"listening"), "server did not start: {line:?}");
        Server { child, url: format!("https://{}", parts[1]), public_url: parts.get(3).map(|p| format!("https://{p}")) }
    }

    /// Sets every municipality to round-the-clock service (so tests do not depend on the time
    /// of day), through the administrator API.
    pub fn open_all_hours(&self, server: &Server) {
        let rt = rt();
        for code in [KIYOSE, TOKOROZAWA] {
            let admin = self.path(&format!("admins/hours-{code}"));
            if !admin.exists() {
                self.enroll_admin(&format!("hours-{code}"), code);
            }
            rt.block_on(async {
                let mut c = Client::from_dir(&server.url, &admin).unwrap();
                let path = format!("/v1/admin/municipalities/{code}/config");
                let mut cfg = c.get(&path).await.unwrap().json()["config"].clone();
                cfg["service_hours"] = json!({"open": "00:00", "close": "24:00"});
                cfg["closed_days"] = json!([]);
                for (_, d) in cfg["documents"].as_object_mut().unwrap() {
                    d["hours"] = Value::Null;
                    d["weekdays_only"] = json!(false);
                }
                let r = c.put_json(&path, &cfg).await.unwrap();
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            });
        }
    }

    /// A direct connection to the database (for tampering and for checking nothing changed).
    pub async fn db(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new().max_connections(2).connect(&self.database).await.unwrap()
    }
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub public_url: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OpenAPI document, fetched once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(&madoguchi_backend::openapi::json()).unwrap())
}

/// A kiosk: its connection and its view of the API. Every reply is checked against the OpenAPI
/// document.
pub struct Kiosk {
    pub client: Client,
    pub dir: PathBuf,
    pub public: PublicKey,
}

impl Kiosk {
    pub fn new(server: &Server, dir: &Path) -> Kiosk {
        Kiosk {
            client: Client::new(&server.url, client_config(dir, true).unwrap()).unwrap(),
            dir: dir.to_path_buf(),
            public: PublicKey::load(&dir.join("backend-signing.pub")).unwrap(),
        }
    }

    pub async fn call(&mut self, method: &str, path: &str, template: &str, body: Option<Value>) -> Reply {
        let r = self.client.request(method, path, body.map(|b| serde_json::to_vec(&b).unwrap())).await.unwrap();
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {:?}", String::from_utf8_lossy(&r.body)));
        if let Err(e) = madoguchi_backend::openapi::check_reply(spec(), method, template, r.status, &v) {
            panic!("{method} {path} {}: reply does not match the OpenAPI document: {e}\n{v}", r.status);
        }
        r
    }

    pub async fn challenge(&mut self) -> (String, Vec<u8>) {
        let r = self.call("POST", "/v1/sessions", "/v1/sessions", None).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let v = r.json();
        (v["session_id"].as_str().unwrap().into(), B64.decode(v["challenge"].as_str().unwrap()).unwrap())
    }

    pub async fn authenticate_raw(&mut self, sid: &str, cert: &[u8], sig: &[u8]) -> Reply {
        let body = json!({"certificate": B64.encode(cert), "signature": B64.encode(sig)});
        self.call(
            "POST",
            &format!("/v1/sessions/{}/authenticate", enc(sid)),
            "/v1/sessions/{session_id}/authenticate",
            Some(body),
        )
        .await
    }

    /// Challenge + authenticate; panics unless it succeeds.
    pub async fn login(&mut self, card: &Card) -> String {
        let (sid, ch) = self.challenge().await;
        let r = self.authenticate_raw(&sid, &card.cert, &card.sign(&ch)).await;
        assert_eq!(r.status, 200, "authenticate {}: {:?}", card.id, r.json());
        sid
    }

    pub async fn offers(&mut self, sid: &str) -> Reply {
        self.call("GET", &format!("/v1/sessions/{}/offers", enc(sid)), "/v1/sessions/{session_id}/offers", None).await
    }

    pub async fn issue(&mut self, sid: &str, body: Value) -> Reply {
        self.call(
            "POST",
            &format!("/v1/sessions/{}/issuances", enc(sid)),
            "/v1/sessions/{session_id}/issuances",
            Some(body),
        )
        .await
    }

    pub async fn outcome(&mut self, sid: &str, number: &str, body: Value) -> Reply {
        self.call(
            "POST",
            &format!("/v1/sessions/{}/issuances/{}/outcome", enc(sid), enc(number)),
            "/v1/sessions/{session_id}/issuances/{issuance_number}/outcome",
            Some(body),
        )
        .await
    }

    /// Verifies the document's signature and returns the payload.
    pub fn document(&self, issued: &Value) -> Value {
        let blob: SignedBlob = serde_json::from_value(issued["document"].clone()).unwrap();
        let payload = self.public.verify(&blob).expect("document signature");
        let v: Value = serde_json::from_str(payload).unwrap();
        madoguchi_backend::openapi::check_component(spec(), "DocumentPayload", &v)
            .expect("payload matches DocumentPayload");
        v
    }
}

/// Percent-encodes a path segment.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn juminhyo(code: &str, fee: i64, key: &str) -> Value {
    json!({"municipality_code": code, "document": "juminhyo", "copies": 1, "paid_yen": fee, "payment_reference": format!("pay-{key}"), "idempotency_key": key})
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL cluster

pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    user: Option<String>,
}

fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

impl Postgres {
    /// initdb + pg_ctl start on a free port, as an unprivileged user when we are root.
    pub fn start() -> Postgres {
        let bin = pg_bin().expect("PostgreSQL is not installed (scripts/setup.sh installs the `postgresql` package)");
        let dir = tempfile::Builder::new().prefix("madoguchi-pg").tempdir().unwrap();
        let root = unsafe_free_is_root();
        let user = root.then(|| "nobody".to_string());
        if root {
            let status = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(dir.path()).status().unwrap();
            assert!(status.success());
            // The temporary directory's parents must be traversable by the cluster's user.
            let mut p = dir.path().parent();
            while let Some(d) = p {
                let _ = Command::new("chmod").arg("o+x").arg(d).status();
                p = d.parent();
            }
        }
        let data = dir.path().join("data");
        let run = |args: &[&str]| {
            let mut cmd = match &user {
                Some(u) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", u, "--"]);
                    c
                }
                None => Command::new(args[0]),
            };
            if user.is_some() {
                cmd.arg(args[0]);
            }
            cmd.args(&args[1..]).output().unwrap()
        };
        let initdb = bin.join("initdb");
        let out = run(&[
            initdb.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        ]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let pg = Postgres { dir, port, bin, user };
        pg.ctl_start();
        pg
    }

    fn run_ctl(&self, args: &[&str]) -> std::process::Output {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&pg_ctl);
                c
            }
            None => Command::new(&pg_ctl),
        };
        cmd.args(args).output().unwrap()
    }

    pub fn ctl_start(&self) {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log");
        let out = self.run_ctl(&[
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let _ = self.run_ctl(&["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unsafe_free_is_root() -> bool {
    // `id -u` rather than libc, to stay free of unsafe code.
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}
