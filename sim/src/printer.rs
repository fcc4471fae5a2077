//! `madoguchi-sim printer`: a PDF laser printer that speaks PJL on a pseudo-terminal.
//!
//! It creates a pty pair, links the slave side at `--link` (the "device path" the kiosk
//! opens), reads at the line rate of `--baud` (8N1: baud/10 bytes a second, which a pty does
//! not enforce by itself), parses the PJL stream, checks each PDF with `qpdf --check` and
//! counts its pages, spools it as `SPOOL/<job name>.pdf`, and answers `INFO STATUS`,
//! `INFO PAGECOUNT` and the unsolicited `USTATUS JOB / PAGE / DEVICE` messages. Each job
//! also appends one JSON line to `SPOOL/journal.jsonl` saying what came out.
//!
//! Faults, from `--fault` or as lines on the `--control` FIFO:
//!
//! | spec | meaning |
//! |---|---|
//! | `jam`, `paper-out`, `cover-open`, `offline` | that state at once |
//! | `vanish` | the device disappears now (link removed, pty closed) for `--vanish-secs` |
//! | `nonsense` | from now on every reply is line noise instead of PJL (until `clear`) |
//! | `slow` | from now on the printer takes data at a trickle (one byte at a time, a few a second; until `clear`): a job creeps along without ever stalling the line, and a status query is not answered in time |
//! | `clear` | back to ready |
//! | `KIND@job=N` | during job N (counted from 1 since start): at its first page; `vanish`: mid-transfer |
//! | `KIND@job` | the same for the next job |
//! | `KIND@page=P`, `KIND@page=last` | at page P (or the last page) of the next job |
//! | `KIND@job=N,page=P` | at page P of job N (`vanish`: right after page P came out) |
//!
//! A jam, paper-out, cover-open or offline stops the job where it is (pages before it came
//! out), reports the device status and stays until `clear`. `slow@job` turns slow when the next
//! job starts. A job whose data ends (a UEL) without its `EOJ`, followed by other commands, was
//! cut off by the host: it is abandoned, nothing of it printed (journal outcome `abandoned`). A vanished printer comes back as
//! after a power cycle: ready, status reporting off, its page counter kept.
//!
//! Standard output gets `ready <pty path>` each time the device (re)appears and `vanished`
//! when it goes, so tests can wait for it.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Universal Exit Language.
const UEL: &[u8] = b"\x1B%-12345X";
/// Bytes read per throttled read.
const READ_CHUNK: usize = 64;
/// A `vanish@job` strikes after this many bytes of the job's PDF have arrived.
const VANISH_AFTER_BYTES: usize = 1024;
/// Bytes a second a `slow` printer takes, one at a time: a status query (64 bytes) takes far
/// longer than any host waits for its answer.
const SLOW_BYTES_PER_SEC: f64 = 4.0;

#[derive(clap::Args, Debug, Clone)]
pub struct PrinterArgs {
    /// Path of the symlink to the pseudo-terminal (what the kiosk opens as its serial port).
    #[arg(long)]
    pub link: PathBuf,
    /// Line rate to simulate (8N1: baud/10 bytes per second).
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Directory for spooled PDFs and `journal.jsonl`.
    #[arg(long)]
    pub spool: PathBuf,
    /// A fault to inject (repeatable): jam|paper-out|cover-open|offline|vanish|nonsense|slow, with
    /// `@job=N`, `@job`, `@page=P|last` or `@job=N,page=P`.
    #[arg(long = "fault")]
    pub faults: Vec<FaultSpec>,
    /// A FIFO (created if missing) that takes one fault spec or `clear` per line.
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// Seconds to print one page.
    #[arg(long, default_value_t = 0.0)]
    pub page_secs: f64,
    /// Seconds a vanished printer stays away.
    #[arg(long, default_value_t = 2.0)]
    pub vanish_secs: f64,
    /// The lifetime page counter at start.
    #[arg(long, default_value_t = 1000)]
    pub pagecount: u64,
}

/// A fault kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Jam,
    PaperOut,
    CoverOpen,
    Offline,
    Vanish,
    Nonsense,
    /// The printer takes data at a trickle.
    Slow,
}

