//! Test harness for the end-to-end tests: an isolated pcscd with vpcd per test, virtual cards
//! as real processes, the demo world, and the paths of the workspace's binaries.
//!
//! Isolation: pcscd's socket path is fixed (`/run/pcscd/pcscd.comm`), so each test re-runs
//! itself inside private mount and PID namespaces (`unshare -m -p -f`) with a tmpfs over
//! `/run/pcscd`. Its pcscd, vpcd ports and virtual cards are its own, and when the test process
//! ends, however it ends, the kernel kills everything it started (it is PID 1 there).
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Environment variable marking the re-executed, isolated run.
const INSIDE: &str = "MADOGUCHI_TEST_ISOLATED";

/// Reader names vpcd gives its two slots; the tests use slot 0 as the contact reader and
/// slot 1 as the contactless one.
pub use madoguchi_sim::lab::{CONTACTLESS_READER, CONTACT_READER};

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

/// A private pcscd with vpcd's two slots on free ports (`madoguchi_sim::lab`, which the demo
/// uses too).
pub struct PcscLab {
    pcscd: madoguchi_sim::lab::Pcscd,
    /// vpcd's port for slot 0; slot 1 is `port + 1`.
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl PcscLab {
    fn start() -> PcscLab {
        let dir = tempfile::tempdir().expect("temp dir");
        let pcscd = madoguchi_sim::lab::Pcscd::start(dir.path()).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("pcscd.log")).unwrap_or_default();
            panic!("{e}; pcscd log: {log}")
        });
        PcscLab { port: pcscd.port, pcscd, dir }
    }

    pub fn pcscd_log(&self) -> String {
        std::fs::read_to_string(&self.pcscd.log).unwrap_or_default()
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
    madoguchi_sim::lab::wait_card_state(reader, present, WAIT).unwrap_or_else(|e| panic!("{e}"));
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
    // The suffix names the generator's generation: a world cached by an older build (a reused
    // target directory) is not taken for today's.
    let dir = root.join(format!("seed-7-{today}-v{}", madoguchi_sim::world::GENERATION));
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
