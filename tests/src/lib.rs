//! Test harness for the end-to-end tests: an isolated pcscd with vpcd per test, virtual cards
//! as real processes, the demo world, and the paths of the workspace's binaries.
//!
//! Isolation: pcscd's socket path is fixed (`/run/pcscd/pcscd.comm`), so each test re-runs
//! itself inside private mount and PID namespaces (`unshare -m -p -f`) with a tmpfs over
//! `/run/pcscd`. Its pcscd, vpcd ports and virtual cards are its own, and when the test process
//! ends, however it ends, the kernel kills everything it started (it is PID 1 there).
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Environment variable marking the re-executed, isolated run.
const INSIDE: &str = "MADOGUCHI_TEST_ISOLATED";

/// Reader names vpcd gives its two slots; the tests use slot 0 as the contact reader and
/// slot 1 as the contactless one.
pub const CONTACT_READER: &str = "Virtual PCD 00 00";
pub const CONTACTLESS_READER: &str = "Virtual PCD 00 01";

/// How long to wait for pcscd and cards before failing a test (generous: CI shares 2 cores).
pub const WAIT: Duration = Duration::from_secs(30);

/// Runs the calling test in isolation. In the outer run it re-executes `test` (the test's full
/// name, as `--exact` wants it) inside the namespaces, waits, fails if the inner run failed,
/// and returns `None`; in the inner run it starts pcscd and returns the lab.
///
/// ```ignore
/// let Some(lab) = PcscLab::isolated("reads_certificate") else { return };
/// ```
impl PcscLab {
    pub fn isolated(test: &str) -> Option<PcscLab> {
        if std::env::var_os(INSIDE).is_some() {
            return Some(PcscLab::start());
        }
        let exe = std::env::current_exe().expect("test executable path");
        let mut cmd = Command::new("unshare");
        if !running_as_root() {
            cmd.arg("--map-root-user");
        }
        cmd.args(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", "--"])
            .arg(exe)
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(INSIDE, "1");
        let status = cmd.status().expect("unshare (util-linux) must be installed");
        assert!(status.success(), "isolated run of {test} failed ({status}); its output is above");
        None
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A private pcscd with vpcd's two slots on free ports.
pub struct PcscLab {
    pcscd: Child,
    /// vpcd's port for slot 0; slot 1 is `port + 1`.
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl PcscLab {
    fn start() -> PcscLab {
        std::fs::create_dir_all("/run/pcscd").expect("create /run/pcscd");
        let st = Command::new("mount").args(["-t", "tmpfs", "tmpfs", "/run/pcscd"]).status().expect("run mount");
        assert!(st.success(), "mounting a private tmpfs on /run/pcscd failed");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port_pair();
        let conf = dir.path().join("reader.conf.d");
        std::fs::create_dir_all(&conf).expect("conf dir");
        std::fs::write(
            conf.join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x{port:04X}\n\
                 LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x{port:04X}\n"
            ),
        )
        .expect("write vpcd config");
        let log = std::fs::File::create(dir.path().join("pcscd.log")).expect("pcscd log");
        let pcscd = Command::new("pcscd")
            .args(["-f", "-c"])
            .arg(&conf)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("pcscd must be installed (apt-get install pcscd vsmartcard-vpcd)");
        let lab = PcscLab { pcscd, port, dir };
        lab.wait_for_readers();
        lab
    }

    /// Waits until pcscd answers and both vpcd readers exist, using PC/SC's own notification.
    fn wait_for_readers(&self) {
        let deadline = Instant::now() + WAIT;
        let ctx = loop {
            match pcsc::Context::establish(pcsc::Scope::User) {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "pcscd did not come up: {e}; log: {}", self.pcscd_log());
                    // pcscd creates its socket within milliseconds; this is a bounded retry.
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        let mut pnp = [pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE)];
        loop {
            let readers = ctx.list_readers_owned().unwrap_or_default();
            if readers.len() >= 2 {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "vpcd readers did not appear; log: {}", self.pcscd_log());
            let _ = ctx.get_status_change(Some(left.min(Duration::from_secs(1))), &mut pnp);
            pnp[0].sync_current_state();
        }
    }

    pub fn pcscd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pcscd.log")).unwrap_or_default()
    }

    /// vpcd address for a reader slot.
    pub fn vpcd_addr(&self, reader: Reader) -> String {
        format!("127.0.0.1:{}", self.port + reader.slot())
    }

    /// Starts `madoguchi-sim card` with a profile on a reader and waits until PC/SC sees it.
    pub fn insert(&self, profile: &Path, reader: Reader, extra: &[&str]) -> VirtualCard {
        let mut child = Command::new(bin("madoguchi-sim"))
            .arg("card")
            .arg("--profile")
            .arg(profile)
            .args(["--vpcd", &self.vpcd_addr(reader)])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start madoguchi-sim card");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("card stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let card = VirtualCard { child, stdin, lines: rx, reader };
        card.wait_present(true);
        card
    }
}

impl Drop for PcscLab {
    fn drop(&mut self) {
        let _ = self.pcscd.kill();
        let _ = self.pcscd.wait();
    }
}

/// The two vpcd slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Contact,
    Contactless,
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::Contact => CONTACT_READER,
            Reader::Contactless => CONTACTLESS_READER,
        }
    }
    fn slot(self) -> u16 {
        match self {
            Reader::Contact => 0,
            Reader::Contactless => 1,
        }
    }
}

