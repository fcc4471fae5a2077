//! The printer worker: owns the certificate printer's serial port and turns the session's
//! [`PrintJob`]s into printed paper, and the printer's state into [`PrinterEvent`]s.
//!
//! - **One thread owns the port.** Status probes and jobs run one after the other on it, so a
//!   readiness probe never interleaves with a job on the line, and a probe's answer is reported
//!   before the next job starts (never a stale `Ready` in the middle of one).
//! - **Readiness**: probed on start and every few seconds while idle (`INFO STATUS`), and right
//!   after every job; `Ready(bool)` is reported once at start and then only when it changes.
//! - **A job**: the signed payload is mapped ([`madoguchi_paper::payload`]; the session refused
//!   any payload the contract's checks refuse before it kept a fee, so the check here is only a
//!   defence), rendered in memory, and sent as one PJL job named by the issuance number with the
//!   printer's own copy count (`@PJL SET QTY`); pages are reported as they land in the tray,
//!   then `Finished` with the printer's count or `Failed` with the kind and what came out. A
//!   document that cannot be rendered fails as `Protocol` with nothing on paper.
//! - **A job cut off** (the session's [`PrinterWorker::abort`] when its limit ran out, or the
//!   job's own bound in the driver) stops at once: the line's queue is dropped and the port
//!   closed, so no further byte reaches the printer. The kiosk is then out of service
//!   (`Ready(false)`) until the printer is idle and its page counter has settled; `Failed`
//!   follows with the pages that counter says came out. So a stale job never runs on under the
//!   next resident's (the 2023 Yokohama pattern).
//! - **Nothing is kept**: the payload text and the PDF are wiped after the job; no copy is ever
//!   written to disk. [`PrinterWorker::wipe`] drops jobs of an ended session still waiting.
//! - **Logs** say issuance numbers, page counts and error kinds, never the document's content.

use super::EventSink;
use madoguchi_drivers::printer::{ErrorKind, LineCutter, PaperOutcome, PrinterConfig, PrinterError, SerialPrinter};
use madoguchi_paper::{payload, sample, Document, DocumentError, Renderer, SAMPLE_NUMBER};
use madoguchi_session::{Event, PrintJob, PrinterEvent};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zeroize::{Zeroize, Zeroizing};

/// How often an idle printer is asked whether it can print.
pub const PROBE_EVERY: Duration = Duration::from_secs(3);

/// A print job and the wipe generation it was submitted in.
struct Submitted {
    job: PrintJob,
    generation: u64,
}

/// What the worker is given to print.
enum Work {
    /// A resident's certificate (boxed: the sample needs only its date).
    Job(Box<Submitted>),
    /// The operator's test print: the built-in fictional household stamped 見本, dated `day`
    /// (see [`madoguchi_paper::SAMPLE_NUMBER`]). Reported as [`PrinterEvent`]s of that number.
    Sample { day: time::Date },
}

/// The running printer worker. Dropping it stops the thread once the job in hand (if any) is
/// done: a job is never cut off mid-page.
pub struct PrinterWorker {
    jobs: Option<Sender<Work>>,
    /// Bumped by [`PrinterWorker::wipe`]: jobs submitted before the bump are not printed.
    wipes: Arc<AtomicU64>,
    /// The issuance whose job the session gave up on ([`PrinterWorker::abort`]).
    abort: Arc<Mutex<Option<String>>>,
    /// The issuance whose job is on the line now.
    current: Arc<Mutex<Option<String>>>,
    /// Drops the line's queue from this side, so a write blocked on a trickling printer ends.
    cutter: LineCutter,
    thread: Option<JoinHandle<()>>,
}

impl PrinterWorker {
    /// Starts the worker thread with the printer port and the renderer (fonts loaded once at
    /// start, before the kiosk opens).
    pub fn spawn(config: PrinterConfig, renderer: Arc<Renderer>, events: EventSink) -> PrinterWorker {
        PrinterWorker::spawn_probing(config, renderer, events, PROBE_EVERY)
    }

    /// As [`PrinterWorker::spawn`], probing an idle printer every `probe_every`.
    pub fn spawn_probing(
        config: PrinterConfig,
        renderer: Arc<Renderer>,
        events: EventSink,
        probe_every: Duration,
    ) -> PrinterWorker {
        let (tx, rx) = mpsc::channel();
        let wipes = Arc::new(AtomicU64::new(0));
        let abort = Arc::new(Mutex::new(None));
        let current = Arc::new(Mutex::new(None));
        let printer = SerialPrinter::new(config);
        let cutter = printer.cutter();
        let worker = Worker {
            abort: Arc::clone(&abort),
            current: Arc::clone(&current),
            printer,
            renderer,
            events,
            wipes: Arc::clone(&wipes),
            probe_every: probe_every.max(Duration::from_millis(50)),
            ready: None,
        };
        let thread = std::thread::Builder::new()
            .name("printer".into())
            .spawn(move || worker.run(rx))
            .expect("the OS refused a thread for the printer worker");
        PrinterWorker { jobs: Some(tx), wipes, abort, current, cutter, thread: Some(thread) }
    }

