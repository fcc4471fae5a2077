//! One print job as a sans-IO state machine: the I/O edge feeds it what was written, what was
//! received, link changes and the time; it says what to send next and, in the end, the outcome.
//! It reads no clock and touches no device, so every path (jam at the first or last page,
//! paper out mid-job, a printer that vanishes mid-transfer or answers nonsense) is a plain
//! unit test.
//!
//! ```text
//!  Probe ──ready──> Send ──all written──> AwaitEnd ──JOB END, right page count──> Ok
//!    │                │                    │  └─ INFO STATUS poll every few seconds
//!    │ fault/timeout  │ link lost          │ link lost
//!    v                v                    v
//!   Err (nothing)   Err (nothing)        Reconnect ──link back──> Reconcile (PAGECOUNT)
//! ```
//!
//! The paper outcome of a failure follows from where the job was: a printer cannot print a
//! PDF it has not received whole, and with `USTATUS PAGE = ON` it reports every sheet that
//! lands in the output tray. After a printer vanishes holding the whole job, the page counter
//! it reports when it returns (compared with the one read before the job) settles how many
//! sheets came out; if it never returns, the outcome is unknown.

use super::pjl::{self, DeviceStatus, JobSettings, Reply, ReplyReader, StatusClass};
use super::{line_time, ErrorKind, PaperOutcome, PrinterError};
use std::time::{Duration, Instant};

/// How long the driver waits for each thing before giving up. Nothing waits forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the answer to a status query.
    pub reply: Duration,
    /// For the line to take more bytes (flow control may hold it while the printer is busy).
    pub stall: Duration,
    /// From the last byte on the wire to the first page in the output tray.
    pub first_page: Duration,
    /// Between pages, and from the last page to the job-end status.
    pub per_page: Duration,
    /// For a printer that vanished while holding the whole job to come back.
    pub reconnect: Duration,
    /// Between `INFO STATUS` polls while the job prints.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            reply: Duration::from_secs(3),
            stall: Duration::from_secs(15),
            first_page: Duration::from_secs(40),
            per_page: Duration::from_secs(20),
            reconnect: Duration::from_secs(20),
            poll: Duration::from_secs(5),
        }
    }
}

impl Timeouts {
    /// The longest a whole job of `bytes` bytes and `pages` sheets may take at `baud`, from
    /// the first byte of the job to its job end: twice the line time (flow control may halve
    /// the rate), one stall, the first page and every further page. Without it, a printer that
    /// takes a byte now and then (never stalling long enough for `stall`) holds the line for
    /// ever, and the kiosk's own limit runs out while the job is still on the wire.
    pub fn job_bound(&self, bytes: usize, baud: u32, pages: u32) -> Duration {
        line_time(bytes, baud) * 2 + self.stall + self.first_page + self.per_page * pages.saturating_sub(1)
    }
}

/// A job the printer confirmed: its job-end status arrived with the expected page count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub name: String,
    /// Pages the printer reported printed (pages × copies).
    pub pages: u32,
    /// Bytes of the whole job stream (PJL header, PDF, trailer).
    pub bytes: usize,
    /// The printer's status before the job.
    pub status_before: DeviceStatus,
    /// The printer's lifetime page counter before the job, if it reports one.
    pub pagecount_before: Option<u64>,
    /// From the first byte of the job written to the last byte accepted by the line.
    pub written_in: Duration,
    /// From the first byte of the job written to the job-end confirmation.
    pub confirmed_in: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Probe,
    Send,
    AwaitEnd,
    Reconnect,
    Reconcile,
    Done,
}

/// What the machine was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Print,
    StatusOnly,
}

/// The state machine of one job (or of one status query). Its copy of the document (the
/// resident's certificate) is wiped when it is dropped.
#[derive(Debug)]
pub struct JobMachine {
    mode: Mode,
    name: String,
    expected: u32,
    job: Vec<u8>,
    job_len: usize,
    queue: Vec<u8>,
    sent: usize,
    phase: Phase,
    reader: ReplyReader,
    baud: u32,
    t: Timeouts,
    status: Option<DeviceStatus>,
    pagecount: Option<Option<u64>>,
    pages_seen: u32,
    first_byte: Option<Instant>,
    last_byte: Option<Instant>,
    deadline: Instant,
    /// The bound of the whole job ([`Timeouts::job_bound`]), from its first byte; never moved.
    job_deadline: Option<Instant>,
    next_poll: Option<Instant>,
    poll_due_by: Option<Instant>,
    outcome: Option<Result<JobReport, PrinterError>>,
}

