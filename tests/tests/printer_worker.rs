//! The kiosk's printer worker end to end: document payloads made by the real backend library
//! (`build_payload` over the demo world loaded with `load_world`, planned as the backend plans
//! an issuance, signed with a backend key) go through the firmware's payload mapping, the
//! renderer and the serial PJL driver to `madoguchi-sim printer` on a pseudo-terminal. The
//! spooled PDFs are checked with poppler (`pdftotext -layout`, `pdffonts`) and `qpdf --check`;
//! faults injected into the simulator must come back as the right `PrinterEvent`s.
//!
//! The line runs at 921600 baud to keep the tests quick.

use madoguchi_api::municipality::Hours;
use madoguchi_api::payload::{Binding, IssuerInfo};
use madoguchi_api::v1::IssuanceRequest;
use madoguchi_api::DocumentKind;
use madoguchi_backend::domain::{self, MunicipalityView, ResidentView};
use madoguchi_backend::signing::BackendKey;
use madoguchi_drivers::printer::{ErrorKind, FlowControl, PaperOutcome, PrinterConfig};
use madoguchi_firmware::workers::printer::PrinterWorker;
use madoguchi_firmware::world::DemoWorld;
use madoguchi_paper::payload::{self, PayloadErrorKind};
use madoguchi_paper::{Document, FontPaths, FontSet, KosekiScope, Renderer, ResidentOptions};
use madoguchi_session::{DocumentBinding, Event, PrintJob, PrinterEvent, SignedDocument};
use madoguchi_sim::lab::PrinterProcess;
use madoguchi_tests::bin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const BAUD: u32 = 921_600;
/// Longest wait for any one event (generous: CI shares two cores). Never a measured time.
const WAIT: Duration = Duration::from_secs(60);
/// The resident: 佐藤 健一 of 清瀬市, head of a household of three, with a seal, tax records
/// and a 戸籍 in the same city.
const RESIDENT: &str = "R0001";
const NAME: &str = "佐藤 健一";

// ---------------------------------------------------------------------------------------------
// The backend as a library: the demo world in a private SQLite database

struct Backend {
    rt: tokio::runtime::Runtime,
    db: madoguchi_backend::db::Db,
    municipalities: Vec<MunicipalityView>,
    key: BackendKey,
    verify_base: String,
    _dir: tempfile::TempDir,
}

fn backend() -> &'static Backend {
    static B: OnceLock<Backend> = OnceLock::new();
    B.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = madoguchi_backend::config::Config {
            database: format!("sqlite://{}", dir.path().join("registry.db").display()),
            ..Default::default()
        };
        let world = madoguchi_tests::shared_world();
        let (db, mut municipalities) = rt.block_on(async {
            let db = madoguchi_backend::db::Db::connect(&config).await.expect("sqlite");
            db.migrate().await.expect("migrations");
            let anchors = madoguchi_certs::TrustAnchors::new(true);
            madoguchi_backend::ops::load_world(&db, &anchors, &world).await.expect("load-world");
            let m = madoguchi_backend::registry::municipalities(&db.pool).await.expect("municipalities");
            (db, m)
        });
        // Open around the clock, whatever day and hour the tests run.
        for m in &mut municipalities {
            m.config.service_hours = Hours { open: "00:00".into(), close: "24:00".into() };
            m.config.closed_days.clear();
            for d in m.config.documents.values_mut() {
                d.hours = None;
                d.weekdays_only = false;
            }
            // 個人番号 on the 住民票 too, so that every item of it is exercised.
            if let Some(d) = m.config.documents.get_mut("juminhyo") {
                if !d.options.iter().any(|o| o == "kojin_bango") {
                    d.options.push("kojin_bango".into());
                }
            }
            m.config.validate().expect("a valid municipality configuration");
        }
        Backend {
            rt,
            db,
            municipalities,
            key: BackendKey::generate(),
            verify_base: config.verify_base_url.clone(),
            _dir: dir,
        }
    })
}

impl Backend {
    fn view(&self, resident: &str) -> ResidentView {
        self.rt.block_on(madoguchi_backend::registry::build_resident_view(&self.db.pool, resident)).expect("view")
    }

