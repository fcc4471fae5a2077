//! `madoguchi-backend bench`: a load generator that drives full resident flows (challenge,
//! authenticate with a real RSA signature from the test card's key, offers, issuance, outcome)
//! over real mutual TLS, one kept-alive connection per kiosk, and checks every document's
//! signature and binding. Without `--server` it starts its own instance on loopback over a
//! freshly generated world and a fresh database.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::client::{client_config, Client};
use madoguchi_api::{Expected, PublicKey, SignedBlob};
use madoguchi_backend::config::Config;
use madoguchi_backend::pki::{CredentialInfo, Keys};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Concurrent kiosks (one connection each).
    #[arg(long, default_value_t = 10)]
    pub kiosks: usize,
    /// Resident flows in total.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Open loop: start this many flows per second, spread over the kiosks (default: closed
    /// loop, each kiosk runs flows back to back).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Drive an existing server (`https://HOST:PORT`); needs --world and --kiosk-credentials.
    #[arg(long)]
    pub server: Option<String>,
    /// The world the server loaded (card keys and certificates of its residents).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// With --server: a directory of kiosk credential directories (one per kiosk, used in turn).
    #[arg(long)]
    pub kiosk_credentials: Option<PathBuf>,
    /// World seed when generating one.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Check every reply against the OpenAPI document (slower).
    #[arg(long)]
    pub check_schema: bool,
    /// Keep the generated directory (world, keys, database) here instead of a temporary one.
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Database for the self-started instance (default: a fresh SQLite file). A PostgreSQL
    /// database given here should be empty.
    #[arg(long)]
    pub database: Option<String>,
    /// While the kiosks issue, flood the public `/v1/verify` with wrong codes at this many
    /// requests per second (self-started instance only; from one address, as a single
    /// attacker would, so the per-source rate limit is what it meets).
    #[arg(long)]
    pub flood_verify: Option<f64>,
    /// Self-started instances on the one database; kiosk k talks to instance k mod N.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// Sign each challenge inside the measured flow, as before. By default the load generator
    /// opens the sessions and signs their challenges (the card's part, RSA on this same
    /// machine) before the clock starts, round by round, so the figures are the server's.
    #[arg(long)]
    pub sign_in_clock: bool,
    /// Soak for this many minutes instead: `--instances` (at least 2) `madoguchi-backend serve`
    /// processes, one killed with SIGKILL and restarted every `--kill-every` seconds, kiosks
    /// retrying on another instance; prints the ledger checks as one JSON line.
    #[arg(long)]
    pub soak: Option<f64>,
    #[arg(long, default_value_t = 120.0)]
    pub kill_every: f64,
    /// The `madoguchi-backend` binary for --soak (default: next to this one).
    #[arg(long)]
    pub backend_bin: Option<PathBuf>,
}

/// The final JSON line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub issuances: u64,
    pub per_second: f64,
    pub request_p50_ms: f64,
    pub request_p99_ms: f64,
    pub flow_p50_ms: f64,
    pub flow_p99_ms: f64,
    /// The issuance request alone (`POST .../issuances`: the signed document's commit).
    pub issuance_p50_ms: f64,
    pub issuance_p99_ms: f64,
    pub errors: u64,
    pub mismatched: u64,
    /// Verification requests the flood sent (0 without `--flood-verify`), and how many of them
    /// the rate limit answered (`rate_limited`).
    pub flood_sent: u64,
    pub flood_limited: u64,
    pub instances: usize,
    /// Whether sessions were opened and challenges signed before the clock (see
    /// `--sign-in-clock`); their opening requests are then `open_p50_ms` / `open_p99_ms`, not
    /// part of the request percentiles or of flows/s.
    pub presigned: bool,
    pub open_p50_ms: f64,
    pub open_p99_ms: f64,
}

/// A resident the load generator can play: the card's certificate and key.
pub(crate) struct Card {
    pub(crate) id: String,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) cert_b64: String,
    pub(crate) fingerprint: String,
    pub(crate) key: ring::signature::RsaKeyPair,
}

struct Shared {
    cards: Vec<Card>,
    public: PublicKey,
    spec: Option<Value>,
    issuances: AtomicU64,
    errors: AtomicU64,
    mismatched: AtomicU64,
    requests: Mutex<Vec<u32>>,
    opens: Mutex<Vec<u32>>,
    issuance_requests: Mutex<Vec<u32>>,
    flows: Mutex<Vec<u32>>,
    first_error: Mutex<Option<String>>,
}

