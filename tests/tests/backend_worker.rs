//! The kiosk's backend worker against the real `madoguchi-backend serve` process (SQLite, mutual
//! TLS, on a free loopback port), with kiosk credentials made by the backend's own CLI and the
//! shared demo world: a resident's whole flow through the worker (challenge signed with the
//! card's key, offers checked against the signed catalog, issuance, outcome and close) ending
//! in the backend's settlement; the backend killed (unreachable, durable requests kept in the
//! outbox and delivered by a new worker after the restart); a catalog signed by another key.

use madoguchi_api::client::Client;
use madoguchi_firmware::config::BackendConfig;
use madoguchi_firmware::workers::backend::BackendWorker;
use madoguchi_session::checks::{DocumentCheck, Ed25519DocumentCheck};
use madoguchi_session::{
    BackendCall, BackendError, BackendOk, Event, IssueOutcome, IssueRequest, Issued, Offers, OpId, Refusal, Request,
    Route,
};
use madoguchi_tests::{bin, resident_with, shared_world, WAIT};
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const KIYOSE: &str = "132217";
const TOKOROZAWA: &str = "112089";
const KIOSK: &str = "K001";
const STORE: &str = "セブン清瀬中里店";

// ---------------------------------------------------------------------------------------------
// The backend as a process

/// A deployment of `madoguchi-backend` (configuration, keys, SQLite database, the world loaded)
/// on a fixed free port, so it can be killed and started again at the same address.
struct Backend {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
    server: Option<(Child, BufReader<ChildStdout>)>,
}