impl JobMachine {
    /// A print job: `pages` is the page count of the PDF; the printer must confirm
    /// `pages × copies`. Fails at once (nothing sent) if the job cannot be framed.
    pub fn print(
        settings: &JobSettings,
        pdf: &[u8],
        pages: u32,
        baud: u32,
        timeouts: Timeouts,
        now: Instant,
    ) -> Result<JobMachine, PrinterError> {
        let job = pjl::frame_job(settings, pdf)
            .map_err(|e| PrinterError::new(ErrorKind::Protocol, PaperOutcome::Nothing, e.to_string()))?;
        if pages == 0 {
            return Err(PrinterError::new(
                ErrorKind::Protocol,
                PaperOutcome::Nothing,
                "a document has at least one page",
            ));
        }
        let expected = pages.saturating_mul(u32::from(settings.copies));
        Ok(JobMachine::new(Mode::Print, settings.name.clone(), expected, job, baud, timeouts, now))
    }

    /// A status query only (`INFO STATUS` and `INFO PAGECOUNT`): ends after the answer.
    pub fn status_query(baud: u32, timeouts: Timeouts, now: Instant) -> JobMachine {
        JobMachine::new(Mode::StatusOnly, String::new(), 0, Vec::new(), baud, timeouts, now)
    }

    fn new(mode: Mode, name: String, expected: u32, job: Vec<u8>, baud: u32, t: Timeouts, now: Instant) -> Self {
        JobMachine {
            mode,
            name,
            expected,
            job_len: job.len(),
            job,
            queue: pjl::status_probe(),
            sent: 0,
            phase: Phase::Probe,
            reader: ReplyReader::new(),
            baud,
            t,
            status: None,
            pagecount: None,
            pages_seen: 0,
            first_byte: None,
            last_byte: None,
            deadline: now + t.reply,
            job_deadline: None,
            next_poll: None,
            poll_due_by: None,
            outcome: None,
        }
    }

    /// Bytes to write now (empty when there is nothing to send).
    pub fn transmit(&self) -> &[u8] {
        match self.phase {
            Phase::Done | Phase::Reconnect => &[],
            _ => &self.queue[self.sent..],
        }
    }

    /// Whether the edge should try to reopen a lost line now.
    pub fn reconnecting(&self) -> bool {
        self.phase == Phase::Reconnect
    }