pub(crate) fn load_cards(world: &Path) -> Result<Vec<Card>, String> {
    let manifest = madoguchi_sim::world::Manifest::load(world).map_err(|e| format!("manifest.json: {e}"))?;
    use madoguchi_sim::world::Tag;
    let unusable = [Tag::Under15, Tag::CertsExpired, Tag::MovedAbroad, Tag::PhoneSuspended];
    let mut cards = Vec::new();
    for r in &manifest.residents {
        if !r.tags.contains(&Tag::Adult) || r.tags.iter().any(|t| unusable.contains(t)) {
            continue;
        }
        let text =
            std::fs::read_to_string(world.join(&r.card_profile)).map_err(|e| format!("{}: {e}", r.card_profile))?;
        let profile: madoguchi_sim::profile::CardProfile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", r.card_profile))?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(&profile.jpki.auth_key_pkcs8)
            .map_err(|e| format!("{}: key: {e}", r.id))?;
        cards.push(Card {
            id: r.id.clone(),
            cert_b64: B64.encode(&profile.jpki.auth_cert),
            fingerprint: hex::encode(Sha256::digest(&profile.jpki.auth_cert)),
            cert_der: profile.jpki.auth_cert.clone(),
            key,
        });
    }
    Ok(cards)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

enum FlowError {
    Failed(String),
}

impl<E: std::fmt::Display> From<E> for FlowError {
    fn from(e: E) -> Self {
        FlowError::Failed(e.to_string())
    }
}

#[allow(clippy::too_many_arguments)] // one request of a flow, with what the tally needs to time it
async fn timed(
    sh: &Shared,
    client: &mut Client,
    method: &str,
    path: &str,
    template: &str,
    body: Option<Value>,
    want: &[u16],
    in_clock: bool,
) -> Result<Value, FlowError> {
    let t = Instant::now();
    let r = client.request(method, path, body.map(|b| serde_json::to_vec(&b).expect("json"))).await?;
    let took = t.elapsed().as_micros() as u32;
    if in_clock {
        sh.requests.lock().expect("lock").push(took);
    }
    if template == "/v1/sessions/{session_id}/issuances" {
        sh.issuance_requests.lock().expect("lock").push(took);
    }
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    if let Some(spec) = &sh.spec {
        madoguchi_backend::openapi::check_reply(spec, method, template, r.status, &v)
            .map_err(|e| FlowError::Failed(format!("schema: {e}")))?;
    }
    if !want.contains(&r.status) {
        return Err(FlowError::Failed(format!("{method} {template}: {} {}", r.status, v)));
    }
    Ok(v)
}

/// A session opened and its challenge answered by the card, not yet sent.
struct Opened {
    sid: String,
    auth: Value,
}

/// The card's part: the kiosk opens a session and the card signs its challenge.
async fn open_and_sign(sh: &Shared, client: &mut Client, n: usize, in_clock: bool) -> Result<Opened, FlowError> {
    let card = &sh.cards[n % sh.cards.len()];
    let t = Instant::now();
    let ch = timed(sh, client, "POST", "/v1/sessions", "/v1/sessions", None, &[201], in_clock).await?;
    if !in_clock {
        sh.opens.lock().expect("lock").push(t.elapsed().as_micros() as u32);
    }
    let sid = ch["session_id"].as_str().unwrap_or_default().to_string();
    let challenge = B64.decode(ch["challenge"].as_str().unwrap_or_default())?;
    let mut sig = vec![0u8; card.key.public().modulus_len()];
    card.key
        .sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), &challenge, &mut sig)
        .map_err(|_| FlowError::Failed("signing".into()))?;
    Ok(Opened { sid, auth: json!({ "certificate": card.cert_b64, "signature": B64.encode(&sig) }) })
}