impl FaultKind {
    /// Status code, display text (what a real printer's panel shows).
    fn status(self) -> (u32, &'static str) {
        match self {
            FaultKind::Jam => (42000, "13.00 PAPER JAM"),
            FaultKind::PaperOut => (41000, "LOAD TRAY 1 A4"),
            FaultKind::CoverOpen => (40021, "CLOSE FRONT DOOR"),
            FaultKind::Offline => (40079, "OFFLINE"),
            FaultKind::Vanish | FaultKind::Nonsense | FaultKind::Slow => (10001, "00 READY"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            FaultKind::Jam => "jam",
            FaultKind::PaperOut => "paper-out",
            FaultKind::CoverOpen => "cover-open",
            FaultKind::Offline => "offline",
            FaultKind::Vanish => "vanish",
            FaultKind::Nonsense => "nonsense",
            FaultKind::Slow => "slow",
        }
    }
}

/// Which page of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAt {
    Nth(u32),
    Last,
}

/// A parsed `--fault` / control line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultSpec {
    /// `clear`: back to ready.
    Clear,
    /// A fault at once.
    Now(FaultKind),
    /// A fault during a job: `job` None = the next job; `page` None = first page (vanish:
    /// mid-transfer).
    During { kind: FaultKind, job: Option<u32>, page: Option<PageAt> },
}

impl FromStr for FaultSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "clear" {
            return Ok(FaultSpec::Clear);
        }
        let (kind, when) = match s.split_once('@') {
            Some((k, w)) => (k, Some(w)),
            None => (s, None),
        };
        let kind = match kind {
            "jam" => FaultKind::Jam,
            "paper-out" => FaultKind::PaperOut,
            "cover-open" => FaultKind::CoverOpen,
            "offline" => FaultKind::Offline,
            "vanish" => FaultKind::Vanish,
            "nonsense" => FaultKind::Nonsense,
            "slow" => FaultKind::Slow,
            other => {
                return Err(format!(
                    "unknown fault {other:?} (jam, paper-out, cover-open, offline, vanish, nonsense, slow, clear)"
                ))
            }
        };
        let Some(when) = when else { return Ok(FaultSpec::Now(kind)) };
        let (mut job, mut page) = (None, None);
        for part in when.split(',') {
            match part.split_once('=') {
                None if part == "job" => {}
                Some(("job", n)) => {
                    job = Some(n.parse::<u32>().ok().filter(|&n| n > 0).ok_or(format!("bad job number {n:?}"))?)
                }
                Some(("page", "last")) => page = Some(PageAt::Last),
                Some(("page", n)) => {
                    page = Some(PageAt::Nth(
                        n.parse::<u32>().ok().filter(|&n| n > 0).ok_or(format!("bad page number {n:?}"))?,
                    ))
                }
                _ => return Err(format!("bad fault timing {part:?} (job=N, job, page=P, page=last)")),
            }
        }
        Ok(FaultSpec::During { kind, job, page })
    }
}

/// A scheduled fault, bound to a job number once that job starts.
#[derive(Debug, Clone)]
struct Pending {
    kind: FaultKind,
    job: Option<u32>,
    page: Option<PageAt>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Ustatus {
    job: bool,
    device: bool,
    page: bool,
}

/// State shared by the line reader, the print engine and the control FIFO.
struct Shared {
    fault: Option<FaultKind>,
    printing: bool,
    pagecount: u64,
    ustatus: Ustatus,
    pending: Vec<Pending>,
    jobs_started: u32,
    epoch: u64,
    writer: Option<File>,
    /// Answering line noise instead of PJL.
    babble: bool,
    /// Taking data at a trickle (`slow`).
    slow: bool,
}

impl Shared {
    fn send(&mut self, bytes: &[u8]) {
        let bytes: &[u8] = if self.babble { b"\x7F#@!? +++ATH0 NO CARRIER ~~\r\n\x0c" } else { bytes };
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.write_all(bytes) {
                log::warn!("printer sim: reply lost: {e}");
            }
        }
    }

    fn status_block(&self, header: &str) -> String {
        let (code, display, online) = match self.fault {
            Some(k) => {
                let (c, d) = k.status();
                (c, d, false)
            }
            None if self.printing => (10023, "15 PRINTING", true),
            None => (10001, "00 READY", true),
        };
        format!(
            "{header}\r\nCODE={code}\r\nDISPLAY=\"{display}\"\r\nONLINE={}\r\n\x0c",
            if online { "TRUE" } else { "FALSE" }
        )
    }