    /// Queues a job; its progress and end arrive as [`Event::PrinterStatus`].
    pub fn submit(&self, job: PrintJob) {
        let generation = self.wipes.load(Ordering::SeqCst);
        if let Some(tx) = &self.jobs {
            if let Err(mpsc::SendError(Work::Job(mut s))) = tx.send(Work::Job(Box::new(Submitted { job, generation })))
            {
                log::error!("printer worker has stopped; job {} not printed", s.job.issuance_number);
                s.job.document.payload.zeroize();
            }
        }
    }

    /// Queues the operator's test print (a sample page stamped 見本 that no QR verifies); it
    /// reports as a job of [`madoguchi_paper::SAMPLE_NUMBER`].
    pub fn print_sample(&self, day: time::Date) {
        if let Some(tx) = &self.jobs {
            if tx.send(Work::Sample { day }).is_err() {
                log::error!("printer worker has stopped; the sample page is not printed");
            }
        }
    }

    /// Drops the rendered PDF and anything of the resident's held (the session's
    /// `Effect::WipeSecrets`): a job of the ended session that has not started is not printed.
    /// A job already on the line finishes (cutting it off would leave half a certificate in the
    /// tray), and its PDF is wiped when it ends, as every job's is.
    pub fn wipe(&self) {
        self.wipes.fetch_add(1, Ordering::SeqCst);
    }

    /// Stops the job of `issuance_number` (the session's print limit ran out): the line is cut
    /// at once and the job ends as `Failed` once the printer has settled. A job not yet
    /// started is not printed.
    pub fn abort(&self, issuance_number: &str) {
        *self.abort.lock().unwrap_or_else(|e| e.into_inner()) = Some(issuance_number.to_string());
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_deref() == Some(issuance_number) {
            self.cutter.cut();
        }
    }
}

impl Drop for PrinterWorker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The worker thread's state.
struct Worker {
    printer: SerialPrinter,
    renderer: Arc<Renderer>,
    events: EventSink,
    wipes: Arc<AtomicU64>,
    abort: Arc<Mutex<Option<String>>>,
    current: Arc<Mutex<Option<String>>>,
    probe_every: Duration,
    /// The readiness last reported (`None`: not yet).
    ready: Option<bool>,
}

/// The kiosk loop has ended: the worker stops.
struct Gone;