/// One resident at one kiosk, from the answered challenge to the outcome. Returns whether the
/// document was someone else's.
async fn flow(sh: &Shared, client: &mut Client, kiosk: usize, n: usize, opened: Opened) -> Result<bool, FlowError> {
    let card = &sh.cards[n % sh.cards.len()];
    let Opened { sid, auth } = opened;
    timed(
        sh,
        client,
        "POST",
        &format!("/v1/sessions/{sid}/authenticate"),
        "/v1/sessions/{session_id}/authenticate",
        Some(auth),
        &[200],
        true,
    )
    .await?;
    let offers = timed(
        sh,
        client,
        "GET",
        &format!("/v1/sessions/{sid}/offers"),
        "/v1/sessions/{session_id}/offers",
        None,
        &[200],
        true,
    )
    .await?;
    let offer = offers["offers"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["document"] == "juminhyo"))
        .ok_or_else(|| FlowError::Failed(format!("no 住民票 offered to {}: {offers}", card.id)))?;
    let fee = offer["fee_yen"].as_i64().unwrap_or(0);
    let req = json!({
        "municipality_code": offer["municipality_code"], "document": "juminhyo", "options": [], "persons": [],
        "copies": 1, "paid_yen": fee, "payment_reference": format!("cash-{kiosk}-{n}"), "idempotency_key": format!("bench-{kiosk}-{n}-{sid}"),
    });
    let issued = timed(
        sh,
        client,
        "POST",
        &format!("/v1/sessions/{sid}/issuances"),
        "/v1/sessions/{session_id}/issuances",
        Some(req),
        &[201],
        true,
    )
    .await?;
    let number = issued["issuance_number"].as_str().unwrap_or_default().to_string();
    // What the kiosk checks before printing: the signature, then the binding.
    let blob: SignedBlob = serde_json::from_value(issued["document"].clone())?;
    let mismatched = match madoguchi_api::verify_document(
        &sh.public,
        &blob,
        &Expected { session_id: &sid, certificate_fingerprint: &card.fingerprint, ..Expected::default() },
    ) {
        Err(_) => true,
        Ok(doc) => {
            let holder_ok = match &doc.body {
                madoguchi_api::payload::DocumentBody::Juminhyo { persons, .. } => {
                    persons.len() == 1 && persons[0].id == card.id
                }
                _ => false,
            };
            doc.binding.issuance_number != number || !holder_ok
        }
    };
    let outcome = if mismatched {
        json!({"outcome": "failed", "reason": "binding mismatch"})
    } else {
        json!({"outcome": "printed"})
    };
    timed(
        sh,
        client,
        "POST",
        &format!("/v1/sessions/{sid}/issuances/{number}/outcome"),
        "/v1/sessions/{session_id}/issuances/{issuance_number}/outcome",
        Some(outcome),
        &[200],
        true,
    )
    .await?;
    let _ = &card.cert_der;
    Ok(mismatched)
}

/// A flow whose session is opened already (`opened`) or opened now, inside the clock.
async fn run_flow(sh: &Shared, client: &mut Client, kiosk: usize, n: usize, opened: Option<Opened>, started: Instant) {
    let result = match opened {
        Some(o) => flow(sh, client, kiosk, n, o).await,
        None => match open_and_sign(sh, client, n, true).await {
            Ok(o) => flow(sh, client, kiosk, n, o).await,
            Err(e) => Err(e),
        },
    };
    record(sh, result, started);
}

fn record(sh: &Shared, result: Result<bool, FlowError>, started: Instant) {
    match result {
        Ok(mismatch) => {
            sh.issuances.fetch_add(1, Ordering::Relaxed);
            if mismatch {
                sh.mismatched.fetch_add(1, Ordering::Relaxed);
            }
            sh.flows.lock().expect("lock").push(started.elapsed().as_micros() as u32);
        }
        Err(FlowError::Failed(e)) => {
            sh.errors.fetch_add(1, Ordering::Relaxed);
            let mut first = sh.first_error.lock().expect("lock");
            if first.is_none() {
                *first = Some(e);
            }
        }
    }
}

/// A self-started service over a fresh world.
pub struct Fixture {
    pub dir: PathBuf,
    pub world: PathBuf,
    pub kiosk_dirs: Vec<PathBuf>,
    /// One or more instances on the same database.
    pub running: Vec<madoguchi_backend::app::Running>,
    /// The instances' configuration.
    pub config: Config,
    _tmp: Option<tempfile::TempDir>,
}