    fn device_status(&mut self) {
        if self.ustatus.device {
            let b = self.status_block("@PJL USTATUS DEVICE");
            self.send(b.as_bytes());
        }
    }

    /// Takes the scheduled fault for this job at this page, if any.
    fn take_fault(&mut self, job: u32, page: Option<u32>, last: bool, kinds: &[FaultKind]) -> Option<FaultKind> {
        let i = self.pending.iter().position(|p| {
            p.job == Some(job)
                && kinds.contains(&p.kind)
                && match (p.page, page) {
                    (None, None) => true,
                    (Some(PageAt::Nth(n)), Some(at)) => n == at,
                    (Some(PageAt::Last), Some(_)) => last,
                    _ => false,
                }
        })?;
        Some(self.pending.remove(i).kind)
    }
}

struct Sim {
    args: PrinterArgs,
    shared: Mutex<Shared>,
    vanish_now: AtomicBool,
    shutdown: Arc<AtomicBool>,
    journal: Mutex<()>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn apply(&self, spec: FaultSpec) {
        let mut sh = self.lock();
        match spec {
            FaultSpec::Clear => {
                sh.fault = None;
                sh.babble = false;
                sh.slow = false;
                sh.device_status();
                log::info!("printer sim: cleared");
            }
            FaultSpec::Now(FaultKind::Vanish) => self.vanish_now.store(true, Ordering::SeqCst),
            FaultSpec::Now(FaultKind::Nonsense) => sh.babble = true,
            FaultSpec::Now(FaultKind::Slow) => sh.slow = true,
            FaultSpec::Now(kind) => {
                sh.fault = Some(kind);
                sh.device_status();
                log::info!("printer sim: {} now", kind.name());
            }
            FaultSpec::During { kind, job, page } => {
                let page = match (kind, page) {
                    (FaultKind::Vanish | FaultKind::Nonsense | FaultKind::Slow, p) => p,
                    (_, None) => Some(PageAt::Nth(1)),
                    (_, p) => p,
                };
                sh.pending.push(Pending { kind, job, page });
            }
        }
    }

    fn journal(&self, entry: serde_json::Value) {
        let _guard = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.args.spool.join("journal.jsonl");
        let line = format!("{entry}\n");
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = r {
            log::error!("printer sim: cannot write {}: {e}", path.display());
        }
    }
}

/// A job received whole, handed from the line reader to the print engine.
struct ReceivedJob {
    number: u32,
    name: String,
    pdf: Vec<u8>,
    copies: u32,
    paper: Option<String>,
    tray: Option<String>,
    receive_secs: f64,
    epoch: u64,
}

/// Runs the simulator until SIGTERM/SIGINT. Returns an exit code.
pub fn run(args: PrinterArgs) -> u8 {
    if let Err(e) = std::fs::create_dir_all(&args.spool) {
        eprintln!("madoguchi-sim printer: cannot create {}: {e}", args.spool.display());
        return 2;
    }
    if args.baud < 300 {
        eprintln!("madoguchi-sim printer: baud {} is too low", args.baud);
        return 2;
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&shutdown)) {
            eprintln!("madoguchi-sim printer: cannot handle signals: {e}");
            return 1;
        }
    }
    let sim = Arc::new(Sim {
        shared: Mutex::new(Shared {
            fault: None,
            printing: false,
            pagecount: args.pagecount,
            ustatus: Ustatus::default(),
            pending: Vec::new(),
            jobs_started: 0,
            epoch: 0,
            writer: None,
            babble: false,
            slow: false,
        }),
        vanish_now: AtomicBool::new(false),
        shutdown,
        journal: Mutex::new(()),
        args,
    });
    for f in sim.args.faults.clone() {
        sim.apply(f);
    }
    if let Some(fifo) = sim.args.control.clone() {
        if let Err(e) = start_control(&fifo, Arc::clone(&sim)) {
            eprintln!("madoguchi-sim printer: control FIFO {}: {e}", fifo.display());
            return 2;
        }
    }
    let (tx, rx) = mpsc::channel::<ReceivedJob>();
    {
        let sim = Arc::clone(&sim);
        std::thread::spawn(move || engine(&sim, rx));
    }
    loop {
        match serve_epoch(&sim, &tx) {
            Ok(EpochEnd::Shutdown) => break,
            Ok(EpochEnd::Vanished) => {
                println!("vanished");
                let _ = std::io::stdout().flush();
                let until = Instant::now() + Duration::from_secs_f64(sim.args.vanish_secs.max(0.0));
                while Instant::now() < until && !sim.shutdown.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if sim.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let mut sh = sim.lock();
                // Back as after a power cycle.
                sh.fault = None;
                sh.ustatus = Ustatus::default();
            }
            Err(e) => {
                eprintln!("madoguchi-sim printer: {e}");
                let _ = std::fs::remove_file(&sim.args.link);
                return 1;
            }
        }
    }
    let _ = std::fs::remove_file(&sim.args.link);
    0
}