    /// The next moment something times out or a poll is due: the edge may block until then.
    pub fn deadline(&self) -> Instant {
        [Some(self.deadline), self.job_deadline, self.next_poll, self.poll_due_by]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.deadline)
    }

    /// The outcome, once there is one.
    pub fn outcome(&self) -> Option<&Result<JobReport, PrinterError>> {
        self.outcome.as_ref()
    }

    pub fn take_outcome(&mut self) -> Option<Result<JobReport, PrinterError>> {
        self.outcome.take()
    }

    /// Pages the printer has reported landing in the output tray so far.
    pub fn pages_seen(&self) -> u32 {
        self.pages_seen
    }

    /// `n` bytes of [`JobMachine::transmit`] were accepted by the line.
    pub fn on_written(&mut self, n: usize, now: Instant) {
        if n == 0 || matches!(self.phase, Phase::Done | Phase::Reconnect) {
            return;
        }
        self.sent = (self.sent + n).min(self.queue.len());
        if self.phase == Phase::Send {
            self.first_byte.get_or_insert(now);
            self.deadline = now + self.t.stall;
            if self.sent == self.queue.len() {
                self.last_byte = Some(now);
                self.phase = Phase::AwaitEnd;
                // The line (or its buffers) may still hold the whole job: allow its line time.
                let on_wire = now.saturating_duration_since(self.first_byte.unwrap_or(now));
                let residual = line_time(self.job_len, self.baud).saturating_sub(on_wire);
                self.deadline = now + residual + self.t.first_page;
                self.next_poll = Some(now + self.t.poll);
            }
        }
    }

    /// Bytes arrived from the printer.
    pub fn on_received(&mut self, bytes: &[u8], now: Instant) {
        for reply in self.reader.push(bytes) {
            if self.phase == Phase::Done {
                return;
            }
            match reply {
                Ok(r) => self.on_reply(r, now),
                Err(e) => {
                    let paper = self.paper_now_or_unknown();
                    self.fail(PrinterError::new(ErrorKind::Protocol, paper, format!("nonsense from the printer: {e}")));
                }
            }
        }
    }

    fn on_reply(&mut self, reply: Reply, now: Instant) {
        match reply {
            Reply::Status(s) => {
                self.poll_due_by = None;
                self.on_status(s, now);
            }
            Reply::Device(s) => self.on_status(s, now),
            Reply::PageCount(n) => {
                if matches!(self.phase, Phase::Probe | Phase::Reconcile) {
                    self.on_pagecount(Some(n), now);
                }
            }
            Reply::Unsupported(cmd) => {
                if cmd.to_ascii_uppercase().contains("PAGECOUNT")
                    && matches!(self.phase, Phase::Probe | Phase::Reconcile)
                {
                    self.on_pagecount(None, now);
                }
            }
            Reply::Page(n) => {
                if matches!(self.phase, Phase::Send | Phase::AwaitEnd | Phase::Reconcile) {
                    self.pages_seen = self.pages_seen.max(n);
                    if self.phase == Phase::AwaitEnd {
                        self.deadline = now + self.t.per_page;
                    }
                }
            }
            Reply::JobEnd { name, pages } => {
                if name.as_deref() == Some(self.name.as_str())
                    && matches!(self.phase, Phase::AwaitEnd | Phase::Reconcile | Phase::Send)
                {
                    self.on_job_end(pages.unwrap_or(self.pages_seen), now);
                }
            }
            Reply::JobStart { .. } | Reply::Other(_) => {}
        }
    }

    fn on_status(&mut self, s: DeviceStatus, now: Instant) {
        match self.phase {
            Phase::Probe => {
                self.status = Some(s);
                self.probe_complete(now);
            }
            Phase::Reconcile => self.status = Some(s),
            Phase::Send | Phase::AwaitEnd => {
                if s.class() != StatusClass::Ready {
                    let paper = PaperOutcome::pages(self.pages_seen);
                    self.fail(PrinterError::from_status(s, paper));
                }
            }
            Phase::Reconnect | Phase::Done => {}
        }
    }

    fn on_pagecount(&mut self, n: Option<u64>, now: Instant) {
        match self.phase {
            Phase::Probe => {
                self.pagecount = Some(n);
                self.probe_complete(now);
            }
            Phase::Reconcile => {
                let before = self.pagecount.flatten();
                let paper = match (before, n) {
                    (Some(b), Some(a)) if a >= b => PaperOutcome::pages(u32::try_from(a - b).unwrap_or(u32::MAX)),
                    _ => PaperOutcome::Unknown,
                };
                let detail = match (before, n) {
                    (Some(b), Some(a)) => format!(
                        "the printer vanished while holding the whole job and came back; its page counter went \
                         from {b} to {a}"
                    ),
                    _ => "the printer vanished while holding the whole job and came back without a page counter"
                        .to_string(),
                };
                self.fail(PrinterError::new(ErrorKind::Disconnected, paper, detail));
            }
            _ => {}
        }
    }

    fn probe_complete(&mut self, now: Instant) {
        let (Some(status), Some(_)) = (&self.status, &self.pagecount) else { return };
        if self.mode == Mode::StatusOnly {
            if status.class() == StatusClass::Ready {
                let report = self.report(0, now);
                self.finish(Ok(report));
            } else {
                let s = status.clone();
                self.fail(PrinterError::from_status(s, PaperOutcome::Nothing));
            }
            return;
        }
        if status.class() != StatusClass::Ready {
            let s = status.clone();
            self.fail(PrinterError::from_status(s, PaperOutcome::Nothing));
            return;
        }
        self.queue = core::mem::take(&mut self.job);
        self.sent = 0;
        self.phase = Phase::Send;
        self.deadline = now + self.t.stall;
        self.job_deadline = Some(now + self.t.job_bound(self.job_len, self.baud, self.expected));
    }

    fn on_job_end(&mut self, pages: u32, now: Instant) {
        self.pages_seen = self.pages_seen.max(pages);
        if pages == self.expected {
            let report = self.report(pages, now);
            self.finish(Ok(report));
        } else {
            self.fail(PrinterError::new(
                ErrorKind::Protocol,
                PaperOutcome::pages(pages),
                format!("the printer ended the job after {pages} pages, {} were sent", self.expected),
            ));
        }
    }

    fn report(&self, pages: u32, now: Instant) -> JobReport {
        let first = self.first_byte.unwrap_or(now);
        JobReport {
            name: self.name.clone(),
            pages,
            bytes: self.job_len,
            status_before: self.status.clone().unwrap_or(DeviceStatus { code: 0, display: None, online: None }),
            pagecount_before: self.pagecount.flatten(),
            written_in: self.last_byte.unwrap_or(now).saturating_duration_since(first),
            confirmed_in: now.saturating_duration_since(first),
        }
    }

    /// The line is gone (the device vanished, or it could not be opened).
    pub fn on_link_down(&mut self, now: Instant, why: &str) {
        match self.phase {
            Phase::Probe => self.fail(PrinterError::new(
                ErrorKind::Disconnected,
                PaperOutcome::Nothing,
                format!("printer not reachable: {why}"),
            )),
            Phase::Send => {
                let paper = PaperOutcome::pages(self.pages_seen);
                let detail = format!(
                    "printer lost after {} of {} bytes (a PDF is not printed before it is whole): {why}",
                    self.sent,
                    self.queue.len()
                );
                self.fail(PrinterError::new(ErrorKind::Disconnected, paper, detail));
            }
            Phase::AwaitEnd => {
                self.phase = Phase::Reconnect;
                self.deadline = now + self.t.reconnect;
                self.next_poll = None;
                self.poll_due_by = None;
                self.reader = ReplyReader::new();
            }
            Phase::Reconcile => {
                self.phase = Phase::Reconnect;
                self.reader = ReplyReader::new();
            }
            Phase::Reconnect | Phase::Done => {}
        }
    }

    /// The line is back (after [`JobMachine::reconnecting`]).
    pub fn on_link_up(&mut self, now: Instant) {
        if self.phase == Phase::Reconnect {
            self.phase = Phase::Reconcile;
            self.queue = pjl::status_probe();
            self.sent = 0;
            self.deadline = now + self.t.reply;
        }
    }

    /// The kiosk gave up on the job (its own limit ran out): nothing more is sent, and the
    /// outcome says what is known of the paper. The edge must then cut the line (drop what its
    /// buffers still hold) so no further byte of this job reaches the printer, and must not
    /// print again before the printer is idle and its page counter accounts for the job.
    pub fn abort(&mut self, now: Instant, why: &str) {
        let _ = now;
        if self.phase == Phase::Done {
            return;
        }
        let paper = self.paper_now_or_unknown();
        let detail = format!(
            "stopped by the kiosk ({why}) after {} of {} bytes and {} of {} pages",
            if self.phase == Phase::Probe { 0 } else { self.sent.min(self.job_len) },
            self.job_len,
            self.pages_seen,
            self.expected
        );
        self.fail(PrinterError::new(ErrorKind::Timeout, paper, detail).stopped());
    }

    /// The printer's lifetime page counter before the job (from the probe), if it has one.
    pub fn pagecount_before(&self) -> Option<u64> {
        self.pagecount.flatten()
    }

    /// Time passed: deadlines and polls.
    pub fn on_tick(&mut self, now: Instant) {
        if self.phase == Phase::Done {
            return;
        }
        if self.job_deadline.is_some_and(|b| now >= b) {
            let paper = self.paper_now_or_unknown();
            let detail = format!(
                "the job took longer than its bound for {} bytes at {} baud and {} pages; stopped after {} of {} \
                 bytes and {} pages",
                self.job_len,
                self.baud,
                self.expected,
                self.sent.min(self.job_len),
                self.job_len,
                self.pages_seen
            );
            self.fail(PrinterError::new(ErrorKind::Timeout, paper, detail).stopped());
            return;
        }
        if let Some(due) = self.poll_due_by {
            if now >= due {
                let paper = self.paper_now_or_unknown();
                let e = PrinterError::new(ErrorKind::Timeout, paper, "the printer stopped answering status queries");
                self.fail(e.stopped());
                return;
            }
        }
        if now >= self.deadline {
            let (kind, paper, detail) = match self.phase {
                Phase::Probe => {
                    (ErrorKind::Timeout, PaperOutcome::Nothing, "no answer to the status query".to_string())
                }
                Phase::Send => (
                    ErrorKind::Timeout,
                    PaperOutcome::pages(self.pages_seen),
                    format!(
                        "the line took no data for {:?} after {} of {} bytes",
                        self.t.stall,
                        self.sent,
                        self.queue.len()
                    ),
                ),
                Phase::AwaitEnd => (
                    ErrorKind::Timeout,
                    self.paper_now_or_unknown(),
                    format!("no job end after {} of {} pages", self.pages_seen, self.expected),
                ),
                Phase::Reconnect | Phase::Reconcile => (
                    ErrorKind::Disconnected,
                    self.paper_now_or_unknown(),
                    "the printer vanished while holding the whole job and did not come back".to_string(),
                ),
                Phase::Done => return,
            };
            // A job given up on the wire or in the printer may still come out: the edge cuts
            // the line and settles the printer before the next job.
            let stopped = matches!(self.phase, Phase::Send | Phase::AwaitEnd);
            let e = PrinterError::new(kind, paper, detail);
            self.fail(if stopped { e.stopped() } else { e });
            return;
        }
        if self.phase == Phase::AwaitEnd {
            if let Some(at) = self.next_poll {
                if now >= at && self.poll_due_by.is_none() && self.sent == self.queue.len() {
                    self.queue.extend_from_slice(pjl::UEL);
                    self.queue.extend_from_slice(b"@PJL \r\n@PJL INFO STATUS\r\n");
                    self.queue.extend_from_slice(pjl::UEL);
                    self.poll_due_by = Some(now + self.t.reply);
                    self.next_poll = Some(now + self.t.poll);
                }
            }
        }
    }

    /// Where the job stands on paper when the printer's word can no longer be had: pages
    /// reported so far if the job was not complete on the printer, otherwise unknown.
    fn paper_now_or_unknown(&self) -> PaperOutcome {
        match self.phase {
            Phase::Probe => PaperOutcome::Nothing,
            Phase::Send => PaperOutcome::pages(self.pages_seen),
            _ if self.pages_seen >= self.expected && self.expected > 0 => PaperOutcome::Pages(self.pages_seen),
            _ => PaperOutcome::Unknown,
        }
    }

    fn fail(&mut self, e: PrinterError) {
        let before = self.pagecount.flatten();
        self.finish(Err(e.with_pagecount_before(before)));
    }

    fn finish(&mut self, r: Result<JobReport, PrinterError>) {
        self.phase = Phase::Done;
        self.outcome = Some(r);
    }
}