/// A running `madoguchi-sim card` process.
pub struct VirtualCard {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pub reader: Reader,
}

impl VirtualCard {
    fn command(&mut self, c: &str) {
        let stdin = self.stdin.as_mut().expect("card stdin");
        writeln!(stdin, "{c}").and_then(|_| stdin.flush()).expect("write to card simulator");
    }

    /// Pulls the card out and waits until PC/SC has noticed.
    pub fn remove(&mut self) {
        self.command("remove");
        self.wait_present(false);
    }

    /// Puts it back and waits until PC/SC has noticed.
    pub fn reinsert(&mut self) {
        self.command("insert");
        self.wait_present(true);
    }

    /// Next line the simulator printed (state changes), within the wait limit.
    pub fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(WAIT).ok()
    }

    /// Blocks on PC/SC until the reader's card presence matches.
    pub fn wait_present(&self, present: bool) {
        wait_card_state(self.reader.name(), present);
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (via SCardGetStatusChange, no sleeps) until `reader` has or lacks a card.
pub fn wait_card_state(reader: &str, present: bool) {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("pcsc context");
    let name = CString::new(reader).expect("reader name");
    let mut st = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "card in {reader} did not become present={present}");
        match ctx.get_status_change(Some(left), &mut st) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => panic!("waiting for {reader}: {e}"),
        }
        let s = st[0].event_state();
        let is = s.contains(pcsc::State::PRESENT) && !s.contains(pcsc::State::MUTE);
        if is == present {
            return;
        }
        st[0].sync_current_state();
    }
}

/// Two consecutive free TCP ports (vpcd opens `port` and `port + 1` on all interfaces).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(a) = TcpListener::bind(("0.0.0.0", 0)) else { continue };
        let Ok(addr) = a.local_addr() else { continue };
        let p = addr.port();
        if p < u16::MAX && TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of TCP ports");
}

/// Path of a workspace binary (built by `cargo build --workspace --bins`, which the README's
/// test command runs before the tests).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: run `cargo build --workspace --bins` first", p.display());
    p
}

/// The demo world the tests share, generated once per seed and day (generation makes RSA
/// keys, so it is worth caching) under the target directory. Tests must copy a card profile
/// before using it: the simulator writes counters back.
pub fn shared_world() -> PathBuf {
    let today = today();
    let exe = std::env::current_exe().expect("test executable path");
    let root = exe.parent().and_then(Path::parent).expect("target dir").join("test-worlds");
    let dir = root.join(format!("seed-7-{today}"));
    if dir.join("manifest.json").exists() {
        return dir;
    }
    std::fs::create_dir_all(&root).expect("test-worlds dir");
    let tmp = tempfile::tempdir_in(&root).expect("temp world dir");
    madoguchi_sim::world::generate_world(tmp.path(), 7, today).expect("generate the demo world");
    let tmp = tmp.keep();
    // Another test may have won the race; then its world (identical by construction) stays.
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

/// Today's date (UTC is good enough for picking the world; generation is relative to it).
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The manifest entry of the first resident with all of `tags`.
pub fn resident_with(world: &Path, tags: &[&str]) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.join("manifest.json")).expect("manifest")).expect("manifest json");
    manifest["residents"]
        .as_array()
        .expect("residents")
        .iter()
        .find(|r| {
            let t = r["tags"].as_array().cloned().unwrap_or_default();
            tags.iter().all(|want| t.iter().any(|x| x == want))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no resident with tags {tags:?}"))
}

/// Copies a resident's card profile into `dir` (so the test's counters stay its own).
pub fn private_profile(world: &Path, relative: &str, dir: &Path) -> PathBuf {
    let src = world.join(relative);
    let dst = dir.join(src.file_name().expect("profile file name"));
    std::fs::copy(&src, &dst).expect("copy card profile");
    dst
}