enum EpochEnd {
    Shutdown,
    Vanished,
}

/// One appearance of the device: a fresh pty linked at `--link`, served until it vanishes.
fn serve_epoch(sim: &Arc<Sim>, jobs: &mpsc::Sender<ReceivedJob>) -> Result<EpochEnd, String> {
    let pty = nix::pty::openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
    let mut t = tcgetattr(&pty.slave).map_err(|e| format!("tcgetattr: {e}"))?;
    cfmakeraw(&mut t);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &t).map_err(|e| format!("tcsetattr: {e}"))?;
    let slave_path = nix::unistd::ttyname(&pty.slave).map_err(|e| format!("ttyname: {e}"))?;
    // Keep our own slave descriptor open: the kiosk may close and reopen the port without
    // the master side seeing a hangup.
    let _slave = pty.slave;
    let master = File::from(pty.master);
    let writer = master.try_clone().map_err(|e| format!("dup: {e}"))?;
    let epoch = {
        let mut sh = sim.lock();
        sh.epoch += 1;
        sh.writer = Some(writer);
        sh.epoch
    };
    relink(&slave_path, &sim.args.link)?;
    println!("ready {}", slave_path.display());
    let _ = std::io::stdout().flush();
    log::info!("printer sim: {} -> {} at {} baud", sim.args.link.display(), slave_path.display(), sim.args.baud);

    let mut master = master;
    let mut parser = PjlParser::default();
    let mut job: Option<JobInProgress> = None;
    let line_rate = f64::from(sim.args.baud) / 10.0;
    let mut next_read = Instant::now();
    let mut buf = [0u8; READ_CHUNK];
    let end = loop {
        if sim.shutdown.load(Ordering::SeqCst) {
            break EpochEnd::Shutdown;
        }
        if sim.vanish_now.swap(false, Ordering::SeqCst) {
            break EpochEnd::Vanished;
        }
        let readable = {
            let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(50u16)) {
                Ok(n) if n > 0 => fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLIN)),
                Ok(_) => false,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(format!("poll: {e}")),
            }
        };
        if !readable {
            continue;
        }
        // Throttle to the line rate: each chunk "occupies the wire" for its bytes' time.
        let now = Instant::now();
        if next_read > now {
            std::thread::sleep(next_read - now);
        }
        let started = next_read.max(now);
        let slow = sim.lock().slow;
        let (rate, chunk) = if slow { (SLOW_BYTES_PER_SEC, 1) } else { (line_rate, READ_CHUNK) };
        let n = match master.read(&mut buf[..chunk]) {
            Ok(0) => continue,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: no slave open (cannot happen while we hold one); treat as transient.
            Err(e) => {
                log::warn!("printer sim: read: {e}");
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        next_read = started + Duration::from_secs_f64(n as f64 / rate);
        for ev in parser.push(&buf[..n], Instant::now()) {
            handle(sim, ev, &mut job, epoch, jobs);
        }
        if let (Some(len), Some(j)) = (parser.data_len(), job.as_ref()) {
            if len >= VANISH_AFTER_BYTES && sim.lock().take_fault(j.number, None, false, &[FaultKind::Vanish]).is_some()
            {
                log::info!("printer sim: vanishing mid-transfer of job {} after {len} bytes", j.number);
                sim.journal(serde_json::json!({
                    "job": j.name, "number": j.number, "outcome": "vanished", "printed": 0,
                    "note": format!("vanished after {len} bytes of the PDF"),
                }));
                break EpochEnd::Vanished;
            }
        }
    };
    sim.lock().writer = None;
    let _ = std::fs::remove_file(&sim.args.link);
    Ok(end)
}