impl Drop for JobMachine {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.job.zeroize();
        self.queue.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: &[u8] = b"@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"00 READY\"\r\nONLINE=TRUE\r\n\x0c\
                           @PJL INFO PAGECOUNT\r\nPAGECOUNT=100\r\n\x0c";

    struct Bench {
        m: JobMachine,
        now: Instant,
        wire: Vec<u8>,
    }

    impl Bench {
        fn new(pages: u32, copies: u16) -> Bench {
            let now = Instant::now();
            let s = JobSettings { name: "R7-000042".into(), copies, tray: "TRAY1".into() };
            let pdf = b"%PDF-1.3\n% a small document\n%%EOF\n".to_vec();
            let m = JobMachine::print(&s, &pdf, pages, 115_200, Timeouts::default(), now).unwrap();
            Bench { m, now, wire: Vec::new() }
        }

        fn at(&mut self, secs: f64) -> Instant {
            self.now += Duration::from_secs_f64(secs);
            self.now
        }

        /// The edge writes everything pending (in slices of `chunk`).
        fn write_all(&mut self, chunk: usize) {
            loop {
                let out = self.m.transmit();
                if out.is_empty() {
                    break;
                }
                let n = out.len().min(chunk);
                self.wire.extend_from_slice(&out[..n]);
                let now = self.at(0.001);
                self.m.on_written(n, now);
            }
        }