impl Backend {
    fn deploy(world: &Path) -> Backend {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("madoguchi-backend.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\nlisten = \"127.0.0.1:{port}\"\npublic_listen = \"\"\nkeys_dir = \"keys\"\n\
                 jpki_anchors_dir = \"{}\"\nallow_test_anchors = true\nlog = \"warn\"\n",
                dir.path().join("madoguchi.db").display(),
                world.join("anchors").display()
            ),
        )
        .expect("write backend configuration");
        let b = Backend { dir, config, port, server: None };
        b.cli(&["init"]);
        b.cli(&["load-world", world.to_str().expect("world path")]);
        b
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(bin("madoguchi-backend"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run madoguchi-backend");
        assert!(
            out.status.success(),
            "madoguchi-backend {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `serve`, returning once it listens (it prints `listening ADDR` when bound).
    fn start(&mut self) {
        assert!(self.server.is_none(), "already running");
        let mut child = Command::new(bin("madoguchi-backend"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start madoguchi-backend serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the server's first line");
        assert_eq!(line.split_whitespace().nth(1), Some(format!("127.0.0.1:{}", self.port).as_str()), "{line:?}");
        self.server = Some((child, stdout));
    }

    fn kill(&mut self) {
        if let Some((mut child, _)) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the running server: connected, but silent.
    fn signal(&self, signal: &str) {
        let (child, _) = self.server.as_ref().expect("running");
        let status = Command::new("kill").arg(signal).arg(child.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// A kiosk credential: `client.cert.pem`, `client.key.pem`, `server-ca.cert.pem`,
    /// `backend-signing.pub`.
    fn enroll_kiosk(&self) -> PathBuf {
        let out = self.dir.path().join("kiosk");
        self.cli(&["kiosk", "enroll", "--id", KIOSK, "--store", STORE, "--out", out.to_str().expect("path")]);
        out
    }

    /// Round-the-clock service in both municipalities (so the test does not depend on the hour
    /// or the day), set by each municipality's administrator through the API.
    fn open_all_hours(&self) {
        let rt = runtime();
        for code in [KIYOSE, TOKOROZAWA] {
            let admin = self.dir.path().join(format!("admin-{code}"));
            let id = format!("hours-{code}");
            self.cli(&["admin", "enroll", "--id", &id, "--municipality", code, "--out", admin.to_str().expect("path")]);
            rt.block_on(async {
                let mut c = Client::from_dir(&self.url(), &admin).expect("admin client");
                let path = format!("/v1/admin/municipalities/{code}/config");
                let mut cfg = c.get(&path).await.expect("get config").json()["config"].clone();
                cfg["service_hours"] = json!({"open": "00:00", "close": "24:00"});
                cfg["closed_days"] = json!([]);
                for (_, d) in cfg["documents"].as_object_mut().expect("documents") {
                    d["hours"] = Value::Null;
                    d["weekdays_only"] = json!(false);
                }
                let r = c.put_json(&path, &cfg).await.expect("put config");
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            });
        }
    }

    /// The kiosk's store's settlement for today (Japan time), as the backend's ledger has it.
    fn settlement(&self, kiosk: &Path) -> Value {
        let jst = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+9));
        let date = format!("{:04}-{:02}-{:02}", jst.year(), jst.month() as u8, jst.day());
        runtime().block_on(async {
            let mut c = Client::from_dir(&self.url(), kiosk).expect("kiosk client");
            let r = c.get(&format!("/v1/settlement?date={date}")).await.expect("settlement");
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            r.json()
        })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// A port free now and never handed out before in this process: a backend keeps its port
/// across a kill and a restart ([`madoguchi_sim::lab::free_port`]).
fn free_port() -> u16 {
    madoguchi_sim::lab::free_port().expect("free port")
}

/// The worker's configuration for a kiosk credential directory, with the backend's catalog
/// and document key unless another is given.
fn backend_config(backend: &Backend, kiosk: &Path, document_key: Option<String>) -> BackendConfig {
    let key = std::fs::read_to_string(kiosk.join("backend-signing.pub")).expect("backend-signing.pub");
    BackendConfig {
        url: backend.url(),
        ca: kiosk.join("server-ca.cert.pem"),
        client_certificate: kiosk.join("client.cert.pem"),
        client_key: kiosk.join("client.key.pem"),
        document_key: document_key.unwrap_or_else(|| key.trim().to_string()),
        retries: 2,
    }
}

// ---------------------------------------------------------------------------------------------
// The kiosk side: the worker and its events

struct Kiosk {
    worker: BackendWorker,
    events: Receiver<Event>,
    next_op: u64,
    /// Replies that arrived while another was awaited.
    early: Vec<(OpId, Result<BackendOk, BackendError>)>,
    /// The backend's key, for the session's check of the delivered catalog.
    document_key: String,
}

impl Kiosk {
    fn new(config: &BackendConfig, outbox: &Path) -> Kiosk {
        Kiosk::with_timeout(config, outbox, Duration::from_secs(20))
    }

    fn with_timeout(config: &BackendConfig, outbox: &Path, reply_timeout: Duration) -> Kiosk {
        let (sink, events) = channel();
        let worker = BackendWorker::spawn(config, KIOSK, reply_timeout, outbox, sink).expect("spawn worker");
        Kiosk { worker, events, next_op: 1, early: Vec::new(), document_key: config.document_key.clone() }
    }

    /// The offers as the session takes them: delivered by the worker, checked against the signed
    /// catalog by the session's check.
    fn offers(&mut self, session_id: &str) -> Result<Offers, BackendError> {
        let mut check = Ed25519DocumentCheck::from_hex(&self.document_key).expect("document key");
        match self.ask(Request::Offers { session_id: session_id.into(), held_catalog: check.held_catalog() })? {
            BackendOk::Offers(delivered) => check.offers(delivered).map_err(|r| r.backend_error()),
            other => panic!("not offers: {other:?}"),
        }
    }

    fn submit(&mut self, request: Request) -> OpId {
        let op = OpId(self.next_op);
        self.next_op += 1;
        self.worker.submit(BackendCall { op, request });
        op
    }

    fn ask(&mut self, request: Request) -> Result<BackendOk, BackendError> {
        let op = self.submit(request);
        self.reply(op)
    }

    fn reply(&mut self, op: OpId) -> Result<BackendOk, BackendError> {
        if let Some(i) = self.early.iter().position(|(o, _)| *o == op) {
            return self.early.remove(i).1;
        }
        loop {
            match self.events.recv_timeout(WAIT) {
                Ok(Event::BackendReply { op: o, result }) if o == op => return result,
                Ok(Event::BackendReply { op: o, result }) => self.early.push((o, result)),
                Ok(other) => panic!("the backend worker sent {other:?}"),
                Err(e) => panic!("no reply to {op:?} within {WAIT:?}: {e}"),
            }
        }
    }
}

/// A resident's card, as the card would sign.
struct Card {
    certificate: Vec<u8>,
    key: rsa::RsaPrivateKey,
}

impl Card {
    fn of(world: &Path, resident: &Value) -> Card {
        let profile = world.join(resident["card_profile"].as_str().expect("card_profile"));
        let p = madoguchi_sim::profile::CardProfile::load(&profile).expect("card profile");
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&p.jpki.auth_key_pkcs8).expect("user-authentication key");
        Card { certificate: p.jpki.auth_cert, key }
    }

    /// What the card does with the session's `Sign { sha256 }`: PKCS#1 v1.5 over SHA-256.
    fn sign(&self, challenge: &[u8]) -> Vec<u8> {
        let digest = Sha256::digest(challenge);
        self.key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest).expect("sign")
    }

    fn fingerprint(&self) -> String {
        Sha256::digest(&self.certificate).iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn the_resident(world: &Path) -> Value {
    resident_with(world, &["adult", "household-head", "seal-registered"])
}

/// Challenge, signature, authentication: the backend session id.
fn log_in(kiosk: &mut Kiosk, card: &Card) -> String {
    let Ok(BackendOk::Challenge { session_id, challenge }) = kiosk.ask(Request::Challenge) else {
        panic!("no challenge");
    };
    // What the card will sign names madoguchi, the purpose and this kiosk.
    let purpose = madoguchi_api::challenge::Purpose::Authenticate;
    assert_eq!(madoguchi_api::challenge::check(&challenge, purpose, KIOSK), Ok(()));
    let r = kiosk.ask(Request::Authenticate {
        session_id: session_id.clone(),
        certificate: card.certificate.clone(),
        signature: card.sign(&challenge),
    });
    assert_eq!(
        r,
        Ok(BackendOk::Authenticated { session_id: session_id.clone(), certificate_fingerprint: card.fingerprint() })
    );
    session_id
}

/// Logs in, takes the offers and issues a 住民票 from the municipality of residence.
fn issue_juminhyo(kiosk: &mut Kiosk, card: &Card, key: &str) -> (String, IssueRequest, Issued) {
    let session_id = log_in(kiosk, card);
    let Ok(offers) = kiosk.offers(&session_id) else {
        panic!("no offers");
    };
    let kiyose = offers.municipalities.iter().find(|m| m.code == KIYOSE).expect("清瀬市 offered");
    assert_eq!((kiyose.name.as_str(), kiyose.route), ("清瀬市", Route::Residence));
    let juminhyo = kiyose.documents.iter().find(|d| d.kind == "juminhyo").expect("住民票 offered");
    assert!(juminhyo.fee_yen > 0 && juminhyo.max_copies >= 1, "{juminhyo:?}");
    assert!(juminhyo.options.iter().all(|o| o != "household"), "household is not a resident's option");
    let request = IssueRequest {
        session_id: session_id.clone(),
        municipality_code: KIYOSE.into(),
        document: "juminhyo".into(),
        options: vec![],
        persons: vec![],
        year: None,
        copies: 1,
        paid_yen: juminhyo.fee_yen,
        payment_reference: format!("pay-{key}"),
        idempotency_key: key.into(),
    };
    let Ok(BackendOk::Issued(issued)) = kiosk.ask(Request::Issue(request.clone())) else { panic!("not issued") };
    assert_eq!(issued.total_yen, juminhyo.fee_yen);
    (session_id, request, issued)
}

fn juminhyo_line(settlement: &Value) -> Value {
    settlement["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["municipality_code"] == KIYOSE && l["document"] == "juminhyo")
        .cloned()
        .unwrap_or_else(|| panic!("no 住民票 line in {settlement}"))
}

fn printed_outcome(session_id: &str, issued: &Issued) -> Request {
    Request::Outcome {
        session_id: session_id.into(),
        issuance_number: issued.issuance_number.clone(),
        outcome: IssueOutcome::Printed,
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_resident_flow_through_the_worker_ends_printed_in_the_ledger() {
    let world = shared_world();
    let mut backend = Backend::deploy(&world);
    backend.start();
    backend.open_all_hours();
    let kdir = backend.enroll_kiosk();
    let config = backend_config(&backend, &kdir, None);
    let state = tempfile::tempdir().expect("state dir");
    let outbox = state.path().join("backend-outbox.jsonl");
    let mut kiosk = Kiosk::new(&config, &outbox);
    assert!(outbox.exists(), "the outbox is created at start");
    let card = Card::of(&world, &the_resident(&world));

    let (session_id, request, issued) = issue_juminhyo(&mut kiosk, &card, "K001-flow-1");
    // The document verifies with the configured key and is bound to this session and card.
    let check = Ed25519DocumentCheck::from_hex(&config.document_key).expect("document key");
    let binding = check.check(&issued.document).expect("document signature");
    assert_eq!(binding.session_id, session_id);
    assert_eq!(binding.certificate_fingerprint, card.fingerprint());
    assert_eq!(binding.kiosk_id, KIOSK);
    assert_eq!(binding.issuance_number, issued.issuance_number);
    assert_eq!((binding.document.as_str(), binding.copies), ("juminhyo", 1));
    // Asking again with the same key is safe: the same issuance.
    let Ok(BackendOk::Issued(again)) = kiosk.ask(Request::Issue(request.clone())) else { panic!("repeat refused") };
    assert_eq!(again.issuance_number, issued.issuance_number);
    // A different request under the same key is a definite refusal.
    let mut other = request;
    other.copies = 2;
    other.paid_yen *= 2;
    assert_eq!(
        kiosk.ask(Request::Issue(other)),
        Err(BackendError::Refused(Refusal::Other("idempotency_key_reused".into())))
    );

    // Outcome, then close: durable, each acknowledged once delivered.
    let outcome = kiosk.submit(printed_outcome(&session_id, &issued));
    let close = kiosk.submit(Request::Close { session_id: session_id.clone() });
    assert_eq!(kiosk.reply(outcome), Ok(BackendOk::Acknowledged));
    assert_eq!(kiosk.reply(close), Ok(BackendOk::Acknowledged));
    assert_eq!(kiosk.worker.pending_durable(), 0);
    assert_eq!(std::fs::read_to_string(&outbox).expect("outbox"), "", "nothing left in the outbox");
    // The session is closed at the backend.
    assert_eq!(kiosk.offers(&session_id), Err(BackendError::Refused(Refusal::SessionExpired)));

    let settlement = backend.settlement(&kdir);
    assert_eq!(settlement["store"], json!(STORE));
    let line = juminhyo_line(&settlement);
    assert_eq!((line["issuances"].as_i64(), line["printed"].as_i64()), (Some(1), Some(1)), "{line}");
    assert_eq!((line["voided"].as_i64(), line["pending"].as_i64()), (Some(0), Some(0)), "{line}");
    assert_eq!(line["charged_yen"], json!(issued.total_yen));
    assert_eq!(line["net_yen"], json!(issued.total_yen));
    assert_eq!(settlement["refunds_due"], json!([]));
}

#[test]
fn durable_requests_wait_out_a_dead_backend_and_a_new_worker_delivers_them() {
    let world = shared_world();
    let mut backend = Backend::deploy(&world);
    backend.start();
    backend.open_all_hours();
    let kdir = backend.enroll_kiosk();
    let config = backend_config(&backend, &kdir, None);
    let state = tempfile::tempdir().expect("state dir");
    let outbox = state.path().join("backend-outbox.jsonl");
    let resident = the_resident(&world);
    let card = Card::of(&world, &resident);

    let mut first = Kiosk::new(&config, &outbox);
    let (session_id, _, issued) = issue_juminhyo(&mut first, &card, "K001-restart-1");
    backend.kill();
    // The kept-alive connection is gone and nobody listens: nothing reaches the backend.
    assert_eq!(first.ask(Request::Challenge), Err(BackendError::Unreachable));
    first.submit(printed_outcome(&session_id, &issued));
    first.submit(Request::Close { session_id: session_id.clone() });
    // On disk before `submit` returned.
    assert_eq!(first.worker.pending_durable(), 2);
    drop(first);

    // The outbox: the outcome before the close, ids and the outcome only.
    let text = std::fs::read_to_string(&outbox).expect("outbox");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        json!({"kind": "outcome", "session_id": session_id, "issuance_number": issued.issuance_number, "outcome": "printed"})
    );
    assert_eq!(lines[1], json!({"kind": "close", "session_id": session_id}));
    let name = resident["name"].as_str().expect("name");
    assert!(!text.contains(name) && !text.contains("payload"), "no resident data in the outbox");

    backend.start();
    let second = Kiosk::new(&config, &outbox);
    let deadline = Instant::now() + WAIT;
    while second.worker.pending_durable() > 0 {
        assert!(Instant::now() < deadline, "the outbox was not delivered within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&outbox).expect("outbox"), "");

    // Delivered in order: printed (a close first would have voided it), then closed.
    let line = juminhyo_line(&backend.settlement(&kdir));
    assert_eq!((line["printed"].as_i64(), line["voided"].as_i64()), (Some(1), Some(0)), "{line}");
    let mut second = second;
    assert_eq!(second.offers(&session_id), Err(BackendError::Refused(Refusal::SessionExpired)));
}

#[test]
fn a_backend_that_stops_answering_is_a_timeout_and_the_worker_recovers() {
    let world = shared_world();
    let mut backend = Backend::deploy(&world);
    backend.start();
    let kdir = backend.enroll_kiosk();
    let config = backend_config(&backend, &kdir, None);
    let state = tempfile::tempdir().expect("state dir");
    let mut kiosk = Kiosk::with_timeout(&config, &state.path().join("outbox.jsonl"), Duration::from_secs(2));
    assert!(matches!(kiosk.ask(Request::Challenge), Ok(BackendOk::Challenge { .. })));
    // The kept-alive connection takes the request; the frozen process never answers it.
    backend.signal("-STOP");
    let frozen = kiosk.ask(Request::Challenge);
    backend.signal("-CONT");
    assert_eq!(frozen, Err(BackendError::Timeout));
    // The connection with an unanswered request is not reused: the late answer is never taken
    // for the next one.
    let Ok(BackendOk::Challenge { session_id, .. }) = kiosk.ask(Request::Challenge) else {
        panic!("no challenge after the backend came back");
    };
    let close = kiosk.submit(Request::Close { session_id });
    assert_eq!(kiosk.reply(close), Ok(BackendOk::Acknowledged));
}

#[test]
fn offers_are_refused_when_the_catalog_is_signed_by_another_key() {
    let world = shared_world();
    let mut backend = Backend::deploy(&world);
    backend.start();
    let kdir = backend.enroll_kiosk();
    // A valid Ed25519 key, but not the backend's.
    let foreign = madoguchi_backend::signing::BackendKey::from_parts([42u8; 32], [0u8; 32]).public().to_hex();
    let config = backend_config(&backend, &kdir, Some(foreign));
    let state = tempfile::tempdir().expect("state dir");
    let mut kiosk = Kiosk::new(&config, &state.path().join("backend-outbox.jsonl"));
    let card = Card::of(&world, &the_resident(&world));
    let session_id = log_in(&mut kiosk, &card);
    assert_eq!(kiosk.offers(&session_id), Err(BackendError::CatalogSignature));
}

/// A backend serving with one kiosk enrolled: (backend, the kiosk's credential, its configuration).
fn serving_backend() -> (Backend, PathBuf, BackendConfig) {
    let mut backend = Backend::deploy(&shared_world());
    backend.start();
    let kdir = backend.enroll_kiosk();
    let config = backend_config(&backend, &kdir, None);
    (backend, kdir, config)
}

/// The Takamatsu check (kiosk-domain.md §8): the backend states its API version and deployment
/// (SQLite: single), the kiosk accepts it as a single site and refuses it as a multi site,
/// naming both modes; a backend that is down is told apart from a mismatch.
#[test]
fn the_kiosk_refuses_a_backend_of_another_deployment_mode() {
    use madoguchi_api::v1::{Deployment, API_VERSION};
    use madoguchi_firmware::kiosk::compat::{check_backend, CompatError};
    let (mut backend, _, config) = serving_backend();
    let wait = Duration::from_secs(10);
    let info = check_backend(&config, KIOSK, Deployment::Single, wait).expect("a single-instance backend");
    assert_eq!((info.api_version, info.deployment), (API_VERSION, Deployment::Single));
    let refused = check_backend(&config, KIOSK, Deployment::Multi, wait).unwrap_err();
    assert_eq!(refused, CompatError::Deployment { kiosk: Deployment::Multi, backend: Deployment::Single });
    assert!(refused.is_mismatch());
    assert!(refused.to_string().contains("kiosk.toml says multi"), "{refused}");
    backend.kill();
    let down = check_backend(&config, KIOSK, Deployment::Single, wait).unwrap_err();
    assert!(matches!(down, CompatError::Unreachable(_)) && !down.is_mismatch(), "{down:?}");
}

/// A backend of another build (its `/v1/info` states another API version, here through the
/// lab's fault proxy) is refused whatever the deployment, with both versions named for staff;
/// the same backend stating this build's version passes.
#[test]
fn the_kiosk_refuses_a_backend_of_another_api_version() {
    use madoguchi_api::v1::{Deployment, API_VERSION};
    use madoguchi_firmware::kiosk::compat::{check_backend, CompatError};
    use madoguchi_sim::backend_proxy::BackendProxy;
    let (mut backend, kdir, mut config) = serving_backend();
    let proxy = BackendProxy::start(&backend.url(), &backend.dir.path().join("keys"), &kdir).expect("fault proxy");
    config.url = proxy.url().to_string();
    let wait = Duration::from_secs(10);
    let info = check_backend(&config, KIOSK, Deployment::Single, wait).expect("through the proxy, as it is");
    assert_eq!(info.api_version, API_VERSION);
    proxy.pose_as_api_version(API_VERSION + 1);
    let refused = check_backend(&config, KIOSK, Deployment::Single, wait).unwrap_err();
    let CompatError::ApiVersion { kiosk, backend: theirs, build } = &refused else { panic!("{refused:?}") };
    assert_eq!((*kiosk, *theirs, build.as_str()), (API_VERSION, API_VERSION + 1, env!("CARGO_PKG_VERSION")));
    assert!(refused.is_mismatch());
    let message = refused.to_string();
    assert!(
        message.contains(&format!("speaks API version {}", API_VERSION + 1))
            && message.contains("install matching versions of madoguchi and madoguchi-backend"),
        "{message}"
    );
    // the version is judged before the mode: a site of either mode refuses it
    let refused = check_backend(&config, KIOSK, Deployment::Multi, wait).unwrap_err();
    assert!(matches!(refused, CompatError::ApiVersion { .. }), "{refused:?}");
    backend.kill();
}