/// Points `link` at `target` atomically (a new symlink renamed over the old one).
fn relink(target: &Path, link: &Path) -> Result<(), String> {
    let tmp = link.with_extension("link-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| format!("symlink {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, link).map_err(|e| format!("rename to {}: {e}", link.display()))
}

#[derive(Debug)]
struct JobInProgress {
    number: u32,
    name: String,
    copies: u32,
    paper: Option<String>,
    tray: Option<String>,
    pdf: Option<(Vec<u8>, f64)>,
}

fn handle(sim: &Arc<Sim>, ev: Event, job: &mut Option<JobInProgress>, epoch: u64, jobs: &mpsc::Sender<ReceivedJob>) {
    match ev {
        Event::Command(line) => command(sim, &line, job, epoch, jobs),
        Event::Data { pdf, secs } => {
            let j = job.get_or_insert_with(|| {
                let mut sh = sim.lock();
                sh.jobs_started += 1;
                JobInProgress {
                    number: sh.jobs_started,
                    name: format!("unnamed-{}", sh.jobs_started),
                    copies: 1,
                    paper: None,
                    tray: None,
                    pdf: None,
                }
            });
            j.pdf = Some((pdf, secs));
        }
    }
}

fn command(sim: &Arc<Sim>, line: &str, job: &mut Option<JobInProgress>, epoch: u64, jobs: &mpsc::Sender<ReceivedJob>) {
    let upper = line.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    let value = || line.split_once('=').map(|(_, v)| v.trim().trim_matches('"').to_string());
    // Data ended without its EOJ and the host goes on with something else: it cut the job off.
    let cut_off = job.as_ref().is_some_and(|j| j.pdf.is_some())
        && !matches!(words.as_slice(), ["@PJL"] | ["@PJL", "EOJ", ..] | ["@PJL", "COMMENT", ..]);
    if cut_off {
        if let Some(j) = job.take() {
            let bytes = j.pdf.as_ref().map_or(0, |(p, _)| p.len());
            log::info!("printer sim: job {} cut off by the host after {bytes} bytes: abandoned", j.number);
            sim.journal(serde_json::json!({
                "job": j.name, "number": j.number, "bytes": bytes, "outcome": "abandoned", "printed": 0,
            }));
        }
    }
    let mut sh = sim.lock();
    match words.as_slice() {
        ["@PJL"] | ["@PJL", "COMMENT", ..] | ["@PJL", "ENTER", ..] => {}
        ["@PJL", "INFO", "STATUS"] => {
            let b = sh.status_block("@PJL INFO STATUS");
            sh.send(b.as_bytes());
        }
        ["@PJL", "INFO", "PAGECOUNT"] => {
            let b = format!("@PJL INFO PAGECOUNT\r\nPAGECOUNT={}\r\n\x0c", sh.pagecount);
            sh.send(b.as_bytes());
        }
        ["@PJL", "INFO", "ID"] => sh.send(b"@PJL INFO ID\r\n\"MADOGUCHI SIMULATED PDF PRINTER\"\r\n\x0c"),
        ["@PJL", "ECHO", ..] => {
            let b = format!("{line}\r\n\x0c");
            sh.send(b.as_bytes());
        }
        ["@PJL", "USTATUSOFF"] => sh.ustatus = Ustatus::default(),
        ["@PJL", "USTATUS", what, ..] => {
            let on = value().is_some_and(|v| !v.eq_ignore_ascii_case("OFF"));
            match *what {
                "JOB" => sh.ustatus.job = on,
                "DEVICE" => sh.ustatus.device = on,
                "PAGE" => sh.ustatus.page = on,
                _ => {}
            }
        }
        ["@PJL", "JOB", ..] => {
            sh.jobs_started += 1;
            let number = sh.jobs_started;
            let name = quoted(line).unwrap_or_else(|| format!("unnamed-{number}"));
            for p in sh.pending.iter_mut().filter(|p| p.job.is_none()) {
                p.job = Some(number);
            }
            if sh.take_fault(number, None, false, &[FaultKind::Nonsense]).is_some() {
                sh.babble = true;
            }
            if sh.take_fault(number, None, false, &[FaultKind::Slow]).is_some() {
                log::info!("printer sim: slow from job {number} on");
                sh.slow = true;
            }
            if sh.ustatus.job {
                let b = format!("@PJL USTATUS JOB\r\nSTART\r\nNAME=\"{name}\"\r\n\x0c");
                sh.send(b.as_bytes());
            }
            *job = Some(JobInProgress { number, name, copies: 1, paper: None, tray: None, pdf: None });
        }
        ["@PJL", "SET", key, ..] => {
            if let Some(j) = job.as_mut() {
                let key = key.split('=').next().unwrap_or_default();
                match key {
                    "QTY" | "COPIES" => j.copies = value().and_then(|v| v.parse().ok()).unwrap_or(1).max(1),
                    "PAPER" => j.paper = value(),
                    "MEDIASOURCE" => j.tray = value(),
                    _ => {}
                }
            }
        }
        ["@PJL", "EOJ", ..] => {
            drop(sh);
            if let Some(j) = job.take() {
                match j.pdf {
                    Some((pdf, secs)) => {
                        let _ = jobs.send(ReceivedJob {
                            number: j.number,
                            name: j.name,
                            pdf,
                            copies: j.copies,
                            paper: j.paper,
                            tray: j.tray,
                            receive_secs: secs,
                            epoch,
                        });
                    }
                    None => sim.journal(serde_json::json!({
                        "job": j.name, "number": j.number, "outcome": "empty", "printed": 0,
                    })),
                }
            }
        }
        _ => {
            let b = format!("{line}\r\n?\r\n\x0c");
            sh.send(b.as_bytes());
        }
    }
}

/// The first double-quoted string of a command line (`NAME = "..."`).
fn quoted(line: &str) -> Option<String> {
    let (_, rest) = line.split_once('"')?;
    let (name, _) = rest.split_once('"')?;
    Some(name.to_string())
}

/// The print engine: checks, spools and "prints" each job, page by page.
fn engine(sim: &Arc<Sim>, rx: mpsc::Receiver<ReceivedJob>) {
    for job in rx {
        print_job(sim, job);
    }
}

fn print_job(sim: &Arc<Sim>, job: ReceivedJob) {
    let safe: String =
        job.name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let path = sim.args.spool.join(format!("{safe}.pdf"));
    let mut entry = serde_json::json!({
        "job": job.name, "number": job.number, "bytes": job.pdf.len(), "copies": job.copies,
        "paper": job.paper, "tray": job.tray, "receive_secs": job.receive_secs,
    });
    let check = std::fs::write(&path, &job.pdf).map_err(|e| e.to_string()).and_then(|()| check_pdf(&path));
    let pages = match check {
        Ok(p) => p,
        Err(e) => {
            log::warn!("printer sim: job {} is not a printable PDF: {e}", job.name);
            entry["qpdf_ok"] = false.into();
            entry["error"] = e.into();
            finish(sim, &job, entry, 0, "bad-pdf");
            return;
        }
    };
    entry["qpdf_ok"] = true.into();
    entry["pdf_pages"] = pages.into();
    let sheets = pages * job.copies;
    {
        let mut sh = sim.lock();
        if sh.epoch != job.epoch {
            drop(sh);
            sim.journal(with(entry, "lost", 0));
            return;
        }
        if let Some(f) = sh.fault {
            drop(sh);
            sim.journal(with(entry, &format!("not-printed-{}", f.name()), 0));
            return;
        }
        sh.printing = true;
    }
    let stoppers = [FaultKind::Jam, FaultKind::PaperOut, FaultKind::CoverOpen, FaultKind::Offline];
    for sheet in 1..=sheets {
        let last = sheet == sheets;
        {
            let mut sh = sim.lock();
            if let Some(kind) = sh.take_fault(job.number, Some(sheet), last, &stoppers) {
                sh.fault = Some(kind);
                sh.printing = false;
                sh.device_status();
                drop(sh);
                log::info!("printer sim: {} at page {sheet} of job {}", kind.name(), job.number);
                sim.journal(with(entry, kind.name(), sheet - 1));
                return;
            }
        }
        if sim.args.page_secs > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(sim.args.page_secs));
        }
        let mut sh = sim.lock();
        if sh.epoch != job.epoch {
            sh.printing = false;
            drop(sh);
            sim.journal(with(entry, "lost", sheet - 1));
            return;
        }
        sh.pagecount += 1;
        if sh.ustatus.page {
            let b = format!("@PJL USTATUS PAGE\r\n{sheet}\r\n\x0c");
            sh.send(b.as_bytes());
        }
        if sh.take_fault(job.number, Some(sheet), last, &[FaultKind::Vanish]).is_some() {
            sh.printing = false;
            drop(sh);
            sim.vanish_now.store(true, Ordering::SeqCst);
            sim.journal(with(entry, "vanished", sheet));
            return;
        }
    }
    finish(sim, &job, entry, sheets, "printed");
}