        fn recv(&mut self, bytes: &[u8]) {
            let now = self.at(0.01);
            self.m.on_received(bytes, now);
        }

        fn through_probe(&mut self) {
            self.write_all(64);
            assert!(self.m.outcome().is_none());
            self.recv(READY);
            assert!(!self.m.transmit().is_empty(), "job bytes follow a ready probe");
        }

        fn err(&mut self) -> PrinterError {
            match self.m.take_outcome() {
                Some(Err(e)) => e,
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }

    fn page(n: u32) -> Vec<u8> {
        format!("@PJL USTATUS PAGE\r\n{n}\r\n\x0c").into_bytes()
    }

    fn end(name: &str, pages: u32) -> Vec<u8> {
        format!("@PJL USTATUS JOB\r\nEND\r\nNAME=\"{name}\"\r\nPAGES={pages}\r\n\x0c").into_bytes()
    }

    fn device(code: u32, online: bool) -> Vec<u8> {
        format!(
            "@PJL USTATUS DEVICE\r\nCODE={code}\r\nDISPLAY=\"X\"\r\nONLINE={}\r\n\x0c",
            if online { "TRUE" } else { "FALSE" }
        )
        .into_bytes()
    }

    #[test]
    fn a_confirmed_job_reports_its_pages() {
        let mut b = Bench::new(2, 1);
        b.through_probe();
        b.write_all(7);
        assert!(b.wire.windows(8).any(|w| w == b"%PDF-1.3"));
        b.recv(b"@PJL USTATUS JOB\r\nSTART\r\nNAME=\"R7-000042\"\r\n\x0c");
        b.recv(&page(1));
        b.recv(&page(2));
        // A stale job end of another job changes nothing.
        b.recv(&end("R7-000041", 1));
        assert!(b.m.outcome().is_none());
        b.recv(&end("R7-000042", 2));
        let r = b.m.take_outcome().unwrap().unwrap();
        assert_eq!(r.pages, 2);
        assert_eq!(r.pagecount_before, Some(100));
        assert!(r.confirmed_in >= r.written_in);
    }

    #[test]
    fn copies_multiply_the_pages_to_confirm() {
        let mut b = Bench::new(2, 2);
        b.through_probe();
        b.write_all(1000);
        b.recv(&end("R7-000042", 2));
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert_eq!(e.paper(), PaperOutcome::Pages(2));
        let mut b = Bench::new(2, 2);
        b.through_probe();
        b.write_all(1000);
        b.recv(&end("R7-000042", 4));
        assert_eq!(b.m.take_outcome().unwrap().unwrap().pages, 4);
    }

    #[test]
    fn jam_at_the_first_page_means_no_paper() {
        let mut b = Bench::new(3, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(&device(42000, false));
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::Jam);
        assert_eq!(e.paper(), PaperOutcome::Nothing);
        assert_eq!(e.status().map(|s| s.code), Some(42000));
    }

    #[test]
    fn jam_at_the_last_page_keeps_the_pages_before_it() {
        let mut b = Bench::new(3, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(&page(1));
        b.recv(&page(2));
        b.recv(&device(42101, false));
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::Jam);
        assert_eq!(e.paper(), PaperOutcome::Pages(2));
        assert_eq!(e.paper().came_out(), Some(true));
    }

    #[test]
    fn paper_out_mid_job() {
        let mut b = Bench::new(4, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(&page(1));
        b.recv(&device(41201, false));
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::PaperOut);
        assert_eq!(e.paper(), PaperOutcome::Pages(1));
    }

    #[test]
    fn a_printer_not_ready_gets_nothing() {
        for (code, online, kind) in [
            (40021, false, ErrorKind::CoverOpen),
            (41000, false, ErrorKind::PaperOut),
            (42000, false, ErrorKind::Jam),
            (10001, false, ErrorKind::Offline),
        ] {
            let now = Instant::now();
            let s = JobSettings { name: "N1".into(), copies: 1, tray: "TRAY1".into() };
            let mut m = JobMachine::print(&s, b"%PDF-1.3\n", 1, 115_200, Timeouts::default(), now).unwrap();
            let probe_len = m.transmit().len();
            m.on_written(probe_len, now);
            let reply = format!(
                "@PJL INFO STATUS\r\nCODE={code}\r\nONLINE={}\r\n\x0c@PJL INFO PAGECOUNT\r\n5\r\n\x0c",
                if online { "TRUE" } else { "FALSE" }
            );
            m.on_received(reply.as_bytes(), now);
            assert!(m.transmit().is_empty(), "no job bytes to a printer that is not ready");
            let e = m.take_outcome().unwrap().unwrap_err();
            assert_eq!((e.kind(), e.paper()), (kind, PaperOutcome::Nothing), "{code}");
        }
    }

    #[test]
    fn vanishing_mid_transfer_means_no_paper() {
        let mut b = Bench::new(1, 1);
        b.through_probe();
        let out = b.m.transmit().len();
        b.m.on_written(out / 2, b.now);
        let now = b.at(0.1);
        b.m.on_link_down(now, "EIO");
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::Disconnected);
        assert_eq!(e.paper(), PaperOutcome::Nothing);
    }

