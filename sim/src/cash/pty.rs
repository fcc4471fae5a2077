//! `madoguchi-sim cash --link PATH --baud N`: the ccTalk devices of [`super::cctalk`] on a
//! pseudo-terminal linked at `--link`, paced to the line rate, echoing the host's bytes as a
//! single-wire bus does (unless `--no-echo`). Commands (see [`super::cctalk`]) come from `--do`
//! and, one a line, from the `--control` FIFO. Standard output gets `ready <pty path>` when the
//! device is there.

use super::cctalk::{serve_bytes, CcTalkDevices, SharedDevices};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A device starts its reply this long after the request's last byte (ccTalk allows far more).
const REPLY_DELAY: Duration = Duration::from_millis(2);

/// How long `wait-accepting` holds the control lines at most.
const WAIT_ACCEPTING: Duration = Duration::from_secs(15);

#[derive(clap::Args, Debug, Clone)]
pub struct CashArgs {
    /// Path of the symlink to the pseudo-terminal (what the kiosk opens as `cash.device`).
    #[arg(long)]
    pub link: PathBuf,
    /// Line rate to simulate (8N1: baud/10 bytes a second).
    #[arg(long, default_value_t = 9600)]
    pub baud: u32,
    /// A two-wire link: the host's bytes are not echoed.
    #[arg(long)]
    pub no_echo: bool,
    /// Coins in each hopper at start.
    #[arg(long, default_value_t = 50)]
    pub hopper_coins: u32,
    /// Milliseconds a hopper takes per coin.
    #[arg(long, default_value_t = 0)]
    pub coin_ms: u64,
    /// A command at start (repeatable): `insert 100`, `jam`, `hopper-empty 500`, `silence`…
    #[arg(long = "do")]
    pub commands: Vec<String>,
    /// A FIFO (created if missing) that takes one command a line.
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// Instead of serving: the kiosk's ccTalk driver takes 1,350 yen in six coins this many
    /// times through the pty, and the times are printed (see `super::bench`).
    #[arg(long)]
    pub bench: Option<u32>,
}

/// Runs until SIGTERM/SIGINT; the exit code.
pub fn run(args: CashArgs) -> u8 {
    if args.baud < 300 {
        eprintln!("madoguchi-sim cash: baud {} is too low", args.baud);
        return 2;
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&shutdown)) {
            eprintln!("madoguchi-sim cash: cannot handle signals: {e}");
            return 1;
        }
    }
    let mut d = CcTalkDevices::new(args.hopper_coins);
    d.per_coin = Duration::from_millis(args.coin_ms);
    let devices = SharedDevices::new(d);
    for c in &args.commands {
        if let Err(e) = devices.lock().command(c) {
            eprintln!("madoguchi-sim cash: --do {c:?}: {e}");
            return 2;
        }
    }
    if let Some(fifo) = &args.control {
        if let Err(e) = start_control(fifo, devices.clone()) {
            eprintln!("madoguchi-sim cash: control FIFO {}: {e}", fifo.display());
            return 2;
        }
    }
    if let Some(runs) = args.bench {
        return super::bench::run(&args, runs, devices, shutdown);
    }
    let r = serve(&args, &devices, &shutdown);
    let _ = std::fs::remove_file(&args.link);
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("madoguchi-sim cash: {e}");
            1
        }
    }
}

pub(super) fn serve(args: &CashArgs, devices: &SharedDevices, shutdown: &AtomicBool) -> Result<(), String> {
    let pty = nix::pty::openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
    let mut t = tcgetattr(&pty.slave).map_err(|e| format!("tcgetattr: {e}"))?;
    cfmakeraw(&mut t);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &t).map_err(|e| format!("tcsetattr: {e}"))?;
    let slave_path = nix::unistd::ttyname(&pty.slave).map_err(|e| format!("ttyname: {e}"))?;
    // Our own slave descriptor stays open so the kiosk may reopen the port.
    let _slave = pty.slave;
    let mut master = File::from(pty.master);
    relink(&slave_path, &args.link)?;
    if args.bench.is_none() {
        println!("ready {}", slave_path.display());
        let _ = std::io::stdout().flush();
    }
    log::info!("cash sim: ccTalk on {} -> {} at {} baud", args.link.display(), slave_path.display(), args.baud);
    let byte_time = Duration::from_nanos(10_000_000_000 / u64::from(args.baud));
    let start = Instant::now();
    let mut inbound = Vec::new();
    let mut buf = [0u8; 256];
    while !shutdown.load(Ordering::SeqCst) {
        let readable = {
            let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(50u16)) {
                Ok(n) if n > 0 => fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLIN)),
                Ok(_) | Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(format!("poll: {e}")),
            }
        };
        if !readable {
            continue;
        }
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("cash sim: read: {e}");
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        // The host's bytes take their time on the wire and come back as the echo.
        std::thread::sleep(byte_time * n as u32);
        if !args.no_echo {
            master.write_all(&buf[..n]).map_err(|e| format!("write: {e}"))?;
        }
        inbound.extend_from_slice(&buf[..n]);
        let replies = serve_bytes(&mut inbound, &mut devices.lock(), start.elapsed());
        for reply in replies {
            std::thread::sleep(REPLY_DELAY + byte_time * reply.len() as u32);
            master.write_all(&reply).map_err(|e| format!("write: {e}"))?;
        }
    }
    Ok(())
}

/// Points `link` at `target` atomically.
fn relink(target: &Path, link: &Path) -> Result<(), String> {
    let tmp = link.with_extension("link-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| format!("symlink {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, link).map_err(|e| format!("rename to {}: {e}", link.display()))
}

fn start_control(fifo: &Path, devices: SharedDevices) -> Result<(), String> {
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
        let Ok(f) = File::open(&fifo) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        for line in BufReader::new(f).lines().map_while(Result::ok) {
            if line.trim() == "wait-accepting" {
                wait_accepting(&devices);
                continue;
            }
            match devices.lock().command(line.trim()) {
                Ok(()) => log::info!("cash sim: control {:?}", line.trim()),
                Err(e) => log::warn!("cash sim: control line: {e}"),
            }
        }
    });
    Ok(())
}

/// Holds the control lines back until the host enables the acceptor (a coin dropped before is
/// returned, so a test would race the kiosk's cash worker); gives up after [`WAIT_ACCEPTING`].
fn wait_accepting(devices: &SharedDevices) {
    let until = Instant::now() + WAIT_ACCEPTING;
    while !devices.lock().accepting() {
        if Instant::now() > until {
            log::warn!("cash sim: the host did not enable the acceptor within {WAIT_ACCEPTING:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    log::info!("cash sim: control \"wait-accepting\": the acceptor is enabled");
}
