//! What several of the firmware's end-to-end tests share.

use std::path::{Path, PathBuf};

/// The service manager's end of NOTIFY_SOCKET: what a kiosk under `Type=notify` tells systemd.
pub struct NotifyListener {
    socket: std::os::unix::net::UnixDatagram,
    pub path: PathBuf,
}

impl NotifyListener {
    pub fn bind(dir: &Path) -> NotifyListener {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("bind the notify socket");
        socket.set_nonblocking(true).unwrap();
        NotifyListener { socket, path }
    }

    /// Datagrams received so far.
    pub fn drain(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}