    #[test]
    fn vanishing_after_the_whole_job_is_reconciled_by_the_page_counter() {
        // The printer comes back and its counter moved by one page of two.
        let mut b = Bench::new(2, 1);
        b.through_probe();
        b.write_all(1000);
        let now = b.at(0.5);
        b.m.on_link_down(now, "EIO");
        assert!(b.m.outcome().is_none());
        assert!(b.m.reconnecting());
        assert!(b.m.transmit().is_empty());
        let now = b.at(3.0);
        b.m.on_tick(now);
        b.m.on_link_up(now);
        let probe = b.m.transmit().to_vec();
        assert!(probe.windows(14).any(|w| w == b"INFO PAGECOUNT"));
        b.m.on_written(probe.len(), now);
        b.recv(b"@PJL INFO STATUS\r\nCODE=10001\r\nONLINE=TRUE\r\n\x0c@PJL INFO PAGECOUNT\r\nPAGECOUNT=101\r\n\x0c");
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::Disconnected);
        assert_eq!(e.paper(), PaperOutcome::Pages(1));
    }

    #[test]
    fn a_printer_that_never_returns_leaves_the_outcome_unknown() {
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.write_all(1000);
        let now = b.at(0.1);
        b.m.on_link_down(now, "EIO");
        let now = b.at(19.0);
        b.m.on_tick(now);
        assert!(b.m.outcome().is_none());
        let now = b.at(2.0);
        b.m.on_tick(now);
        let e = b.err();
        assert_eq!(e.kind(), ErrorKind::Disconnected);
        assert_eq!(e.paper(), PaperOutcome::Unknown);
        assert_eq!(e.paper().came_out(), None);
    }

