//! The lab: the simulated world around a kiosk as real processes on one machine, for the demo
//! and the acceptance tests. A private pcscd with vpcd's two readers, virtual cards and phones
//! (`madoguchi-sim card`), the PJL printer on a pty (`madoguchi-sim printer`) and the municipal
//! backend (`madoguchi-backend`), each started, waited for and stopped here.
//!
//! pcscd's socket path is fixed (`/run/pcscd/pcscd.comm`), so a lab runs inside private mount
//! and PID namespaces ([`isolate`]): it never disturbs a pcscd the machine runs, and whatever it
//! starts ends with it.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Reader names vpcd gives its two slots: slot 0 is the contact reader, slot 1 contactless.
pub const CONTACT_READER: &str = "Virtual PCD 00 00";
pub const CONTACTLESS_READER: &str = "Virtual PCD 00 01";

/// What went wrong starting or driving the lab, with what to do.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {why}")]
pub struct LabError {
    pub what: String,
    pub why: String,
}

pub(crate) fn err(what: impl Into<String>, why: impl ToString) -> LabError {
    LabError { what: what.into(), why: why.to_string() }
}

/// Runs the current program again inside private mount and PID namespaces with `marker` set
/// in its environment, and returns its exit status; returns `None` when already inside.
pub fn isolate(marker: &str, args: &[String]) -> Result<Option<ExitStatus>, LabError> {
    if std::env::var_os(marker).is_some() {
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(|e| err("finding this program", e))?;
    let mut cmd = Command::new("unshare");
    if !running_as_root() {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", "--"])
        .arg(exe)
        .args(args)
        .env(marker, "1");
    let status = cmd.status().map_err(|e| err("unshare (util-linux)", e))?;
    Ok(Some(status))
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A private pcscd with vpcd's two slots on free ports.
pub struct Pcscd {
    child: Child,
    /// vpcd's port for slot 0; slot 1 is `port + 1`.
    pub port: u16,
    pub log: PathBuf,
}

impl Pcscd {
    /// Mounts a private tmpfs on /run/pcscd (call only inside [`isolate`]) and starts pcscd
    /// with the vpcd driver, waiting until both readers exist.
    pub fn start(dir: &Path) -> Result<Pcscd, LabError> {
        std::fs::create_dir_all("/run/pcscd").map_err(|e| err("/run/pcscd", e))?;
        let st = Command::new("mount").args(["-t", "tmpfs", "tmpfs", "/run/pcscd"]).status();
        if !st.map(|s| s.success()).unwrap_or(false) {
            return Err(err("mounting a private tmpfs on /run/pcscd", "mount failed (not in private namespaces?)"));
        }
        let port = free_port_pair()?;
        let conf = dir.join("reader.conf.d");
        std::fs::create_dir_all(&conf).map_err(|e| err(conf.display().to_string(), e))?;
        std::fs::write(
            conf.join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x{port:04X}\n\
                 LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x{port:04X}\n"
            ),
        )
        .map_err(|e| err("writing the vpcd configuration", e))?;
        let log = dir.join("pcscd.log");
        let out = std::fs::File::create(&log).map_err(|e| err(log.display().to_string(), e))?;
        let child = Command::new("pcscd")
            .args(["-f", "-c"])
            .arg(&conf)
            .stdout(out.try_clone().map_err(|e| err("pcscd log", e))?)
            .stderr(out)
            .spawn()
            .map_err(|e| err("starting pcscd (apt-get install pcscd vsmartcard-vpcd)", e))?;
        let p = Pcscd { child, port, log };
        p.wait_for_readers(Duration::from_secs(30))?;
        Ok(p)
    }

    fn wait_for_readers(&self, limit: Duration) -> Result<(), LabError> {
        let deadline = Instant::now() + limit;
        let ctx = loop {
            match pcsc::Context::establish(pcsc::Scope::User) {
                Ok(c) => break c,
                Err(e) if Instant::now() >= deadline => return Err(err("pcscd did not come up", e)),
                // pcscd makes its socket within milliseconds: a bounded retry.
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut pnp = [pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE)];
        loop {
            if ctx.list_readers_owned().unwrap_or_default().len() >= 2 {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err("vpcd readers did not appear", format!("see {}", self.log.display())));
            }
            let _ = ctx.get_status_change(Some(left.min(Duration::from_secs(1))), &mut pnp);
            pnp[0].sync_current_state();
        }
    }

    /// vpcd's address for a reader.
    pub fn vpcd_addr(&self, contactless: bool) -> String {
        format!("127.0.0.1:{}", self.port + u16::from(contactless))
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP port free now and never handed out before in this process. A server that is
/// killed and started again keeps its port, and tests start servers in parallel: the kernel may
/// offer a released port again before the first server binds it, so two servers must never be
/// given the same one.
pub fn free_port() -> Result<u16, LabError> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..100 {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| err("finding a free TCP port", e))?
            .port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err(err("finding a free TCP port", "every one offered was handed out before"))
}

/// Two consecutive free TCP ports (vpcd opens `port` and `port + 1` on all interfaces).
pub fn free_port_pair() -> Result<u16, LabError> {
    for _ in 0..100 {
        let Ok(a) = TcpListener::bind(("0.0.0.0", 0)) else { continue };
        let Ok(addr) = a.local_addr() else { continue };
        let p = addr.port();
        if p < u16::MAX && TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return Ok(p);
        }
    }
    Err(err("finding two free TCP ports for vpcd", "none free"))
}

/// Waits (SCardGetStatusChange, no polling) until `reader` has (or lacks) a card.
pub fn wait_card_state(reader: &str, present: bool, limit: Duration) -> Result<(), LabError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| err("PC/SC", e))?;
    let name = CString::new(reader).map_err(|e| err("reader name", e))?;
    let mut st = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(err(format!("card in {reader}"), format!("did not become present={present}")));
        }
        match ctx.get_status_change(Some(left), &mut st) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(err(format!("waiting for {reader}"), e)),
        }
        let s = st[0].event_state();
        if (s.contains(pcsc::State::PRESENT) && !s.contains(pcsc::State::MUTE)) == present {
            return Ok(());
        }
        st[0].sync_current_state();
    }
}

