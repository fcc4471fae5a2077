//! The certificate printer: a PDF-capable laser printer on a serial line, driven with PJL.
//!
//! - [`pjl`]: job framing and reply parsing (sans-IO);
//! - [`job`]: the state machine of one print job, from the status probe to the printer's
//!   job-end confirmation (sans-IO: bytes and times in, bytes and an outcome out);
//! - [`line`]: the line's settings (device path, baud rate, flow control);
//! - `serial` (feature `serial`): the I/O edge over the `serialport` crate (reconnection).
//!
//! Every failure is a [`PrinterError`] whose [`PrinterError::kind`] says what happened and
//! whose [`PrinterError::paper`] says whether paper came out, so that the session can refund
//! (nothing came out) or not.

pub mod job;
pub mod line;
pub mod pjl;
#[cfg(feature = "serial")]
pub mod serial;

use core::fmt;
use std::time::Duration;

pub use job::{JobMachine, JobReport, Timeouts};
pub use line::{FlowControl, PrinterConfig};
pub use pjl::{DeviceStatus, JobSettings, StatusClass};
#[cfg(feature = "serial")]
pub use serial::{LineCutter, SerialPrinter};

/// What went wrong, as the session and the operator screens need to tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    PaperOut,
    Jam,
    CoverOpen,
    Offline,
    Timeout,
    Disconnected,
    Protocol,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::PaperOut => "out of paper",
            ErrorKind::Jam => "paper jam",
            ErrorKind::CoverOpen => "cover open",
            ErrorKind::Offline => "printer offline",
            ErrorKind::Timeout => "printer did not answer in time",
            ErrorKind::Disconnected => "printer disconnected",
            ErrorKind::Protocol => "printer protocol error",
        })
    }
}

/// Whether paper came out of the printer for the job that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperOutcome {
    /// Certainly nothing: the job never reached the printer complete, or the printer said so.
    Nothing,
    /// This many pages landed in the output tray (the printer reported each one).
    Pages(u32),
    /// Cannot be known (the printer went silent after it had the whole job).
    Unknown,
}

impl PaperOutcome {
    /// `Pages(0)` is `Nothing`.
    pub fn pages(n: u32) -> PaperOutcome {
        if n == 0 {
            PaperOutcome::Nothing
        } else {
            PaperOutcome::Pages(n)
        }
    }

    /// `Some(true)` if paper came out, `Some(false)` if certainly not, `None` if unknown.
    pub fn came_out(self) -> Option<bool> {
        match self {
            PaperOutcome::Nothing => Some(false),
            PaperOutcome::Pages(n) => Some(n > 0),
            PaperOutcome::Unknown => None,
        }
    }
}

impl fmt::Display for PaperOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaperOutcome::Nothing => f.write_str("no paper came out"),
            PaperOutcome::Pages(1) => f.write_str("1 page came out"),
            PaperOutcome::Pages(n) => write!(f, "{n} pages came out"),
            PaperOutcome::Unknown => f.write_str("whether paper came out is unknown"),
        }
    }
}

/// A failed print job or status query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterError {
    kind: ErrorKind,
    paper: PaperOutcome,
    detail: String,
    status: Option<DeviceStatus>,
    stopped: bool,
    pagecount_before: Option<u64>,
}

impl PrinterError {
    pub fn new(kind: ErrorKind, paper: PaperOutcome, detail: impl Into<String>) -> Self {
        PrinterError { kind, paper, detail: detail.into(), status: None, stopped: false, pagecount_before: None }
    }

    /// An error caused by a device status the printer reported.
    pub fn from_status(status: DeviceStatus, paper: PaperOutcome) -> Self {
        let kind = match status.class() {
            StatusClass::PaperOut => ErrorKind::PaperOut,
            StatusClass::Jam => ErrorKind::Jam,
            StatusClass::CoverOpen => ErrorKind::CoverOpen,
            StatusClass::Offline | StatusClass::Ready => ErrorKind::Offline,
        };
        PrinterError {
            kind,
            paper,
            detail: format!("printer reports {status}"),
            status: Some(status),
            stopped: false,
            pagecount_before: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether (and how much) paper came out for this job.
    pub fn paper(&self) -> PaperOutcome {
        self.paper
    }

    /// The device status behind the error, if the printer reported one.
    pub fn status(&self) -> Option<&DeviceStatus> {
        self.status.as_ref()
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Marks a job the kiosk cut off (aborted, or over its bound) while the printer may still
    /// hold part of it.
    pub fn stopped(mut self) -> Self {
        self.stopped = true;
        self
    }

    /// The kiosk cut the job off: the printer may still be busy with it, so nothing else may be
    /// printed until it is idle and its page counter accounts for the job.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    pub fn with_pagecount_before(mut self, n: Option<u64>) -> Self {
        self.pagecount_before = n;
        self
    }

    /// The printer's lifetime page counter before the job, if it was read.
    pub fn pagecount_before(&self) -> Option<u64> {
        self.pagecount_before
    }
}

impl fmt::Display for PrinterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.kind, self.detail, self.paper)
    }
}

impl std::error::Error for PrinterError {}

/// Time the line needs for `bytes` at `baud` with 8N1 framing (10 bits a byte).
pub fn line_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_whether_paper_came_out() {
        let s = DeviceStatus { code: 42000, display: Some("PAPER JAM".into()), online: Some(false) };
        let e = PrinterError::from_status(s, PaperOutcome::pages(1));
        assert_eq!(e.kind(), ErrorKind::Jam);
        assert_eq!(e.paper().came_out(), Some(true));
        assert_eq!(
            e.to_string(),
            "paper jam: printer reports CODE=42000 DISPLAY=\"PAPER JAM\" ONLINE=FALSE; 1 page came out"
        );
        assert_eq!(PaperOutcome::pages(0), PaperOutcome::Nothing);
        assert_eq!(PaperOutcome::Nothing.came_out(), Some(false));
        assert_eq!(PaperOutcome::Unknown.came_out(), None);
    }

    #[test]
    fn line_time_is_ten_bits_a_byte() {
        assert_eq!(line_time(11_520, 115_200), Duration::from_secs(1));
        assert_eq!(line_time(3_840, 38_400), Duration::from_secs(1));
    }
}