    #[test]
    fn a_job_end_after_a_short_glitch_still_confirms() {
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.write_all(1000);
        let now = b.at(0.1);
        b.m.on_link_down(now, "EIO");
        let now = b.at(0.5);
        b.m.on_link_up(now);
        b.recv(&end("R7-000042", 1));
        assert_eq!(b.m.take_outcome().unwrap().unwrap().pages, 1);
    }

    #[test]
    fn nonsense_replies_are_protocol_errors() {
        // At the probe: nothing was sent, nothing printed.
        let mut b = Bench::new(1, 1);
        b.write_all(64);
        b.recv(b"+++ATH0 NO CARRIER\x0c");
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Protocol, PaperOutcome::Nothing));
        // After the whole job: the printer can no longer be believed, paper unknown.
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(b"@PJL USTATUS PAGE\r\nfish\r\n\x0c");
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Protocol, PaperOutcome::Unknown));
        // A stream without form feeds is cut off at the block limit.
        let mut b = Bench::new(1, 1);
        b.write_all(64);
        b.recv(&vec![b'Z'; pjl::MAX_BLOCK + 1]);
        assert_eq!(b.err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn silence_times_out_at_every_phase() {
        // No answer to the probe.
        let mut b = Bench::new(1, 1);
        b.write_all(64);
        let now = b.at(3.5);
        b.m.on_tick(now);
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Timeout, PaperOutcome::Nothing));
        // Flow control holds the line mid-job.
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.m.on_written(3, b.now);
        let now = b.at(16.0);
        b.m.on_tick(now);
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Timeout, PaperOutcome::Nothing));
        // Whole job sent, printer answers polls but never prints.
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.write_all(1000);
        let mut t = 0.0;
        while b.m.outcome().is_none() {
            let now = b.at(1.0);
            t += 1.0;
            b.m.on_tick(now);
            if !b.m.transmit().is_empty() {
                b.write_all(1000);
                b.recv(b"@PJL INFO STATUS\r\nCODE=10023\r\nONLINE=TRUE\r\n\x0c");
            }
            assert!(t < 120.0, "never timed out");
        }
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Timeout, PaperOutcome::Unknown));
        assert!(t > 39.0, "{t}");
    }

    #[test]
    fn a_printer_that_stops_answering_polls_times_out_early() {
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.write_all(1000);
        let now = b.at(5.0);
        b.m.on_tick(now);
        let poll = b.m.transmit().to_vec();
        assert!(poll.windows(11).any(|w| w == b"INFO STATUS"), "a status poll is due");
        b.write_all(1000);
        let now = b.at(3.5);
        b.m.on_tick(now);
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Timeout, PaperOutcome::Unknown));
    }

    #[test]
    fn a_fault_reported_by_a_poll_ends_the_job() {
        let mut b = Bench::new(2, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(&page(1));
        let now = b.at(6.0);
        b.m.on_tick(now);
        b.write_all(1000);
        b.recv(b"@PJL INFO STATUS\r\nCODE=40021\r\nONLINE=FALSE\r\n\x0c");
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::CoverOpen, PaperOutcome::Pages(1)));
    }

    #[test]
    fn a_trickling_printer_is_bounded_by_the_job_size() {
        // A printer that takes a byte every ten seconds never stalls the line for `stall`, so
        // only the whole job's bound stops it (the Yokohama pattern: the job kept printing).
        let mut b = Bench::new(1, 1);
        b.through_probe();
        let bound = Timeouts::default().job_bound(b.m.transmit().len(), 115_200, 1);
        let mut t = 0.0;
        while b.m.outcome().is_none() {
            let now = b.at(10.0);
            t += 10.0;
            b.m.on_written(1, now);
            b.m.on_tick(now);
            assert!(t < 600.0, "a trickling job was never stopped");
        }
        assert!(t >= bound.as_secs_f64() - 10.0 && t <= bound.as_secs_f64() + 10.0, "{t} vs {bound:?}");
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Timeout, PaperOutcome::Nothing));
        assert!(e.is_stopped(), "the edge must cut the line");
        assert_eq!(e.pagecount_before(), Some(100));
        // The bound grows with the job and shrinks with the baud rate.
        let t = Timeouts::default();
        assert!(t.job_bound(1_000_000, 9600, 1) > t.job_bound(1_000_000, 115_200, 1));
        assert!(t.job_bound(10_000, 115_200, 4) > t.job_bound(10_000, 115_200, 1));
        assert!(t.job_bound(1_000_000, 9600, 1) > Duration::from_secs(2000));
    }

    #[test]
    fn an_aborted_job_sends_nothing_more_and_says_what_is_known() {
        // Mid-transfer: the PDF never arrived whole, so nothing came out.
        let mut b = Bench::new(2, 1);
        b.through_probe();
        let half = b.m.transmit().len() / 2;
        b.m.on_written(half, b.now);
        let now = b.at(1.0);
        b.m.abort(now, "the kiosk's print limit ran out");
        assert!(b.m.transmit().is_empty(), "no byte of the job after the abort");
        let e = b.err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Timeout, PaperOutcome::Nothing));
        assert!(e.is_stopped());
        // Whole job on the printer, one page of two out: unknown until the printer is settled.
        let mut b = Bench::new(2, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(&page(1));
        let now = b.at(1.0);
        b.m.abort(now, "limit");
        let e = b.err();
        assert_eq!((e.kind(), e.paper(), e.is_stopped()), (ErrorKind::Timeout, PaperOutcome::Unknown, true));
        assert_eq!(e.pagecount_before(), Some(100));
        // An ordinary failure is not a cut-off job.
        let mut b = Bench::new(1, 1);
        b.through_probe();
        b.write_all(1000);
        b.recv(&device(42000, false));
        assert!(!b.err().is_stopped());
    }

    #[test]
    fn status_query_alone() {
        let now = Instant::now();
        let mut m = JobMachine::status_query(115_200, Timeouts::default(), now);
        let n = m.transmit().len();
        m.on_written(n, now);
        m.on_received(b"@PJL INFO STATUS\r\nCODE=10001\r\nONLINE=TRUE\r\n\x0c@PJL INFO PAGECOUNT\r\n?\r\n\x0c", now);
        let r = m.take_outcome().unwrap().unwrap();
        assert_eq!(r.status_before.code, 10001);
        assert_eq!(r.pagecount_before, None);
    }

    #[test]
    fn a_job_that_cannot_be_framed_is_refused_before_sending() {
        let s = JobSettings { name: "bad\"name".into(), copies: 1, tray: "TRAY1".into() };
        let e = JobMachine::print(&s, b"%PDF-1.3", 1, 9600, Timeouts::default(), Instant::now()).unwrap_err();
        assert_eq!((e.kind(), e.paper()), (ErrorKind::Protocol, PaperOutcome::Nothing));
    }
}
