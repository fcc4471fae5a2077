//! `madoguchi-lab bench --soak MINUTES --kill-every SECONDS`: instances of `madoguchi-backend
//! serve` as processes on one database; every `--kill-every` seconds one of them is killed with
//! SIGKILL and started again. Kiosks that lose their instance retry the same request on another
//! one (the same idempotency key for an issuance). At the end the ledger is checked against
//! what the kiosks saw: no document issued twice, no paper without its ledger row, no charge
//! left without a document or a marked refund, and an intact audit chain.

use crate::bench::{fixture, load_cards, BenchArgs, Card};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::client::{client_config, Client};
use madoguchi_api::{Expected, PublicKey, SignedBlob};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The soak's JSON line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SoakReport {
    pub minutes: f64,
    pub instances: usize,
    pub kiosks: usize,
    pub kills: u64,
    pub flows_completed: u64,
    /// Flows given up after their instance died at a point no retry could continue from (the
    /// kiosk would refund the resident; the ledger check below covers their rows).
    pub flows_abandoned: u64,
    /// Requests sent again to another instance after a failure.
    pub retries: u64,
    pub issued_twice: u64,
    pub paper_without_ledger_row: u64,
    pub charge_without_document: u64,
    pub refund_not_marked: u64,
    pub audit_ok: bool,
    pub audit_rows: i64,
    pub audit_problems: Vec<String>,
}

/// One backend process and how to start it again.
struct Instance {
    config: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn start(&mut self) -> Result<(), String> {
        let mut child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.bin.display()))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.starts_with("listening") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("instance did not start: {line:?}"));
        }
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Each instance keeps its port across kills and restarts ([`madoguchi_sim::lab::free_port`]).
fn free_port() -> Result<u16, String> {
    madoguchi_sim::lab::free_port().map_err(|e| e.to_string())
}

fn backend_bin(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let p = exe.with_file_name("madoguchi-backend");
    if p.exists() {
        Ok(p)
    } else {
        Err(format!("{} not found (build it, or give --backend-bin)", p.display()))
    }
}

struct Kiosk {
    /// One client per instance; `at` is the one in use.
    clients: Vec<Client>,
    at: usize,
}

struct Tally {
    retries: AtomicU64,
    completed: AtomicU64,
    abandoned: AtomicU64,
    /// Issuance numbers each idempotency key was answered with.
    numbers: Mutex<HashMap<String, HashSet<String>>>,
    /// Documents the kiosks printed (verified, then reported printed).
    printed: Mutex<Vec<String>>,
    first_error: Mutex<Option<String>>,
}

const DEADLINE: Duration = Duration::from_secs(5);

