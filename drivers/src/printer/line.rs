//! Where and how the printer is attached: the settings of the serial line. Plain data, so the
//! kiosk's configuration reads them without the serial port driver (feature `serial`).

use super::job::Timeouts;
use std::path::PathBuf;

/// Flow control on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    /// Hardware handshake (RTS/CTS).
    RtsCts,
    /// Software handshake (XON/XOFF); PJL replies are text, so it never collides with them.
    XonXoff,
    /// None (only for links that cannot overrun, such as a pseudo-terminal).
    None,
}

impl std::str::FromStr for FlowControl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rtscts" | "rts-cts" | "hardware" => Ok(FlowControl::RtsCts),
            "xonxoff" | "xon-xoff" | "software" => Ok(FlowControl::XonXoff),
            "none" => Ok(FlowControl::None),
            other => Err(format!("unknown flow control {other:?} (rts-cts, xon-xoff or none)")),
        }
    }
}

/// Where and how the printer is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterConfig {
    /// Device path, e.g. `/dev/ttyS1` or `/dev/serial/by-id/...` (a symlink is fine).
    pub path: PathBuf,
    pub baud: u32,
    pub flow: FlowControl,
    /// Input tray for certificates (A4 plain paper).
    pub tray: String,
    pub timeouts: Timeouts,
}

impl PrinterConfig {
    pub fn new(path: impl Into<PathBuf>, baud: u32) -> Self {
        PrinterConfig {
            path: path.into(),
            baud,
            flow: FlowControl::RtsCts,
            tray: "TRAY1".into(),
            timeouts: Timeouts::default(),
        }
    }
}