impl Worker {
    fn run(mut self, jobs: Receiver<Work>) {
        let mut next_probe = Instant::now();
        loop {
            if Instant::now() >= next_probe {
                if self.probe().is_err() {
                    return;
                }
                next_probe = Instant::now() + self.probe_every;
            }
            let wait = next_probe.saturating_duration_since(Instant::now());
            match jobs.recv_timeout(wait) {
                Ok(Work::Sample { day }) => {
                    if self.print_sample(day, &jobs).is_err() {
                        return;
                    }
                    next_probe = Instant::now();
                }
                Ok(Work::Job(submitted)) => {
                    let Submitted { mut job, generation } = *submitted;
                    if generation < self.wipes.load(Ordering::SeqCst) {
                        log::info!("print job {} dropped: its session ended before it started", job.issuance_number);
                        job.document.payload.zeroize();
                        continue;
                    }
                    if self.aborted(&job.issuance_number) {
                        log::info!("print job {} dropped: the session gave up on it", job.issuance_number);
                        let number = job.issuance_number.clone();
                        job.document.payload.zeroize();
                        let failed = PrinterEvent::Failed {
                            issuance_number: number,
                            kind: ErrorKind::Timeout,
                            paper: PaperOutcome::Nothing,
                        };
                        if self.send(failed).is_err() {
                            return;
                        }
                        continue;
                    }
                    let number = job.issuance_number.clone();
                    if self.print(job, &jobs).is_err() {
                        return;
                    }
                    if self.aborted(&number) {
                        // The session marked the printer out of service when it gave up on
                        // this job: the next probe says where it stands, changed or not.
                        self.ready = None;
                    }
                    // What the job left behind (a jam, no paper) is reported at once.
                    next_probe = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn aborted(&self, number: &str) -> bool {
        self.abort.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(number)
    }

    fn set_ready(&mut self, ready: bool) -> Result<(), Gone> {
        if self.ready != Some(ready) {
            self.ready = Some(ready);
            self.send(PrinterEvent::Ready(ready))?;
        }
        Ok(())
    }

    /// After a job was cut off: out of service until the printer is idle and its page counter
    /// holds still, then what came out by that counter (never less than the pages it reported).
    /// Jobs that arrive meanwhile are refused with nothing printed.
    fn settle(&mut self, number: &str, e: &PrinterError, jobs: &Receiver<Work>) -> Result<PaperOutcome, Gone> {
        self.set_ready(false)?;
        let mut last = None;
        let mut told = false;
        loop {
            match self.printer.settle(e.pagecount_before(), &mut last) {
                Ok(Some(Some(sheets))) => {
                    let seen = match e.paper() {
                        PaperOutcome::Pages(n) => n,
                        _ => 0,
                    };
                    let sheets = u32::try_from(sheets).unwrap_or(u32::MAX).max(seen);
                    log::warn!(
                        "job {number}: cut off; the printer is idle, its counter says {sheets} sheet(s) came out"
                    );
                    return Ok(PaperOutcome::pages(sheets));
                }
                Ok(Some(None)) => {
                    log::warn!("job {number}: cut off; the printer is idle but keeps no page counter");
                    return Ok(e.paper());
                }
                Ok(None) => {}
                Err(err) => {
                    if !told {
                        log::warn!("job {number}: cut off; waiting for the printer to be idle: {err}");
                        told = true;
                    }
                }
            }
            match jobs.recv_timeout(self.probe_every) {
                Ok(Work::Sample { .. }) => {
                    log::error!("sample page refused: the printer is not settled");
                    self.send(PrinterEvent::Failed {
                        issuance_number: SAMPLE_NUMBER.into(),
                        kind: ErrorKind::Offline,
                        paper: PaperOutcome::Nothing,
                    })?;
                }
                Ok(Work::Job(submitted)) => {
                    let mut job = submitted.job;
                    log::error!("print job {} refused: the printer is not settled", job.issuance_number);
                    job.document.payload.zeroize();
                    let n = job.issuance_number.clone();
                    self.send(PrinterEvent::Failed {
                        issuance_number: n,
                        kind: ErrorKind::Offline,
                        paper: PaperOutcome::Nothing,
                    })?;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(Gone),
            }
        }
    }

    fn send(&self, e: PrinterEvent) -> Result<(), Gone> {
        self.events.send(Event::PrinterStatus(e)).map_err(|_| Gone)
    }

    /// Asks the printer whether it can print; reports a change.
    fn probe(&mut self) -> Result<(), Gone> {
        let ready = match self.printer.status() {
            Ok(_) => true,
            Err(e) => {
                if self.ready != Some(false) {
                    log::warn!("printer not ready: {e}");
                }
                false
            }
        };
        if self.ready != Some(ready) {
            self.ready = Some(ready);
            self.send(PrinterEvent::Ready(ready))?;
        }
        Ok(())
    }

    fn print(&mut self, job: PrintJob, jobs: &Receiver<Work>) -> Result<(), Gone> {
        let PrintJob { issuance_number: number, copies, binding, document } = job;
        // Wiped however this ends.
        let text = Zeroizing::new(document.payload);
        let failed = |kind: ErrorKind, paper: PaperOutcome| PrinterEvent::Failed {
            issuance_number: number.clone(),
            kind,
            paper,
        };
        let doc = match payload::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                // Defensive: the session's document check refuses these before `Print`. The
                // error names a field, never a value.
                log::error!("job {number}: document payload refused ({:?}): {e}", e.kind());
                return self.send(failed(ErrorKind::Protocol, PaperOutcome::Nothing));
            }
        };
        drop(text);
        // The session checked the binding; the job name and copies must be the document's own.
        if doc.issuance.number != number || binding.issuance_number != number || doc.copies != copies {
            log::error!("job {number}: the document's issuance number or copies differ from the job's; not printed");
            return self.send(failed(ErrorKind::Protocol, PaperOutcome::Nothing));
        }
        let rendered = self.renderer.render(&doc.document, &doc.issuer, &doc.issuance);
        drop(doc);
        let (pdf, pages) = match rendered {
            Ok(r) => (Zeroizing::new(r.bytes), r.pages),
            Err(e) => {
                log::error!("job {number}: the document cannot be rendered ({})", render_failure(&e));
                return self.send(failed(ErrorKind::Protocol, PaperOutcome::Nothing));
            }
        };
        self.send_pdf(number, copies, pdf, pages, jobs)
    }

    /// The operator's test print: one sample page, rendered like any certificate.
    fn print_sample(&mut self, day: time::Date, jobs: &Receiver<Work>) -> Result<(), Gone> {
        let doc = Document::Juminhyo(sample::household(2));
        match self.renderer.render(&doc, &sample::issuer(), &sample::sample_issuance(day)) {
            Ok(r) => self.send_pdf(SAMPLE_NUMBER.into(), 1, Zeroizing::new(r.bytes), r.pages, jobs),
            Err(e) => {
                log::error!("the sample page cannot be rendered ({})", render_failure(&e));
                self.send(PrinterEvent::Failed {
                    issuance_number: SAMPLE_NUMBER.into(),
                    kind: ErrorKind::Protocol,
                    paper: PaperOutcome::Nothing,
                })
            }
        }
    }

    /// Sends one rendered PDF as the PJL job `number` and reports its pages and its end.
    fn send_pdf(
        &mut self,
        number: String,
        copies: u8,
        pdf: Zeroizing<Vec<u8>>,
        pages: u32,
        jobs: &Receiver<Work>,
    ) -> Result<(), Gone> {
        let failed = |kind: ErrorKind, paper: PaperOutcome| PrinterEvent::Failed {
            issuance_number: number.clone(),
            kind,
            paper,
        };
        let total = pages.saturating_mul(u32::from(copies));
        log::info!("job {number}: {pages} page(s) × {copies} cop(ies), {} bytes", pdf.len());
        self.send(PrinterEvent::Progress { issuance_number: number.clone(), pages_done: 0, pages_total: total })?;
        let mut gone = Ok(());
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(number.clone());
        let events = &self.events;
        let abort = &self.abort;
        let cancelled = || abort.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(number.as_str());
        let result = self.printer.print_cancellable(
            &number,
            u16::from(copies),
            &pdf,
            pages,
            &mut |done| {
                let progress =
                    PrinterEvent::Progress { issuance_number: number.clone(), pages_done: done, pages_total: total };
                if events.send(Event::PrinterStatus(progress)).is_err() {
                    gone = Err(Gone);
                }
            },
            &cancelled,
        );
        drop(pdf);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        gone?;
        match result {
            Ok(report) => {
                log::info!("job {number}: printer confirmed {} page(s)", report.pages);
                self.send(PrinterEvent::Finished { issuance_number: number, pages: report.pages })
            }
            Err(e) if e.is_stopped() => {
                log::warn!("job {number}: {e}");
                let paper = self.settle(&number, &e, jobs)?;
                self.send(failed(e.kind(), paper))
            }
            Err(e) => {
                log::warn!("job {number}: {e}");
                self.send(failed(e.kind(), e.paper()))
            }
        }
    }
}

/// What kind of rendering failure, without the field text the error carries (it may be the
/// resident's name or address).
fn render_failure(e: &DocumentError) -> &'static str {
    match e {
        DocumentError::Font { .. } => "font",
        DocumentError::UnprintableCharacter { .. } => "a character no font has",
        DocumentError::FieldTooLong { .. } => "a field too long for its box",
        DocumentError::EmptyHousehold => "no persons",
        DocumentError::TaxYearNotOnFile { .. } => "no tax record",
        DocumentError::MissingSealImpression(_) => "no seal impression",
        DocumentError::SealImage { .. } => "seal image",
        DocumentError::OptionNotEnabled { .. } => "option not enabled",
        DocumentError::MissingData { .. } => "missing data",
        DocumentError::InvalidIssuance(_) => "invalid issuance",
        DocumentError::World(_) => "demo world",
        DocumentError::Render(_) => "PDF assembly",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_paper::{FontPaths, FontSet};
    use madoguchi_session::{DocumentBinding, SignedDocument};

    fn job(number: &str, payload: &str) -> PrintJob {
        PrintJob {
            issuance_number: number.into(),
            copies: 1,
            binding: DocumentBinding {
                session_id: "S".into(),
                certificate_fingerprint: "00".repeat(32),
                kiosk_id: "K".into(),
                issuance_number: number.into(),
                document: "juminhyo".into(),
                copies: 1,
            },
            document: SignedDocument {
                payload: payload.into(),
                signature: String::new(),
                key_id: String::new(),
                algorithm: "Ed25519".into(),
            },
        }
    }

    #[test]
    fn without_a_printer_it_reports_not_ready_and_refuses_a_bad_payload_before_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let renderer = Arc::new(Renderer::new(FontSet::load(&FontPaths::default()).expect("fonts")));
        let (tx, rx) = mpsc::channel();
        let worker = PrinterWorker::spawn_probing(
            PrinterConfig::new(dir.path().join("no-printer"), 115_200),
            renderer,
            tx,
            Duration::from_secs(3600),
        );
        let next = || match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Event::PrinterStatus(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(next(), PrinterEvent::Ready(false), "reported once at start");
        worker.submit(job("N-1", "{\"format\": 1}"));
        assert_eq!(
            next(),
            PrinterEvent::Failed {
                issuance_number: "N-1".into(),
                kind: ErrorKind::Protocol,
                paper: PaperOutcome::Nothing
            }
        );
        drop(worker);
        assert!(rx.recv().is_err(), "the worker stopped and sent nothing more (no repeated Ready(false))");
    }
}
