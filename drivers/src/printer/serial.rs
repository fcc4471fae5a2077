//! The I/O edge of the printer driver: a serial line (`serialport`) that drives a
//! [`JobMachine`]. All protocol decisions are the machine's; this only moves bytes, keeps
//! time, and reopens the line when the device comes back.

use super::job::{JobMachine, JobReport};
use super::line::{FlowControl, PrinterConfig};
use super::pjl::{DeviceStatus, JobSettings};
use super::PrinterError;
use serialport::{ClearBuffer, SerialPort};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest slice handed to one `write` call.
const WRITE_CHUNK: usize = 4096;
/// Smallest slice handed to one `write` call.
const WRITE_CHUNK_MIN: usize = 64;

/// What one `write` is given: about 50 ms of line time. The port is a blocking descriptor, so a
/// `write` returns only once the printer has taken the whole slice; a small slice keeps a
/// printer that takes data at a trickle from holding the job's thread (and its cancellation)
/// for long.
fn write_chunk(baud: u32) -> usize {
    (baud as usize / 10 / 20).clamp(WRITE_CHUNK_MIN, WRITE_CHUNK)
}
/// How long one `write` may wait for the line (flow control) before the loop looks around.
const WRITE_WAIT: Duration = Duration::from_millis(20);
/// Longest single wait for input while nothing is to be written.
const READ_WAIT: Duration = Duration::from_millis(100);
/// Pause between attempts to reopen a vanished device.
const REOPEN_PAUSE: Duration = Duration::from_millis(200);

/// The printer on its serial line. The line is opened on first use and reopened after it
/// was lost, so a printer that vanished is found again when it returns.
pub struct SerialPrinter {
    cfg: PrinterConfig,
    port: Option<Box<dyn SerialPort>>,
    /// A second handle on the open line, for [`LineCutter`].
    cutter: Arc<Mutex<Option<Box<dyn SerialPort>>>>,
}

/// Cuts the printer's line from another thread: drops what the line's output queue holds. A
/// `write` blocked on a printer that takes data at a trickle (or holds flow control) then
/// returns, so the job's thread sees its cancellation at once instead of after the printer
/// has swallowed the whole chunk.
#[derive(Clone)]
pub struct LineCutter(Arc<Mutex<Option<Box<dyn SerialPort>>>>);

impl LineCutter {
    pub fn cut(&self) {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = slot.as_ref() {
            if let Err(e) = p.clear(ClearBuffer::Output) {
                log::warn!("printer line: the output queue could not be dropped: {e}");
            }
        }
    }
}

impl SerialPrinter {
    pub fn new(cfg: PrinterConfig) -> Self {
        SerialPrinter { cfg, port: None, cutter: Arc::new(Mutex::new(None)) }
    }

    /// A handle that cuts the line from another thread ([`LineCutter::cut`]).
    pub fn cutter(&self) -> LineCutter {
        LineCutter(Arc::clone(&self.cutter))
    }

    fn set_port(&mut self, port: Option<Box<dyn SerialPort>>) {
        let clone = port.as_ref().and_then(|p| p.try_clone().ok());
        *self.cutter.lock().unwrap_or_else(|e| e.into_inner()) = clone;
        self.port = port;
    }

    pub fn config(&self) -> &PrinterConfig {
        &self.cfg
    }

    /// Whether the line is open right now.
    pub fn is_connected(&self) -> bool {
        self.port.is_some()
    }

    fn open(&self) -> Result<Box<dyn SerialPort>, serialport::Error> {
        let flow = match self.cfg.flow {
            FlowControl::RtsCts => serialport::FlowControl::Hardware,
            FlowControl::XonXoff => serialport::FlowControl::Software,
            FlowControl::None => serialport::FlowControl::None,
        };
        let path = self.cfg.path.to_string_lossy();
        serialport::new(path.as_ref(), self.cfg.baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow)
            .timeout(READ_WAIT)
            .open()
    }

    /// Asks the printer for its status (`INFO STATUS`, `INFO PAGECOUNT`). A status that does
    /// not allow printing is an error of its kind.
    pub fn status(&mut self) -> Result<DeviceStatus, PrinterError> {
        let mut m = JobMachine::status_query(self.cfg.baud, self.cfg.timeouts, Instant::now());
        self.drive(&mut m, &mut |_| {}, &|| false).map(|r| r.status_before)
    }

    /// Prints `pdf` (of `pages` pages) as job `name` and returns once the printer has
    /// confirmed the job's end with `pages × copies` pages, or with the error that stopped it.
    pub fn print(&mut self, name: &str, copies: u16, pdf: &[u8], pages: u32) -> Result<JobReport, PrinterError> {
        self.print_observed(name, copies, pdf, pages, &mut |_| {})
    }

    /// As [`SerialPrinter::print`], calling `on_pages` with the pages in the output tray so far
    /// each time the printer reports another one (`USTATUS PAGE`), so a screen can follow.
    pub fn print_observed(
        &mut self,
        name: &str,
        copies: u16,
        pdf: &[u8],
        pages: u32,
        on_pages: &mut dyn FnMut(u32),
    ) -> Result<JobReport, PrinterError> {
        self.print_cancellable(name, copies, pdf, pages, on_pages, &|| false)
    }