fn finish(sim: &Arc<Sim>, job: &ReceivedJob, entry: serde_json::Value, printed: u32, outcome: &str) {
    {
        let mut sh = sim.lock();
        sh.printing = false;
        if sh.epoch == job.epoch && sh.ustatus.job {
            let b = format!("@PJL USTATUS JOB\r\nEND\r\nNAME=\"{}\"\r\nPAGES={printed}\r\n\x0c", job.name);
            sh.send(b.as_bytes());
        }
    }
    sim.journal(with(entry, outcome, printed));
}

fn with(mut entry: serde_json::Value, outcome: &str, printed: u32) -> serde_json::Value {
    entry["outcome"] = outcome.into();
    entry["printed"] = printed.into();
    // When the job ended (Unix time, ms): the lab measures the time from the last coin to it.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    entry["ended_unix_ms"] = u64::try_from(now.as_millis()).unwrap_or(u64::MAX).into();
    entry
}

/// `qpdf --check` must pass (warnings allowed) and the page count comes from qpdf.
fn check_pdf(path: &Path) -> Result<u32, String> {
    let out = Command::new("qpdf").arg("--check").arg(path).output().map_err(|e| format!("qpdf: {e}"))?;
    match out.status.code() {
        Some(0) | Some(3) => {}
        _ => {
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            return Err(format!("qpdf --check failed: {}", text.trim()));
        }
    }
    let out = Command::new("qpdf").arg("--show-npages").arg(path).output().map_err(|e| format!("qpdf: {e}"))?;
    let n = String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().map_err(|_| "qpdf --show-npages failed")?;
    if n == 0 {
        return Err("the PDF has no pages".into());
    }
    Ok(n)
}