    /// Issues `kind` for `resident` as the backend's issuance flow does (offers, plan, payload,
    /// signature), with every option offered and every person the resident may include.
    fn issue(&self, resident: &str, kind: DocumentKind, copies: u8) -> PrintJob {
        let view = self.view(resident);
        let now = time::OffsetDateTime::now_utc();
        let refs: Vec<&MunicipalityView> = self.municipalities.iter().collect();
        let offers = domain::compute_offers(&view, &refs, now);
        let offer = offers.offers.iter().find(|o| o.document == kind).unwrap_or_else(|| {
            let why: Vec<String> = offers.unavailable.iter().map(|u| format!("{}: {}", u.document, u.reason)).collect();
            panic!("{kind} is not offered to {resident}: {why:?}")
        });
        let persons = match kind {
            DocumentKind::Juminhyo | DocumentKind::Kisaijiko => offer.persons.iter().map(|p| p.id.clone()).collect(),
            DocumentKind::KosekiKojin | DocumentKind::Fuhyo => vec![resident.to_string()],
            _ => vec![],
        };
        let req = IssuanceRequest {
            municipality_code: offer.municipality_code.clone(),
            document: kind,
            options: offer.options.clone(),
            persons,
            year: None,
            copies: i64::from(copies),
            paid_yen: offer.fee_yen * i64::from(copies),
            payment_reference: "CASH-1".into(),
            idempotency_key: format!("test-{kind}"),
        };
        let plan = domain::plan_issuance(&req, &view, &refs, now).expect("plan");
        let muni = self.municipalities.iter().find(|m| m.municipality.code == plan.municipality_code).unwrap();
        let number = madoguchi_backend::flow::new_issuance_number(now);
        let binding = Binding {
            session_id: "S-printer-worker".into(),
            certificate_fingerprint: "5e".repeat(32),
            kiosk_id: "K-test".into(),
            issuance_number: number.clone(),
            issued_at: now.format(&time::format_description::well_known::Rfc3339).unwrap(),
            document: plan.kind,
            copies: plan.copies,
        };
        let issuer = IssuerInfo {
            code: muni.municipality.code.clone(),
            name: muni.municipality.name.clone(),
            prefecture: muni.municipality.prefecture.clone(),
            issuer_title: muni.config.issuer_title.clone(),
            issuer_name: muni.config.issuer_name.clone(),
            seal_sha256: None,
        };
        let verify_url = format!("{}/{}?code={}", self.verify_base, number, self.key.verification_code(&number));
        let kosekis: std::collections::HashMap<String, domain::Koseki> = self.rt.block_on(async {
            let mut out = std::collections::HashMap::new();
            for m in &view.household_members {
                if let Some(kid) = &m.koseki_id {
                    if let Some(k) = madoguchi_backend::registry::koseki(&self.db.pool, kid).await.unwrap() {
                        out.insert(m.id.clone(), k);
                    }
                }
            }
            out
        });
        let payload = domain::build_payload(&plan, &view, issuer, binding.clone(), now, verify_url, &|r| {
            kosekis.get(&r.id).cloned()
        })
        .expect("payload");
        let blob = self.key.sign(&serde_json::to_string(&payload).unwrap());
        PrintJob {
            issuance_number: number.clone(),
            copies,
            binding: DocumentBinding {
                session_id: binding.session_id,
                certificate_fingerprint: binding.certificate_fingerprint,
                kiosk_id: binding.kiosk_id,
                issuance_number: number,
                document: kind.id().into(),
                copies: binding.copies,
            },
            document: SignedDocument {
                payload: blob.payload,
                signature: blob.signature,
                key_id: blob.key_id,
                algorithm: blob.algorithm,
            },
        }
    }
}

fn renderer() -> Arc<Renderer> {
    static R: OnceLock<Arc<Renderer>> = OnceLock::new();
    R.get_or_init(|| {
        Arc::new(Renderer::new(FontSet::load(&FontPaths::default()).expect("fonts-ipaexfont and fonts-ipamj-mincho")))
    })
    .clone()
}

// ---------------------------------------------------------------------------------------------
// The printer simulator and the worker

/// The printer simulator (`madoguchi_sim::lab`, shared with the demo) in a temporary dir.
struct Printer {
    sim: PrinterProcess,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Printer {
    type Target = PrinterProcess;
    fn deref(&self) -> &PrinterProcess {
        &self.sim
    }
}

impl Printer {
    fn start(faults: &[&str]) -> Printer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut extra = vec!["--vanish-secs", "1"];
        for f in faults {
            extra.extend(["--fault", f]);
        }
        let sim =
            PrinterProcess::start(&bin("madoguchi-sim"), dir.path(), BAUD, &extra).unwrap_or_else(|e| panic!("{e}"));
        Printer { sim, _dir: dir }
    }