    /// As [`SerialPrinter::print_observed`], giving up as soon as `cancelled` says so (the
    /// kiosk's own limit ran out). A job cut off, by the kiosk or by its own bound, is an error
    /// with [`PrinterError::is_stopped`]: the line is cut (its output queue dropped, the port
    /// closed) so no further byte of it reaches the printer, and [`SerialPrinter::settle`] must
    /// account for it before the next job.
    pub fn print_cancellable(
        &mut self,
        name: &str,
        copies: u16,
        pdf: &[u8],
        pages: u32,
        on_pages: &mut dyn FnMut(u32),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<JobReport, PrinterError> {
        let settings = JobSettings { name: name.to_string(), copies, tray: self.cfg.tray.clone() };
        let mut m = JobMachine::print(&settings, pdf, pages, self.cfg.baud, self.cfg.timeouts, Instant::now())?;
        let r = self.drive(&mut m, on_pages, cancelled);
        if matches!(&r, Err(e) if e.is_stopped()) {
            self.cut();
        }
        r
    }

    /// Drops whatever the line still holds for the printer and closes the port.
    fn cut(&mut self) {
        if let Some(p) = self.port.take() {
            if let Err(e) = p.clear(ClearBuffer::All) {
                log::warn!("printer line: the output queue could not be dropped: {e}");
            }
            log::info!("printer line {} closed: job cut off", self.cfg.path.display());
        }
        self.set_port(None);
    }

    /// One look at a printer that had a job cut off: `Ok(Some(pages))` once it is idle
    /// ([`DeviceStatus::is_idle`]) and its page counter reads the same as at the last look
    /// (`last`, updated here), with `pages` the sheets that came out since `pagecount_before`
    /// (`None` if the printer keeps no counter: nothing can be accounted). `Ok(None)`: not
    /// settled yet (busy, counter still moving, or this was the first look). An error: the
    /// printer is not reachable or not ready.
    pub fn settle(
        &mut self,
        pagecount_before: Option<u64>,
        last: &mut Option<u64>,
    ) -> Result<Option<Option<u64>>, PrinterError> {
        let mut m = JobMachine::status_query(self.cfg.baud, self.cfg.timeouts, Instant::now());
        let report = self.drive(&mut m, &mut |_| {}, &|| false)?;
        if !report.status_before.is_idle() {
            *last = None;
            return Ok(None);
        }
        let now = report.pagecount_before;
        let steady = now.is_some() && *last == now;
        *last = now;
        match (steady, now, pagecount_before) {
            (true, Some(n), Some(b)) => Ok(Some(Some(n.saturating_sub(b)))),
            (true, _, _) => Ok(Some(None)),
            (false, None, _) => Ok(Some(None)),
            (false, Some(_), _) => Ok(None),
        }
    }

    fn drive(
        &mut self,
        m: &mut JobMachine,
        on_pages: &mut dyn FnMut(u32),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<JobReport, PrinterError> {
        // Whatever a previous job left unread (late status) is not this job's.
        if let Some(p) = self.port.as_mut() {
            if p.clear(ClearBuffer::Input).is_err() {
                self.set_port(None);
            }
        }
        let mut buf = [0u8; 1024];
        let mut pages_told = m.pages_seen();
        loop {
            let now = Instant::now();
            if cancelled() {
                m.abort(now, "cancelled");
            }
            m.on_tick(now);
            if let Some(outcome) = m.take_outcome() {
                return outcome;
            }
            if self.port.is_none() {
                match self.open() {
                    Ok(p) => {
                        log::info!("printer line {} open", self.cfg.path.display());
                        self.set_port(Some(p));
                        m.on_link_up(Instant::now());
                    }
                    Err(e) => {
                        m.on_link_down(now, &e.to_string());
                        if m.outcome().is_none() {
                            let pause = m.deadline().saturating_duration_since(now).min(REOPEN_PAUSE);
                            std::thread::sleep(pause.max(Duration::from_millis(1)));
                        }
                        continue;
                    }
                }
            }
            let Some(port) = self.port.as_mut() else { continue };
            let pending = m.transmit();
            if !pending.is_empty() {
                let chunk = &pending[..pending.len().min(write_chunk(self.cfg.baud))];
                let _ = port.set_timeout(WRITE_WAIT);
                match port.write(chunk) {
                    Ok(n) => m.on_written(n, Instant::now()),
                    Err(e) if matches!(e.kind(), IoKind::TimedOut | IoKind::WouldBlock | IoKind::Interrupted) => {}
                    Err(e) => {
                        log::warn!("printer line lost while writing: {e}");
                        self.set_port(None);
                        m.on_link_down(Instant::now(), &e.to_string());
                        continue;
                    }
                }
            }
            let wait = if m.transmit().is_empty() {
                m.deadline().saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), READ_WAIT)
            } else {
                Duration::from_millis(1)
            };
            let _ = port.set_timeout(wait);
            match port.read(&mut buf) {
                Ok(0) => {
                    self.set_port(None);
                    m.on_link_down(Instant::now(), "end of file on the line");
                }
                Ok(n) => {
                    m.on_received(&buf[..n], Instant::now());
                    if m.pages_seen() > pages_told {
                        pages_told = m.pages_seen();
                        on_pages(pages_told);
                    }
                }
                Err(e) if matches!(e.kind(), IoKind::TimedOut | IoKind::WouldBlock | IoKind::Interrupted) => {}
                Err(e) => {
                    log::warn!("printer line lost while reading: {e}");
                    self.set_port(None);
                    m.on_link_down(Instant::now(), &e.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_write_is_about_fifty_milliseconds_of_line_time() {
        assert_eq!(super::write_chunk(115_200), 576);
        assert_eq!(super::write_chunk(9_600), 64);
        assert_eq!(super::write_chunk(4_000_000), 4096);
    }
}
