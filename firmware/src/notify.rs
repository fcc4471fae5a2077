//! The systemd notification protocol (`sd_notify(3)`), spoken directly: one datagram of
//! `KEY=VALUE` lines to the Unix socket named by `NOTIFY_SOCKET`.
//!
//! Written here rather than taken from a crate because the protocol is a dozen lines over
//! `std::os::unix::net::UnixDatagram` (abstract socket names through the stable
//! `SocketAddrExt`), needs no `unsafe` and no C library, and keeps the kiosk's dependency tree
//! as it was. Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op, so a developer run
//! and the lab behave exactly as under systemd, only unheard.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

/// Where the service manager listens, if it does.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// The manager's socket from `NOTIFY_SOCKET`; a no-op notifier without one. A socket that
    /// cannot be used is logged and treated as absent (systemd then times the start out,
    /// which is the right outcome for a kiosk that cannot report).
    pub fn from_env() -> Notifier {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(name) => match Notifier::connect(Path::new(&name)) {
                Ok(n) => n,
                Err(e) => {
                    log::error!("NOTIFY_SOCKET {}: {e}", Path::new(&name).display());
                    Notifier::none()
                }
            },
            None => Notifier::none(),
        }
    }

    /// A notifier that tells nobody (not started by systemd).
    pub fn none() -> Notifier {
        Notifier { target: None }
    }

    /// A notifier for the socket at `name`: a path, or `@name` for Linux's abstract namespace.
    pub fn connect(name: &Path) -> io::Result<Notifier> {
        let text = name.as_os_str().as_encoded_bytes();
        let addr = match text.strip_prefix(b"@") {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(abstract_name)?
            }
            None => SocketAddr::from_pathname(name)?,
        };
        Ok(Notifier { target: Some((UnixDatagram::unbound()?, addr)) })
    }

    /// Whether a service manager listens.
    pub fn is_listened(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one state change (`READY=1`, `WATCHDOG=1`, `STATUS=...` lines).
    pub fn send(&self, state: &str) -> io::Result<()> {
        match &self.target {
            Some((socket, addr)) => socket.send_to_addr(state.as_bytes(), addr).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The kiosk is open for residents (its start-up checks held).
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// The kiosk loop, the UI and every worker made progress since the last ping.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    /// A line for `systemctl status`.
    pub fn status(&self, status: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", one_line(status)))
    }

    /// The kiosk is shutting down on purpose.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }
}

/// The watchdog interval systemd asks for (`WATCHDOG_USEC`), when it is meant for this process
/// (`WATCHDOG_PID`, if set, is ours).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?;
    let pid = std::env::var("WATCHDOG_PID").ok();
    parse_watchdog(&usec, pid.as_deref(), std::process::id())
}

fn parse_watchdog(usec: &str, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    match usec.trim().parse::<u64>() {
        Ok(0) | Err(_) => None,
        Ok(us) => Some(Duration::from_micros(us)),
    }
}

/// A status is one line of the datagram: newlines would start new assignments.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_reach_a_path_socket_and_nothing_happens_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::connect(&path).unwrap();
        assert!(n.is_listened());
        n.ready("open\nSTOPPING=1").unwrap();
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        // A status cannot smuggle in another assignment.
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=open STOPPING=1");
        n.watchdog().unwrap();
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        let none = Notifier::none();
        assert!(!none.is_listened());
        none.ready("x").unwrap();
    }

    #[test]
    fn abstract_socket_names_are_understood() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("madoguchi-notify-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        Notifier::connect(Path::new(&format!("@{name}"))).unwrap().status("hello").unwrap();
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=hello");
    }

    #[test]
    fn the_watchdog_interval_is_ours_only_when_the_pid_matches() {
        assert_eq!(parse_watchdog("30000000", None, 7), Some(Duration::from_secs(30)));
        assert_eq!(parse_watchdog("30000000", Some("7"), 7), Some(Duration::from_secs(30)));
        assert_eq!(parse_watchdog("30000000", Some("8"), 7), None);
        assert_eq!(parse_watchdog("0", None, 7), None);
        assert_eq!(parse_watchdog("soon", None, 7), None);
    }
}