/// Generates a world, initialises keys and database, loads the world (opening every municipality
/// around the clock, so the benchmark does not depend on the time of day), enrols `kiosks`
/// kiosks and starts `instances` instances of the service on loopback (none: the caller starts
/// them from `config`).
pub async fn fixture(
    kiosks: usize,
    seed: u64,
    database: Option<String>,
    workdir: Option<PathBuf>,
    public_listener: bool,
    instances: usize,
) -> Result<Fixture, String> {
    let (tmp, dir) = match workdir {
        Some(d) => {
            std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
            (None, d)
        }
        None => {
            let t = tempfile::tempdir().map_err(|e| e.to_string())?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let world = dir.join("world");
    let today = madoguchi_api::municipality::jst(time::OffsetDateTime::now_utc()).date();
    let w = world.clone();
    tokio::task::spawn_blocking(move || madoguchi_sim::world::generate_world(&w, seed, today))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("world: {e}"))?;
    let mut config = Config {
        database: database.unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display())),
        listen: "127.0.0.1:0".into(),
        public_listen: if public_listener { "127.0.0.1:0".into() } else { String::new() },
        keys_dir: dir.join("keys"),
        jpki_anchors_dir: world.join("anchors"),
        allow_test_anchors: true,
        log: "warn".into(),
        ..Config::default()
    };
    config.db_max_connections = config.db_max_connections.max(8);
    let keys = Keys::new(&config.keys_dir);
    keys.init(&config.server_names).map_err(|e| e.to_string())?;
    let db = madoguchi_backend::app::open_db(&config).await?;
    let anchors = madoguchi_backend::app::load_anchors(&config)?;
    let report = madoguchi_backend::ops::load_world(&db, &anchors, &world).await?;
    if report.crls.is_empty() {
        return Err(format!("no CRL imported: {:?}", report.warnings));
    }
    for m in madoguchi_backend::registry::municipalities(&db.pool).await.map_err(|e| e.to_string())? {
        let mut c = m.config.clone();
        c.service_hours = madoguchi_api::municipality::Hours { open: "00:00".into(), close: "24:00".into() };
        c.closed_days.clear();
        for d in c.documents.values_mut() {
            d.hours = None;
            d.weekdays_only = false;
        }
        let ctx = madoguchi_backend::flow::Context::new(
            db.clone(),
            config.clone(),
            keys.backend_key().map_err(|e| e.to_string())?,
            anchors.clone(),
        );
        madoguchi_backend::flow::set_config(&ctx, "bench", &m.municipality.code, &c)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut kiosk_dirs = Vec::new();
    for i in 0..kiosks {
        let out = dir.join("kiosks").join(format!("K{i:04}"));
        let info = CredentialInfo {
            kind: "kiosk".into(),
            id: format!("K{i:04}"),
            store: Some(format!("store-{}", i % 7)),
            municipality_code: None,
            fingerprint: String::new(),
        };
        madoguchi_backend::ops::enroll(&db, &keys, info, &out).await?;
        kiosk_dirs.push(out);
    }
    db.pool.close().await;
    let mut running = Vec::new();
    for _ in 0..instances {
        running.push(madoguchi_backend::app::start(config.clone()).await?);
    }
    Ok(Fixture { dir, world, kiosk_dirs, running, config, _tmp: tmp })
}