fn start_control(fifo: &Path, sim: Arc<Sim>) -> Result<(), String> {
    match std::fs::metadata(fifo) {
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            if !m.file_type().is_fifo() {
                return Err("exists and is not a FIFO".into());
            }
        }
        Err(_) => nix::unistd::mkfifo(fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(|e| format!("mkfifo: {e}"))?,
    }
    let fifo = fifo.to_path_buf();
    std::thread::spawn(move || loop {
        // Opening blocks until a writer comes; each writer's lines are applied in order.
        let Ok(f) = File::open(&fifo) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        for line in BufReader::new(f).lines().map_while(Result::ok) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.parse::<FaultSpec>() {
                Ok(spec) => {
                    log::info!("printer sim: control {line:?}");
                    sim.apply(spec);
                }
                Err(e) => log::warn!("printer sim: control line {line:?}: {e}"),
            }
        }
    });
    Ok(())
}

/// What the line carries, printer side.
#[derive(Debug, PartialEq)]
enum Event {
    /// A PJL command line (UEL prefixes and line ends removed).
    Command(String),
    /// A whole PDF (the bytes between `ENTER LANGUAGE` and the next UEL), and how long it took
    /// to arrive.
    Data { pdf: Vec<u8>, secs: f64 },
}

/// The printer side of PJL: command lines, and the PDF between `ENTER LANGUAGE = PDF` and
/// the next UEL.
#[derive(Default)]
struct PjlParser {
    line: Vec<u8>,
    data: Option<(Vec<u8>, Instant)>,
}

impl PjlParser {
    /// Bytes of PDF received so far while inside a job's data.
    fn data_len(&self) -> Option<usize> {
        self.data.as_ref().map(|(d, _)| d.len())
    }