impl Kiosk {
    /// Sends to the current instance; on a transport failure or an unavailable database, the
    /// same request to the next instance, for up to 30 s.
    async fn call(
        &mut self,
        tally: &Tally,
        method: &str,
        path: &str,
        body: &Option<Value>,
    ) -> Result<(u16, Value), String> {
        let started = Instant::now();
        loop {
            let bytes = body.as_ref().map(|b| serde_json::to_vec(b).expect("json"));
            // A killed instance's connections are reset by the kernel at once; the deadline is
            // for one that hangs.
            let r = match tokio::time::timeout(DEADLINE, self.clients[self.at].request(method, path, bytes)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("no answer in time".into()),
            };
            match r {
                Ok(r) if r.status != 503 => {
                    return Ok((r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null)));
                }
                Ok(_) | Err(_) => {
                    if started.elapsed() > Duration::from_secs(30) {
                        return Err(format!("{method} {path}: no instance answered"));
                    }
                    tally.retries.fetch_add(1, Ordering::Relaxed);
                    self.at = (self.at + 1) % self.clients.len();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

enum Step {
    Done,
    Abandoned(String),
}

/// One resident's flow with retries across instances.
async fn soak_flow(k: &mut Kiosk, tally: &Tally, public: &PublicKey, card: &Card, kiosk: usize, n: u64) -> Step {
    macro_rules! call {
        ($m:expr, $p:expr, $b:expr) => {
            match k.call(tally, $m, $p, &$b).await {
                Ok(x) => x,
                Err(e) => return Step::Abandoned(e),
            }
        };
    }
    let (st, ch) = call!("POST", "/v1/sessions", None::<Value>);
    if st != 201 {
        return Step::Abandoned(format!("open: {st} {ch}"));
    }
    let sid = ch["session_id"].as_str().unwrap_or_default().to_string();
    let challenge = B64.decode(ch["challenge"].as_str().unwrap_or_default()).unwrap_or_default();
    let mut sig = vec![0u8; card.key.public().modulus_len()];
    if card
        .key
        .sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), &challenge, &mut sig)
        .is_err()
    {
        return Step::Abandoned("signing".into());
    }
    let auth = Some(json!({ "certificate": card.cert_b64, "signature": B64.encode(&sig) }));
    let (st, v) = call!("POST", &format!("/v1/sessions/{sid}/authenticate"), auth);
    // A retry after a lost answer finds the challenge used: the session is authenticated.
    if st != 200 && v["code"] != "challenge_used" {
        return Step::Abandoned(format!("authenticate: {st} {v}"));
    }
    let (st, offers) = call!("GET", &format!("/v1/sessions/{sid}/offers"), None::<Value>);
    if st != 200 {
        return Step::Abandoned(format!("offers: {st} {offers}"));
    }
    let Some(offer) = offers["offers"].as_array().and_then(|o| o.iter().find(|o| o["document"] == "juminhyo")) else {
        return Step::Abandoned(format!("no 住民票 offered: {offers}"));
    };
    let key = format!("soak-{kiosk}-{n}-{sid}");
    let req = Some(json!({
        "municipality_code": offer["municipality_code"], "document": "juminhyo", "options": [], "persons": [],
        "copies": 1, "paid_yen": offer["fee_yen"], "payment_reference": format!("soak-cash-{kiosk}-{n}-{sid}"), "idempotency_key": key,
    }));
    let (st, issued) = call!("POST", &format!("/v1/sessions/{sid}/issuances"), req);
    if st != 201 && st != 200 {
        return Step::Abandoned(format!("issuance: {st} {issued}"));
    }
    let number = issued["issuance_number"].as_str().unwrap_or_default().to_string();
    tally.numbers.lock().expect("lock").entry(key).or_default().insert(number.clone());
    let Ok(blob) = serde_json::from_value::<SignedBlob>(issued["document"].clone()) else {
        return Step::Abandoned("no document".into());
    };
    let fp = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&card.cert_der));
    let ok = madoguchi_api::verify_document(
        public,
        &blob,
        &Expected { session_id: &sid, certificate_fingerprint: &fp, ..Expected::default() },
    )
    .is_ok_and(|d| d.binding.issuance_number == number);
    let outcome = Some(if ok {
        json!({"outcome": "printed"})
    } else {
        json!({"outcome": "failed", "reason": "binding mismatch"})
    });
    let (st, v) = call!("POST", &format!("/v1/sessions/{sid}/issuances/{number}/outcome"), outcome);
    // A retry after a lost answer finds the outcome recorded.
    if st != 200 && v["code"] != "outcome_already_recorded" {
        return Step::Abandoned(format!("outcome: {st} {v}"));
    }
    if ok {
        tally.printed.lock().expect("lock").push(number);
    }
    Step::Done
}