pub async fn run(mut args: BenchArgs) -> Result<Report, String> {
    if args.kiosks == 0 || args.sessions == 0 {
        return Err("--kiosks and --sessions must be at least 1".into());
    }
    if args.flood_verify.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--flood-verify must be a positive rate".into());
    }
    if args.flood_verify.is_some() && args.server.is_some() {
        return Err("--flood-verify needs the self-started instance (no --server)".into());
    }
    if args.instances == 0 || (args.instances > 1 && args.server.is_some()) {
        return Err("--instances must be at least 1, and needs the self-started instances (no --server)".into());
    }
    let (servers, world, kiosk_dirs, _fixture) = match args.server.take() {
        Some(url) => {
            let world = args.world.clone().ok_or("--server needs --world")?;
            let creds = args.kiosk_credentials.clone().ok_or("--server needs --kiosk-credentials")?;
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(&creds)
                .map_err(|e| e.to_string())?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("client.cert.pem").exists())
                .collect();
            dirs.sort();
            if dirs.is_empty() {
                return Err(format!("no kiosk credentials in {}", creds.display()));
            }
            (vec![url], world, dirs, None)
        }
        None => {
            eprintln!("bench: generating a world and starting a server ...");
            let f = fixture(
                args.kiosks,
                args.seed,
                args.database.clone(),
                args.workdir.clone(),
                args.flood_verify.is_some(),
                args.instances,
            )
            .await?;
            let urls = f.running.iter().map(|r| format!("https://127.0.0.1:{}", r.addr.port())).collect();
            (urls, f.world.clone(), f.kiosk_dirs.clone(), Some(f))
        }
    };
    let public = PublicKey::load(&kiosk_dirs[0].join("backend-signing.pub")).map_err(|e| e.to_string())?;
    let cards = load_cards(&world)?;
    if cards.is_empty() {
        return Err("no usable resident in the world".into());
    }
    let spec = if args.check_schema {
        Some(serde_json::from_str(&madoguchi_backend::openapi::json()).expect("spec"))
    } else {
        None
    };
    let sh = Arc::new(Shared {
        cards,
        public,
        spec,
        issuances: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        mismatched: AtomicU64::new(0),
        requests: Mutex::new(Vec::with_capacity(args.sessions * 5)),
        opens: Mutex::new(Vec::with_capacity(args.sessions)),
        issuance_requests: Mutex::new(Vec::with_capacity(args.sessions)),
        flows: Mutex::new(Vec::with_capacity(args.sessions)),
        first_error: Mutex::new(None),
    });
    // Connect every kiosk first (handshakes are not part of the measurement).
    let mut clients = Vec::new();
    for i in 0..args.kiosks {
        let dir = &kiosk_dirs[i % kiosk_dirs.len()];
        let server = &servers[i % servers.len()];
        let mut c =
            Client::new(server, client_config(dir, true).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let r = c.get("/v1/catalog").await.map_err(|e| format!("kiosk {i}: {e}"))?;
        if r.status != 200 {
            return Err(format!("kiosk {i}: catalog {}: {}", r.status, String::from_utf8_lossy(&r.body)));
        }
        clients.push(c);
    }
    eprintln!(
        "bench: {} kiosks, {} flows, {} residents, {}",
        args.kiosks,
        args.sessions,
        sh.cards.len(),
        match args.rate {
            Some(r) => format!("open loop at {r} flows/s"),
            None => "closed loop".into(),
        }
    );
    let flood = match (args.flood_verify, _fixture.as_ref().and_then(|f| f.running[0].public_addr)) {
        (Some(rate), Some(addr)) => {
            Some(Flood::start(&format!("https://{addr}"), &kiosk_dirs[0], rate).map_err(|e| format!("flood: {e}"))?)
        }
        _ => None,
    };
    // Rounds: the sessions of a round are opened and their challenges signed before the clock
    // runs (unless --sign-in-clock); a round is short enough for its challenges to stay valid.
    let presign = !args.sign_in_clock;
    let round = match (presign, args.rate) {
        (false, _) => args.sessions,
        (true, None) => (args.kiosks * 20).max(2000),
        (true, Some(r)) => ((r * 10.0) as usize).max(args.kiosks),
    };
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--rate must be positive".into());
    }
    let mut clients: Vec<Option<Client>> = clients.into_iter().map(Some).collect();
    let mut elapsed = 0.0f64;
    let mut first = 0usize;
    while first < args.sessions {
        let last = (first + round).min(args.sessions);
        // Flow n runs on kiosk n mod K, in order.
        let mut work: Vec<Vec<usize>> = vec![Vec::new(); args.kiosks];
        for n in first..last {
            work[n % args.kiosks].push(n);
        }
        let mut opened: Vec<Vec<Option<Opened>>> = Vec::new();
        if presign {
            let mut tasks = Vec::new();
            for (k, ns) in work.iter().enumerate() {
                let (sh, ns, mut client) = (sh.clone(), ns.clone(), clients[k].take().expect("client"));
                tasks.push(tokio::spawn(async move {
                    let mut out = Vec::new();
                    for n in ns {
                        match open_and_sign(&sh, &mut client, n, false).await {
                            Ok(o) => out.push(Some(o)),
                            Err(e) => {
                                record(&sh, Err(e), Instant::now());
                                out.push(None);
                            }
                        }
                    }
                    (client, out)
                }));
            }
            for (k, t) in tasks.into_iter().enumerate() {
                let (client, out) = t.await.map_err(|e| e.to_string())?;
                clients[k] = Some(client);
                opened.push(out);
            }
        } else {
            opened = work.iter().map(|ns| ns.iter().map(|_| None).collect()).collect();
        }
        let start = Instant::now();
        let period = args.rate.map(|r| Duration::from_secs_f64(1.0 / r));
        let mut tasks = Vec::new();
        for (k, (ns, os)) in work.into_iter().zip(opened).enumerate() {
            let (sh, mut client) = (sh.clone(), clients[k].take().expect("client"));
            tasks.push(tokio::spawn(async move {
                for (n, o) in ns.into_iter().zip(os) {
                    if presign && o.is_none() {
                        continue; // its opening failed (counted)
                    }
                    let due = match period {
                        // Open loop: flow time counts from when the flow was due, so a backlog shows.
                        Some(p) => {
                            let due = start + p.mul_f64((n - first) as f64);
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                        None => Instant::now(),
                    };
                    run_flow(&sh, &mut client, k, n, o, due).await;
                }
                client
            }));
        }
        for (k, t) in tasks.into_iter().enumerate() {
            clients[k] = Some(t.await.map_err(|e| e.to_string())?);
        }
        elapsed += start.elapsed().as_secs_f64();
        first = last;
    }
    let (flood_sent, flood_limited) = match flood {
        Some(f) => f.stop().await,
        None => (0, 0),
    };
    let mut issuance_req = std::mem::take(&mut *sh.issuance_requests.lock().expect("lock"));
    issuance_req.sort_unstable();
    let mut req = std::mem::take(&mut *sh.requests.lock().expect("lock"));
    let mut flows = std::mem::take(&mut *sh.flows.lock().expect("lock"));
    let mut opens = std::mem::take(&mut *sh.opens.lock().expect("lock"));
    opens.sort_unstable();
    req.sort_unstable();
    flows.sort_unstable();
    if let Some(e) = sh.first_error.lock().expect("lock").as_ref() {
        eprintln!("bench: first error: {e}");
    }
    let issuances = sh.issuances.load(Ordering::Relaxed);
    Ok(Report {
        issuances,
        per_second: (issuances as f64 / elapsed * 10.0).round() / 10.0,
        request_p50_ms: percentile(&req, 0.50),
        request_p99_ms: percentile(&req, 0.99),
        flow_p50_ms: percentile(&flows, 0.50),
        flow_p99_ms: percentile(&flows, 0.99),
        issuance_p50_ms: percentile(&issuance_req, 0.50),
        issuance_p99_ms: percentile(&issuance_req, 0.99),
        errors: sh.errors.load(Ordering::Relaxed),
        mismatched: sh.mismatched.load(Ordering::Relaxed),
        flood_sent,
        flood_limited,
        instances: args.instances,
        presigned: presign,
        open_p50_ms: percentile(&opens, 0.50),
        open_p99_ms: percentile(&opens, 0.99),
    })
}