/// A running `madoguchi-sim card` (a card or phone on a reader).
pub struct CardProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    pub reader: &'static str,
}

impl CardProcess {
    /// Starts the virtual card with `profile` on a reader and waits until PC/SC sees it.
    /// `extra`: e.g. `["--token", "android"]`.
    pub fn start(
        sim: &Path,
        pcscd: &Pcscd,
        profile: &Path,
        contactless: bool,
        extra: &[&str],
        apdu_log: Option<&Path>,
    ) -> Result<CardProcess, LabError> {
        let reader = if contactless { CONTACTLESS_READER } else { CONTACT_READER };
        let mut cmd = Command::new(sim);
        cmd.arg("card").arg("--profile").arg(profile).args(["--vpcd", &pcscd.vpcd_addr(contactless)]).args(extra);
        if let Some(log) = apdu_log {
            cmd.arg("--apdu-log").arg(log);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| err("starting madoguchi-sim card", e))?;
        let stdin = child.stdin.take();
        let card = CardProcess { child, stdin, reader };
        wait_card_state(reader, true, Duration::from_secs(30))?;
        Ok(card)
    }

    /// Takes the card off the reader (the process ends) and waits until PC/SC has seen it go.
    pub fn remove(mut self) -> Result<(), LabError> {
        if let Some(mut s) = self.stdin.take() {
            let _ = writeln!(s, "quit").and_then(|_| s.flush());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        wait_card_state(self.reader, false, Duration::from_secs(30))
    }
}

impl Drop for CardProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JPKI AP (`公的個人認証AP`, jpki.md §2).
const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// VERIFYs a PIN of the JPKI AP on the card in `reader` through pcscd, as any PC/SC client
/// would: SELECT the AP, then `00 20 00 80|sfi Lc <secret>` (`sfi` 0x18: the user-authentication
/// PIN, 0x1B: the signature password). Returns VERIFY's status word (`0x9000` if the card took
/// it; a wrong one spends a try). Inside a PC/SC transaction, so no other client's SELECT comes
/// between; the command is built in a buffer that is wiped afterwards.
pub fn jpki_verify(reader: &str, sfi: u8, secret: &[u8]) -> Result<u16, LabError> {
    if secret.is_empty() || secret.len() > 16 || !matches!(sfi, 0x18 | 0x1B) {
        return Err(err("VERIFY", "a PIN of 1–16 bytes of EF 0018 or 001B"));
    }
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| err("PC/SC", e))?;
    let name = CString::new(reader).map_err(|e| err("reader name", e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut card = loop {
        match ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(c) => break c,
            Err(e) if Instant::now() >= deadline => return Err(err(format!("connecting to {reader}"), e)),
            // Another client may hold the card exclusively for a moment: a bounded retry.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let tx = card.transaction().map_err(|e| err(format!("a transaction on {reader}"), e))?;
    let mut reply = [0u8; 258];
    let mut select = vec![0x00, 0xA4, 0x04, 0x0C, JPKI_AID.len() as u8];
    select.extend_from_slice(&JPKI_AID);
    let sw = |r: &[u8]| match r {
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let got = tx.transmit(&select, &mut reply).map_err(|e| err("SELECT of the JPKI AP", e))?;
    if sw(got) != 0x9000 {
        return Err(err("SELECT of the JPKI AP", format!("status {:04X}", sw(got))));
    }
    let mut verify = zeroize::Zeroizing::new(Vec::with_capacity(5 + secret.len()));
    verify.extend_from_slice(&[0x00, 0x20, 0x00, 0x80 | sfi, secret.len() as u8]);
    verify.extend_from_slice(secret);
    let status = tx.transmit(&verify, &mut reply).map(sw).map_err(|e| err("VERIFY", e));
    let _ = tx.end(pcsc::Disposition::ResetCard);
    status
}

/// A running `madoguchi-sim printer` on a pty.
pub struct PrinterProcess {
    child: Child,
    /// The serial device path the kiosk opens.
    pub link: PathBuf,
    /// Spooled PDFs and `journal.jsonl`.
    pub spool: PathBuf,
    control: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl PrinterProcess {
    /// Starts the simulator in `dir` (`printer-tty`, `spool/`, `printer-control`) and waits
    /// until its port is ready. `extra`: more of its arguments (`--fault jam`, `--vanish-secs 1`).
    pub fn start(sim: &Path, dir: &Path, baud: u32, extra: &[&str]) -> Result<PrinterProcess, LabError> {
        let link = dir.join("printer-tty");
        let spool = dir.join("spool");
        // The simulator makes the FIFO; one left from an earlier run is reused.
        let control = dir.join("printer-control");
        let mut child = Command::new(sim)
            .arg("printer")
            .arg("--link")
            .arg(&link)
            .arg("--spool")
            .arg(&spool)
            .arg("--control")
            .arg(&control)
            .args(["--baud", &baud.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| err("starting madoguchi-sim printer", e))?;
        let out = child.stdout.take().ok_or_else(|| err("printer", "no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let p = PrinterProcess { child, link, spool, control, lines };
        p.wait_line("ready", Duration::from_secs(30))?;
        Ok(p)
    }

    /// Waits for a status line of the simulator beginning with `prefix`.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> Result<String, LabError> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return Ok(l),
                Ok(_) => {}
                Err(_) => return Err(err("printer simulator", format!("no `{prefix}` line"))),
            }
        }
    }

    /// A fault or `clear` (see `madoguchi_sim::printer`).
    pub fn control(&self, line: &str) -> Result<(), LabError> {
        let mut f =
            std::fs::OpenOptions::new().write(true).open(&self.control).map_err(|e| err("printer control", e))?;
        writeln!(f, "{line}").map_err(|e| err("printer control", e))
    }

    /// The simulator's journal so far: one JSON object per job (none before the first job).
    pub fn journal(&self) -> Result<Vec<serde_json::Value>, LabError> {
        std::fs::read_to_string(self.spool.join("journal.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| err("printer journal line", e)))
            .collect()
    }

    /// The spooled PDFs of the jobs of which at least one page came out (the journal says
    /// what reached the tray), in job order. A job stopped before its first page is not here.
    pub fn came_out(&self) -> Vec<PathBuf> {
        self.journal()
            .unwrap_or_default()
            .into_iter()
            .filter(|j| j["printed"].as_u64().unwrap_or(0) > 0)
            .filter_map(|j| j["job"].as_str().map(|n| self.spool.join(format!("{n}.pdf"))))
            .filter(|p| p.exists())
            .collect()
    }
}

impl Drop for PrinterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `madoguchi-sim cash`: a ccTalk coin acceptor and hoppers on a pty at 9600 baud,
/// the kiosk's `cash.device` in `madoguchi-lab demo --cash cctalk`.
pub struct CashProcess {
    child: Child,
    /// The serial device path the kiosk opens.
    pub link: PathBuf,
    control: PathBuf,
}

impl CashProcess {
    /// Starts the simulator in `dir` (`cash-tty`, `cash-control`) and waits for its port.
    pub fn start(sim: &Path, dir: &Path) -> Result<CashProcess, LabError> {
        let link = dir.join("cash-tty");
        let control = dir.join("cash-control");
        let mut child = Command::new(sim)
            .args(["cash", "--baud", "9600", "--coin-ms", "20", "--link"])
            .arg(&link)
            .arg("--control")
            .arg(&control)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| err("starting madoguchi-sim cash", e))?;
        let mut line = String::new();
        let out = child.stdout.take().ok_or_else(|| err("cash simulator", "no stdout"))?;
        BufReader::new(out).read_line(&mut line).map_err(|e| err("cash simulator", e))?;
        if !line.starts_with("ready ") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err("cash simulator", format!("no `ready` line but {line:?}")));
        }
        Ok(CashProcess { child, link, control })
    }

    /// A resident drops coins, each once the acceptor takes coins (see `madoguchi_sim::cash`).
    pub fn insert(&self, coins: &[u32]) -> Result<(), LabError> {
        let mut f = std::fs::OpenOptions::new().write(true).open(&self.control).map_err(|e| err("cash control", e))?;
        for c in coins {
            writeln!(f, "wait-accepting\ninsert {c}").map_err(|e| err("cash control", e))?;
        }
        Ok(())
    }
}

impl Drop for CashProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `madoguchi-backend` on loopback with the world loaded, one kiosk enrolled and
/// every municipality open around the clock (acceptance tests must not depend on the hour).
pub struct BackendProcess {
    child: Child,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The kiosk's enrolment: `client.cert.pem`, `client.key.pem`, `server-ca.cert.pem`,
    /// `backend-signing.pub`.
    pub kiosk_dir: PathBuf,
    pub dir: PathBuf,
    config: PathBuf,
    backend: PathBuf,
}

impl BackendProcess {
    pub fn start(backend: &Path, world: &Path, dir: &Path, kiosk_id: &str) -> Result<BackendProcess, LabError> {
        std::fs::create_dir_all(dir).map_err(|e| err(dir.display().to_string(), e))?;
        let config = dir.join("madoguchi-backend.toml");
        // A fixed port, so the service can be stopped and started again where kiosks expect it.
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| err("a free port for the backend", e))?;
        let q = |p: &Path| p.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
        std::fs::write(
            &config,
            format!(
                "database = \"sqlite://{db}\"\nlisten = \"127.0.0.1:{port}\"\npublic_listen = \"\"\nkeys_dir = \"{keys}\"\n\
                 jpki_anchors_dir = \"{anchors}\"\nallow_test_anchors = true\nlog = \"warn\"\n",
                db = q(&dir.join("backend.db")),
                keys = q(&dir.join("keys")),
                anchors = q(&world.join("anchors")),
            ),
        )
        .map_err(|e| err("backend configuration", e))?;
        let run = |args: &[&str]| -> Result<String, LabError> {
            let o = Command::new(backend)
                .arg("--config")
                .arg(&config)
                .args(args)
                .output()
                .map_err(|e| err("starting madoguchi-backend", e))?;
            if !o.status.success() {
                return Err(err(format!("madoguchi-backend {}", args.join(" ")), String::from_utf8_lossy(&o.stderr)));
            }
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        };
        run(&["init"])?;
        run(&["load-world", &world.display().to_string()])?;
        let kiosk_dir = dir.join(format!("kiosk-{kiosk_id}"));
        let _ = std::fs::remove_dir_all(&kiosk_dir);
        run(&["kiosk", "enroll", "--id", kiosk_id, "--store", "デモ店", "--out", &kiosk_dir.display().to_string()])?;
        let (child, url) = serve(backend, &config)?;
        let b =
            BackendProcess { child, url, kiosk_dir, dir: dir.to_path_buf(), config, backend: backend.to_path_buf() };
        b.open_around_the_clock(world)?;
        Ok(b)
    }

    /// Opens every municipality of the world all day, every day, through its administrator.
    fn open_around_the_clock(&self, world: &Path) -> Result<(), LabError> {
        let manifest = crate::world::Manifest::load(world).map_err(|e| err("world manifest.json", e))?;
        let codes: Vec<String> = manifest.municipalities.iter().map(|m| m.code.clone()).collect();
        if codes.is_empty() {
            return Err(err("world manifest.json", "no municipalities"));
        }
        for code in codes {
            let cred = self.dir.join(format!("admin-{code}"));
            let _ = std::fs::remove_dir_all(&cred);
            self.cli(&["admin", "enroll", "--id", &format!("admin-{code}"), "--municipality", &code, "--out"], &cred)?;
            let admin = |args: &[&str]| -> Result<String, LabError> {
                let mut full = vec!["municipality", "--server", &self.url, "--credential"];
                let c = cred.display().to_string();
                full.push(&c);
                full.push(&code);
                full.extend_from_slice(args);
                self.cli(&full, Path::new(""))
            };
            let shown = admin(&["show"])?;
            let mut cfg: serde_json::Value =
                serde_json::from_str(&shown).map_err(|e| err(format!("municipality {code} show"), e))?;
            let cfg = cfg.get_mut("config").map(std::mem::take).unwrap_or(cfg);
            let mut cfg = cfg;
            cfg["service_hours"] = serde_json::json!({ "open": "00:00", "close": "24:00" });
            cfg["closed_days"] = serde_json::json!([]);
            if let Some(docs) = cfg["documents"].as_object_mut() {
                for d in docs.values_mut() {
                    d["hours"] = serde_json::Value::Null;
                    d["weekdays_only"] = serde_json::Value::Bool(false);
                }
            }
            let file = self.dir.join(format!("municipality-{code}.json"));
            std::fs::write(&file, cfg.to_string()).map_err(|e| err("municipality configuration", e))?;
            admin(&["set", &file.display().to_string()])?;
        }
        Ok(())
    }

    fn cli(&self, args: &[&str], last: &Path) -> Result<String, LabError> {
        let mut cmd = Command::new(&self.backend);
        cmd.arg("--config").arg(&self.config).args(args);
        if !last.as_os_str().is_empty() {
            cmd.arg(last);
        }
        let o = cmd.output().map_err(|e| err("madoguchi-backend", e))?;
        if !o.status.success() {
            return Err(err(format!("madoguchi-backend {}", args.join(" ")), String::from_utf8_lossy(&o.stderr)));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Reserves a PIN reset of `credential` (`auth-pin` or `sign-password`) for the resident's
    /// card, as the JPKI暗証番号リセット app would (`pin-reset reserve`), dated back `hours_ago`
    /// hours. Returns the reservation as the backend prints it (JSON). The backend refuses what
    /// the app would (no signature certificate, a revoked one, a phone): that is the error.
    pub fn reserve_pin_reset(
        &self,
        resident: &str,
        credential: &str,
        hours_ago: u32,
    ) -> Result<serde_json::Value, LabError> {
        let hours = hours_ago.to_string();
        let args = [
            "pin-reset",
            "reserve",
            "--resident",
            resident,
            "--credential",
            credential,
            "--hours-ago",
            &hours,
            "--json",
        ];
        let out = self.cli(&args, Path::new(""))?;
        serde_json::from_str(out.trim()).map_err(|e| err("madoguchi-backend pin-reset reserve: its answer", e))
    }

    /// Stops the service (to play "backend down").
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same address, with the same database ("backend up").
    pub fn restart(&mut self) -> Result<(), LabError> {
        self.stop();
        let (child, url) = serve(&self.backend, &self.config)?;
        self.child = child;
        if url != self.url {
            return Err(err("madoguchi-backend serve", format!("came back at {url}, not {}", self.url)));
        }
        Ok(())
    }
}

/// `madoguchi-backend serve`, and the URL it says it listens on.
fn serve(backend: &Path, config: &Path) -> Result<(Child, String), LabError> {
    let mut child = Command::new(backend)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| err("starting madoguchi-backend serve", e))?;
    let out = child.stdout.take().ok_or_else(|| err("backend", "no stdout"))?;
    let mut reader = BufReader::new(out);
    let mut url = None;
    let mut line = String::new();
    while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        if let Some(rest) = line.trim().strip_prefix("listening ") {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            url = Some(format!("https://{addr}"));
            break;
        }
        line.clear();
    }
    // Keep draining its standard output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines().map_while(Result::ok) {});
    match url {
        Some(url) => Ok((child, url)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err("madoguchi-backend serve", "it did not say where it listens"))
        }
    }
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