pub async fn run(args: &BenchArgs, minutes: f64, kill_every: f64) -> Result<SoakReport, String> {
    if !(minutes.is_finite() && minutes > 0.0 && kill_every.is_finite() && kill_every > 0.0) {
        return Err("--soak and --kill-every must be positive".into());
    }
    if args.server.is_some() {
        return Err("--soak starts its own instances (no --server)".into());
    }
    let instances = args.instances.max(2);
    let bin = backend_bin(args.backend_bin.as_deref())?;
    eprintln!("soak: generating a world ...");
    let f = fixture(args.kiosks, args.seed, args.database.clone(), args.workdir.clone(), false, 0).await?;
    let mut procs = Vec::new();
    let mut urls = Vec::new();
    for i in 0..instances {
        let port = free_port()?;
        let mut config = f.config.clone();
        config.listen = format!("127.0.0.1:{port}");
        config.public_listen = String::new();
        let path = f.dir.join(format!("instance-{i}.toml"));
        std::fs::write(&path, toml::to_string(&config).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let mut inst = Instance { config: path, bin: bin.clone(), child: None };
        inst.start()?;
        procs.push(inst);
        urls.push(format!("https://127.0.0.1:{port}"));
    }
    let public = PublicKey::load(&f.kiosk_dirs[0].join("backend-signing.pub")).map_err(|e| e.to_string())?;
    let cards = Arc::new(load_cards(&f.world)?);
    let tally = Arc::new(Tally {
        retries: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        abandoned: AtomicU64::new(0),
        numbers: Mutex::new(HashMap::new()),
        printed: Mutex::new(Vec::new()),
        first_error: Mutex::new(None),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for kiosk in 0..args.kiosks {
        let dir = &f.kiosk_dirs[kiosk % f.kiosk_dirs.len()];
        let tls = client_config(dir, true).map_err(|e| e.to_string())?;
        let clients = urls.iter().map(|u| Client::new(u, tls.clone())).collect::<Result<Vec<_>, _>>();
        let mut k = Kiosk { clients: clients.map_err(|e| e.to_string())?, at: kiosk % instances };
        let (tally, stop, cards, public) = (tally.clone(), stop.clone(), cards.clone(), public);
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Back to its own instance for each resident (it fails over again if that is down).
                k.at = kiosk % instances;
                let card = &cards[(kiosk + n as usize * 7) % cards.len()];
                match soak_flow(&mut k, &tally, &public, card, kiosk, n).await {
                    Step::Done => tally.completed.fetch_add(1, Ordering::Relaxed),
                    Step::Abandoned(e) => {
                        tally.first_error.lock().expect("lock").get_or_insert(e);
                        tally.abandoned.fetch_add(1, Ordering::Relaxed)
                    }
                };
                n += 1;
            }
        }));
    }
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(minutes * 60.0);
    let mut kills = 0u64;
    let mut next_kill = started + Duration::from_secs_f64(kill_every);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if Instant::now() >= next_kill && Instant::now() < end {
            let i = kills as usize % procs.len();
            procs[i].kill();
            kills += 1;
            eprintln!(
                "soak: {:.0} s: killed instance {i} (kill -9); {} flows so far",
                started.elapsed().as_secs_f64(),
                tally.completed.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
            let p = &mut procs[i];
            tokio::task::block_in_place(|| p.start())?;
            next_kill += Duration::from_secs_f64(kill_every);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    for p in &mut procs {
        p.kill();
    }
    if let Some(e) = tally.first_error.lock().expect("lock").as_ref() {
        eprintln!("soak: first abandoned flow: {e}");
    }
    // The ledger, after a sweep that voids whatever never got an outcome (as the service's
    // sweeper would after outcome_timeout_s).
    let db = madoguchi_backend::app::open_db(&f.config).await?;
    let keys = madoguchi_backend::pki::Keys::new(&f.config.keys_dir);
    let ctx = madoguchi_backend::flow::Context::new(
        db.clone(),
        f.config.clone(),
        keys.backend_key().map_err(|e| e.to_string())?,
        madoguchi_backend::app::load_anchors(&f.config)?,
    );
    let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(f.config.outcome_timeout_s + 1);
    madoguchi_backend::flow::sweep(&ctx, later).await.map_err(|e| e.message)?;
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx::query(sql).fetch_one(&pool).await.map(|r| r.get::<i64, _>(0)).map_err(|e| e.to_string()) }
    };
    let twice_db =
        count("SELECT COUNT(*) FROM (SELECT payment_reference FROM issuances GROUP BY payment_reference HAVING COUNT(*) > 1) d")
            .await?;
    let twice_seen = tally.numbers.lock().expect("lock").values().filter(|s| s.len() > 1).count() as i64;
    let printed = std::mem::take(&mut *tally.printed.lock().expect("lock"));
    let printed_set: HashSet<&String> = printed.iter().collect();
    let mut without_row = 0u64;
    for number in &printed {
        let st: Option<String> = sqlx::query("SELECT status FROM issuances WHERE number = $1")
            .bind(number.clone())
            .fetch_optional(&db.pool)
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.get(0));
        if !matches!(st.as_deref(), Some("printed") | Some("printed_late")) {
            without_row += 1;
        }
    }
    // Charged with no document: still waiting after the sweep, or recorded printed where no
    // kiosk printed it.
    let pending = count("SELECT COUNT(*) FROM issuances WHERE status = 'issued'").await?;
    let printed_rows = sqlx::query("SELECT number FROM issuances WHERE status IN ('printed', 'printed_late')")
        .fetch_all(&db.pool)
        .await
        .map_err(|e| e.to_string())?;
    let unseen = printed_rows.iter().filter(|r| !printed_set.contains(&r.get::<String, _>(0))).count() as i64;
    let refund_not_marked = count(
        "SELECT COUNT(*) FROM issuances WHERE status = 'voided' AND (refund_state NOT IN ('due', 'paid_at_kiosk') OR refund_yen <> total_yen)",
    )
    .await?;
    let audit = madoguchi_backend::audit::verify(&db.pool).await.map_err(|e| e.to_string())?;
    Ok(SoakReport {
        minutes,
        instances,
        kiosks: args.kiosks,
        kills,
        flows_completed: tally.completed.load(Ordering::Relaxed),
        flows_abandoned: tally.abandoned.load(Ordering::Relaxed),
        retries: tally.retries.load(Ordering::Relaxed),
        issued_twice: (twice_db + twice_seen) as u64,
        paper_without_ledger_row: without_row,
        charge_without_document: (pending + unseen) as u64,
        refund_not_marked: refund_not_marked as u64,
        audit_ok: audit.ok,
        audit_rows: audit.rows,
        audit_problems: audit.problems.into_iter().take(5).collect(),
    })
}