/// Wrong-code verification requests at a fixed rate on the public listener, from several
/// kept-alive connections (one address), until stopped.
struct Flood {
    stop: Arc<std::sync::atomic::AtomicBool>,
    sent: Arc<AtomicU64>,
    limited: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Flood {
    const CONNECTIONS: usize = 16;

    fn start(public_url: &str, credential_dir: &Path, rate: f64) -> Result<Flood, String> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let limited = Arc::new(AtomicU64::new(0));
        let period = Duration::from_secs_f64(Self::CONNECTIONS as f64 / rate);
        let mut tasks = Vec::new();
        for c in 0..Self::CONNECTIONS {
            let mut client = Client::new(public_url, client_config(credential_dir, false).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            let (stop, sent, limited) = (stop.clone(), sent.clone(), limited.clone());
            tasks.push(tokio::spawn(async move {
                // Spread the connections' ticks over one period.
                let first = tokio::time::Instant::now() + period.mul_f64(c as f64 / Self::CONNECTIONS as f64);
                let mut tick = tokio::time::interval_at(first, period);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    n += 1;
                    let path = format!("/v1/verify/20990101-{}{:09}?code=222222222222", c % 10, n % 1_000_000_000);
                    sent.fetch_add(1, Ordering::Relaxed);
                    if let Ok(r) = client.get(&path).await {
                        if r.status == 429 {
                            limited.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        Ok(Flood { stop, sent, limited, tasks })
    }

    async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        (self.sent.load(Ordering::Relaxed), self.limited.load(Ordering::Relaxed))
    }
}