    fn push(&mut self, mut bytes: &[u8], now: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            if let Some((data, started)) = self.data.as_mut() {
                let from = data.len().saturating_sub(UEL.len() - 1);
                data.extend_from_slice(bytes);
                bytes = &[];
                if let Some(at) = data[from..].windows(UEL.len()).position(|w| w == UEL) {
                    let at = from + at;
                    let rest = data.split_off(at);
                    let secs = now.saturating_duration_since(*started).as_secs_f64();
                    let pdf = std::mem::take(data);
                    self.data = None;
                    out.push(Event::Data { pdf, secs });
                    out.extend(self.push(&rest, now));
                }
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            if b != b'\n' {
                if self.line.len() < 4096 {
                    self.line.push(b);
                }
                continue;
            }
            let mut line: &[u8] = &self.line;
            while let Some(rest) = line.strip_prefix(UEL) {
                line = rest;
            }
            let text = String::from_utf8_lossy(line).trim().to_string();
            self.line.clear();
            if text.is_empty() {
                continue;
            }
            let enter_pdf = {
                let u = text.to_ascii_uppercase();
                u.starts_with("@PJL ENTER") && u.contains("PDF")
            };
            out.push(Event::Command(text));
            if enter_pdf {
                self.data = Some((Vec::new(), now));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        assert_eq!("clear".parse::<FaultSpec>(), Ok(FaultSpec::Clear));
        assert_eq!("jam".parse::<FaultSpec>(), Ok(FaultSpec::Now(FaultKind::Jam)));
        assert_eq!(
            "jam@job=2".parse::<FaultSpec>(),
            Ok(FaultSpec::During { kind: FaultKind::Jam, job: Some(2), page: None })
        );
        assert_eq!(
            "paper-out@job=1,page=2".parse::<FaultSpec>(),
            Ok(FaultSpec::During { kind: FaultKind::PaperOut, job: Some(1), page: Some(PageAt::Nth(2)) })
        );
        assert_eq!(
            "jam@page=last".parse::<FaultSpec>(),
            Ok(FaultSpec::During { kind: FaultKind::Jam, job: None, page: Some(PageAt::Last) })
        );
        assert_eq!(
            "vanish@job".parse::<FaultSpec>(),
            Ok(FaultSpec::During { kind: FaultKind::Vanish, job: None, page: None })
        );
        assert!("jam@job=0".parse::<FaultSpec>().is_err());
        assert!("fire@job=1".parse::<FaultSpec>().is_err());
        assert_eq!(
            "slow@job".parse::<FaultSpec>(),
            Ok(FaultSpec::During { kind: FaultKind::Slow, job: None, page: None })
        );
        assert_eq!("slow".parse::<FaultSpec>(), Ok(FaultSpec::Now(FaultKind::Slow)));
        assert!("jam@when=later".parse::<FaultSpec>().is_err());
    }

    #[test]
    fn parser_splits_commands_and_pdf_data() {
        let mut p = PjlParser::default();
        let stream =
            b"\x1B%-12345X@PJL \r\n@PJL JOB NAME = \"A\"\r\n@PJL ENTER LANGUAGE = PDF\r\n%PDF-1.3\nbinary\x1B%-1\
                       \n%%EOF\n\x1B%-12345X@PJL EOJ NAME = \"A\"\r\n\x1B%-12345X";
        for cut in [1, 7, 64, stream.len()] {
            let mut events = Vec::new();
            let now = Instant::now();
            for chunk in stream.chunks(cut) {
                events.extend(p.push(chunk, now));
            }
            let cmds: Vec<&str> =
                events.iter().filter_map(|e| if let Event::Command(c) = e { Some(c.as_str()) } else { None }).collect();
            assert_eq!(cmds, ["@PJL", "@PJL JOB NAME = \"A\"", "@PJL ENTER LANGUAGE = PDF", "@PJL EOJ NAME = \"A\""]);
            let pdf = events.iter().find_map(|e| if let Event::Data { pdf, .. } = e { Some(pdf) } else { None });
            assert_eq!(pdf.map(Vec::as_slice), Some(&b"%PDF-1.3\nbinary\x1B%-1\n%%EOF\n"[..]), "chunk {cut}");
            assert_eq!(p.data_len(), None);
        }
    }
}