    fn wait_for(&self, what: &str) {
        self.sim.wait_line(what, WAIT).unwrap_or_else(|e| panic!("{e}"));
    }

    fn control(&self, line: &str) {
        self.sim.control(line).unwrap_or_else(|e| panic!("{e}"));
    }

    fn journal(&self) -> Vec<serde_json::Value> {
        self.sim.journal().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The journal entry of job `number`, once the simulator has written it (it does so just
    /// after it reported the job's end).
    fn entry(&self, number: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(j) = self.journal().into_iter().find(|j| j["job"] == number) {
                return j;
            }
            assert!(std::time::Instant::now() < deadline, "no journal entry for job {number}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spooled(&self, number: &str) -> PathBuf {
        self.spool.join(format!("{number}.pdf"))
    }

    fn config(&self) -> PrinterConfig {
        config_at(&self.link)
    }
}

fn config_at(path: &Path) -> PrinterConfig {
    let mut c = PrinterConfig::new(path, BAUD);
    c.flow = FlowControl::None;
    c
}

/// The worker and the kiosk loop's end of its events.
struct Kiosk {
    worker: PrinterWorker,
    events: Receiver<Event>,
}

impl Kiosk {
    fn start(config: PrinterConfig) -> Kiosk {
        let (tx, events) = mpsc::channel();
        let worker = PrinterWorker::spawn_probing(config, renderer(), tx, Duration::from_millis(300));
        Kiosk { worker, events }
    }

    fn next(&self) -> PrinterEvent {
        match self.events.recv_timeout(WAIT) {
            Ok(Event::PrinterStatus(e)) => e,
            Ok(other) => panic!("the printer worker sent {other:?}"),
            Err(e) => panic!("no printer event: {e}"),
        }
    }

    /// Waits for `Ready(want)`, passing over other readiness reports.
    fn ready(&self, want: bool) {
        loop {
            match self.next() {
                PrinterEvent::Ready(r) if r == want => return,
                PrinterEvent::Ready(_) => {}
                other => panic!("waiting for Ready({want}), got {other:?}"),
            }
        }
    }

    /// The job's events up to its end (readiness reports left out).
    fn job(&self, number: &str) -> (Vec<(u32, u32)>, PrinterEvent) {
        let mut progress = Vec::new();
        loop {
            match self.next() {
                PrinterEvent::Ready(_) => {}
                PrinterEvent::Progress { issuance_number, pages_done, pages_total } => {
                    assert_eq!(issuance_number, number);
                    progress.push((pages_done, pages_total));
                }
                end => return (progress, end),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks of a spooled PDF

fn pdftotext_layout(file: &Path) -> String {
    let o = Command::new("pdftotext").arg("-layout").arg(file).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(o.status.success(), "pdftotext failed on {}", file.display());
    String::from_utf8_lossy(&o.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn tool(name: &str, args: &[&str], file: &Path) -> String {
    let o =
        Command::new(name).args(args).arg(file).output().unwrap_or_else(|e| panic!("{name} (poppler-utils/qpdf): {e}"));
    assert!(o.status.success(), "{name} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_clean_pdf(file: &Path) {
    let fonts = tool("pdffonts", &[], file);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "no fonts: {fonts}");
    for r in rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert!(
            cols.len() >= 7 && cols[cols.len() - 5..cols.len() - 2] == ["yes", "yes", "yes"],
            "not embedded/subset/unicode: {r}"
        );
        assert_eq!(cols[0].chars().nth(6), Some('+'), "no subset tag: {r}");
    }
    let check = tool("qpdf", &["--check"], file);
    assert!(check.contains("No syntax or stream encoding errors"), "{check}");
}

// ---------------------------------------------------------------------------------------------
// Tests

/// Every document the backend issues for the resident: mapped, rendered, printed and confirmed,
/// and on paper it says who, which issuance and which municipality.
#[test]
fn every_backend_document_prints_through_the_worker() {
    let printer = Printer::start(&[]);
    let kiosk = Kiosk::start(printer.config());
    kiosk.ready(true);
    for kind in DocumentKind::ALL {
        let copies = if kind == DocumentKind::Juminhyo { 2 } else { 1 };
        let job = backend().issue(RESIDENT, kind, copies);
        let number = job.issuance_number.clone();
        let signed: serde_json::Value = serde_json::from_str(&job.document.payload).unwrap();
        let verify_url = signed["verify_url"].as_str().unwrap().to_string();
        // The issuer as signed: 東京都清瀬市長　<mayor>, white space as pdftotext gives it.
        let m = &signed["municipality"];
        let issuer_line = format!("{}{} {}", m["prefecture"], m["issuer_title"], m["issuer_name"])
            .replace('"', "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        kiosk.worker.submit(job);
        let (progress, end) = kiosk.job(&number);
        let PrinterEvent::Finished { issuance_number, pages } = end else { panic!("{kind}: {end:?}") };
        assert_eq!(issuance_number, number);
        // Progress: announced before the first page, then each page, up to the total.
        let total = progress.first().map(|p| p.1).expect("a progress report");
        assert_eq!(progress.first(), Some(&(0, total)), "{kind}");
        assert_eq!(progress.last(), Some(&(total, total)), "{kind}: {progress:?}");
        assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "{kind}: {progress:?}");
        assert_eq!(pages, total, "{kind}");

        let j = printer.entry(&number);
        assert_eq!(j["outcome"], "printed", "{kind}: {j}");
        assert_eq!(j["copies"], u64::from(copies), "{kind}: one job, the printer's own copy count");
        assert_eq!(j["printed"].as_u64(), Some(u64::from(pages)), "{kind}: {j}");
        let pdf = printer.spooled(&number);
        let text = pdftotext_layout(&pdf);
        assert!(text.contains(NAME), "{kind}: the resident's name is not on the page:\n{text}");
        assert!(text.contains(&number), "{kind}: issuance number");
        assert!(text.contains(&verify_url), "{kind}: the verification URL of the QR code");
        assert!(text.contains("東京都清瀬市長"), "{kind}: the municipality:\n{text}");
        assert!(text.contains(&issuer_line), "{kind}: the issuer {issuer_line:?}:\n{text}");
        assert_clean_pdf(&pdf);
    }
}

/// The same resident from the backend's payload and from `print-sample --world`'s reader of the
/// registry: the same people, addresses, dates and issuer.
#[test]
fn backend_payloads_agree_with_the_world_registry() {
    let world = DemoWorld::load(&madoguchi_tests::shared_world()).expect("registry.json");
    let map = |kind: DocumentKind| {
        let job = backend().issue(RESIDENT, kind, 1);
        let p = payload::parse(&job.document.payload).unwrap_or_else(|e| panic!("{kind}: {e}"));
        renderer().check(&p.document, &p.issuer, &p.issuance).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(p.issuance.number, job.issuance_number);
        assert_eq!(p.kind, kind.id());
        p
    };
    let all = ResidentOptions {
        head_and_relationship: true,
        honseki: true,
        previous_address: false,
        my_number: true,
        resident_code: false,
    };
    for kind in DocumentKind::ALL {
        let p = map(kind);
        let year = match &p.document {
            Document::Kazei(k) => Some(k.record.fiscal_year),
            _ => None,
        };
        let (w, issuer) = world.document(kind.id(), Some(RESIDENT), 3, all, year).expect("world document");
        assert_eq!(
            (&p.issuer.prefecture, &p.issuer.municipality, &p.issuer.title),
            (&issuer.prefecture, &issuer.municipality, &issuer.title),
            "{kind}"
        );
        match (&p.document, &w) {
            (Document::Juminhyo(a), Document::Juminhyo(b)) | (Document::Kisaijiko(a), Document::Kisaijiko(b)) => {
                assert_eq!(a.address, b.address, "{kind}");
                let people = |j: &madoguchi_paper::Juminhyo| {
                    j.members
                        .iter()
                        .map(|m| (m.name.clone(), m.born, m.sex, m.address_since, m.previous_address.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(people(a), people(b), "{kind}");
                if kind == DocumentKind::Juminhyo {
                    assert_eq!(a.head, b.head);
                    let more = |j: &madoguchi_paper::Juminhyo| {
                        j.members
                            .iter()
                            .map(|m| (m.relationship.clone(), m.honseki.clone(), m.my_number.clone()))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(more(a), more(b));
                }
            }
            (Document::Inkan(a), Document::Inkan(b)) => {
                assert_eq!((&a.name, a.born, &a.address), (&b.name, b.born, &b.address));
                assert_eq!((&a.registration_number, &a.impression), (&b.registration_number, &b.impression));
            }
            (Document::Kazei(a), Document::Kazei(b)) => {
                assert_eq!((&a.name, a.born), (&b.name, b.born));
                let (x, y) = (&a.record, &b.record);
                assert_eq!(
                    (x.fiscal_year, &x.address, x.total_income, x.taxable_income, x.municipal_tax, x.prefectural_tax),
                    (y.fiscal_year, &y.address, y.total_income, y.taxable_income, y.municipal_tax, y.prefectural_tax)
                );
                let amounts = |r: &madoguchi_paper::TaxRecord| r.incomes.iter().map(|(_, v)| *v).collect::<Vec<_>>();
                assert_eq!(amounts(x), amounts(y));
            }
            (Document::Koseki(a), Document::Koseki(b)) => {
                assert_eq!((&a.honseki, &a.head), (&b.honseki, &b.head), "{kind}");
                // The people the certificate is about.
                let chosen = |k: &madoguchi_paper::Koseki| match &k.scope {
                    KosekiScope::All => k.persons.iter().map(|p| (p.given_name.clone(), p.born)).collect::<Vec<_>>(),
                    KosekiScope::Persons(ix) => {
                        ix.iter().map(|&i| (k.persons[i].given_name.clone(), k.persons[i].born)).collect()
                    }
                };
                assert_eq!(chosen(a), chosen(b), "{kind}");
                assert_eq!(matches!(a.scope, KosekiScope::All), matches!(b.scope, KosekiScope::All), "{kind}");
            }
            (Document::Fuhyo(a), Document::Fuhyo(b)) => {
                assert_eq!((&a.honseki, &a.head), (&b.honseki, &b.head));
                let me = b.persons.iter().find(|x| x.name == a.persons[0].name).expect("the resident");
                assert_eq!((a.persons[0].born, &a.persons[0].addresses), (me.born, &me.addresses));
            }
            (a, b) => panic!("{kind}: {} vs {}", a.kind(), b.kind()),
        }
    }
}

#[test]
fn a_jam_at_the_first_page_fails_with_no_paper_and_the_printer_reports_not_ready() {
    let printer = Printer::start(&["jam@job=1"]);
    let kiosk = Kiosk::start(printer.config());
    kiosk.ready(true);
    let job = backend().issue(RESIDENT, DocumentKind::Juminhyo, 1);
    let number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (_, end) = kiosk.job(&number);
    assert_eq!(
        end,
        PrinterEvent::Failed { issuance_number: number.clone(), kind: ErrorKind::Jam, paper: PaperOutcome::Nothing }
    );
    let j = printer.entry(&number);
    assert_eq!((&j["outcome"], &j["printed"]), (&"jam".into(), &0.into()), "{j}");
    // The jam stays until someone clears it.
    kiosk.ready(false);
    printer.control("clear");
    kiosk.ready(true);
}

#[test]
fn paper_out_makes_the_printer_not_ready_until_cleared() {
    let printer = Printer::start(&[]);
    let kiosk = Kiosk::start(printer.config());
    kiosk.ready(true);
    printer.control("paper-out");
    kiosk.ready(false);
    // A job now is refused by the printer's status: nothing sent, nothing on paper.
    let job = backend().issue(RESIDENT, DocumentKind::Inkan, 1);
    let number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (_, end) = kiosk.job(&number);
    assert_eq!(
        end,
        PrinterEvent::Failed { issuance_number: number, kind: ErrorKind::PaperOut, paper: PaperOutcome::Nothing }
    );
    assert!(printer.journal().is_empty(), "nothing was sent to a printer without paper");
    printer.control("clear");
    kiosk.ready(true);
}

#[test]
fn a_printer_that_vanishes_mid_job_is_disconnected_and_found_again() {
    let printer = Printer::start(&["vanish@job=1"]);
    let kiosk = Kiosk::start(printer.config());
    kiosk.ready(true);
    let job = backend().issue(RESIDENT, DocumentKind::Juminhyo, 1);
    let number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (_, end) = kiosk.job(&number);
    assert_eq!(
        end,
        PrinterEvent::Failed { issuance_number: number, kind: ErrorKind::Disconnected, paper: PaperOutcome::Nothing }
    );
    // It comes back as after a power cycle; the worker's driver opens the line again.
    printer.wait_for("vanished");
    printer.wait_for("ready");
    let job = backend().issue(RESIDENT, DocumentKind::Juminhyo, 1);
    let number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (_, end) = kiosk.job(&number);
    assert!(matches!(end, PrinterEvent::Finished { .. }), "{end:?}");
}

#[test]
fn no_printer_at_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(config_at(&dir.path().join("nothing-here")));
    kiosk.ready(false);
    let job = backend().issue(RESIDENT, DocumentKind::Kazei, 1);
    let number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (progress, end) = kiosk.job(&number);
    assert_eq!(
        end,
        PrinterEvent::Failed { issuance_number: number, kind: ErrorKind::Disconnected, paper: PaperOutcome::Nothing }
    );
    assert!(progress.iter().all(|p| p.0 == 0), "{progress:?}");
}

#[test]
fn a_bad_payload_fails_before_anything_is_sent() {
    let printer = Printer::start(&[]);
    let kiosk = Kiosk::start(printer.config());
    kiosk.ready(true);
    // The payload maps, but not for this job's number: never print under another name.
    let mut job = backend().issue(RESIDENT, DocumentKind::Inkan, 1);
    job.issuance_number = "20990101-OTHERJOB00".into();
    job.binding.issuance_number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (progress, end) = kiosk.job("20990101-OTHERJOB00");
    assert!(progress.is_empty());
    assert!(
        matches!(end, PrinterEvent::Failed { kind: ErrorKind::Protocol, paper: PaperOutcome::Nothing, .. }),
        "{end:?}"
    );
    // A payload with a field the kiosk does not know.
    let mut job = backend().issue(RESIDENT, DocumentKind::Inkan, 1);
    let mut v: serde_json::Value = serde_json::from_str(&job.document.payload).unwrap();
    v["body"]["person"]["blood_type"] = "A".into();
    job.document.payload = v.to_string();
    assert_eq!(payload::parse(&job.document.payload).unwrap_err().kind(), PayloadErrorKind::Malformed);
    let number = job.issuance_number.clone();
    kiosk.worker.submit(job);
    let (_, end) = kiosk.job(&number);
    assert_eq!(
        end,
        PrinterEvent::Failed { issuance_number: number, kind: ErrorKind::Protocol, paper: PaperOutcome::Nothing }
    );
    assert!(printer.journal().is_empty(), "nothing reached the printer");
}

#[test]
fn a_wipe_drops_a_job_that_has_not_started() {
    let printer = Printer::start(&[]);
    let kiosk = Kiosk::start(printer.config());
    kiosk.ready(true);
    let first = backend().issue(RESIDENT, DocumentKind::Juminhyo, 1);
    let waiting = backend().issue(RESIDENT, DocumentKind::Inkan, 1);
    let after = backend().issue(RESIDENT, DocumentKind::Kazei, 1);
    let (first_no, waiting_no, after_no) =
        (first.issuance_number.clone(), waiting.issuance_number.clone(), after.issuance_number.clone());
    kiosk.worker.submit(first);
    // The first job is in the worker's hands once it announces its pages.
    loop {
        match kiosk.next() {
            PrinterEvent::Progress { issuance_number, pages_done: 0, .. } if issuance_number == first_no => break,
            PrinterEvent::Ready(_) => {}
            other => panic!("{other:?}"),
        }
    }
    kiosk.worker.submit(waiting);
    kiosk.worker.wipe();
    kiosk.worker.submit(after);
    let (_, end) = kiosk.job(&first_no);
    assert!(matches!(end, PrinterEvent::Finished { .. }), "a job on the line finishes: {end:?}");
    let (_, end) = kiosk.job(&after_no);
    assert!(matches!(end, PrinterEvent::Finished { .. }), "{end:?}");
    printer.entry(&after_no);
    let names: Vec<String> =
        printer.journal().iter().map(|j| j["job"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(names, [first_no, after_no], "the wiped job {waiting_no} never reached the printer");
}
