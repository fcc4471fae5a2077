//! The .deb packages of `scripts/package.sh`: what they hold, that their dependencies cover the
//! kiosk's shared libraries, and an install into an empty root (`dpkg --root`, maintainer
//! scripts run chrootless with `$DPKG_ROOT`) from which the installed `madoguchi` reads its
//! installed configuration against the installed backend, serving; then an upgrade that keeps
//! the site's kiosk.toml and the state.
//!
//! Also the Takamatsu check (kiosk-domain.md §8) through the binaries: a kiosk whose site says
//! "multi" refuses a single-instance backend, tells systemd why and never reports READY; and
//! the kiosk without a screen: no DRM/KMS device, a clear message and exit status 4.

mod common;
use common::NotifyListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())).join("..")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The kiosk binary of this test build and the backend's beside it (`cargo build` builds both;
/// scripts/test.sh builds every binary before the tests).
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_madoguchi")).parent().unwrap().to_path_buf();
    assert!(
        dir.join("madoguchi-backend").is_file(),
        "{}/madoguchi-backend is missing: `cargo build -p madoguchi-backend` first",
        dir.display()
    );
    dir
}

/// Builds both packages at `version` into `out`, the kiosk's with `kiosk_config` as its
/// kiosk.toml (none: the example); (kiosk .deb, backend .deb).
fn package(out: &Path, version: &str, bins: &Path, kiosk_config: Option<&Path>) -> (PathBuf, PathBuf) {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/package.sh"));
    if let Some(file) = kiosk_config {
        cmd.arg("--kiosk-config").arg(file);
    }
    let o = run(cmd
        .args(["--out", out.to_str().unwrap(), "--version", version, "--bin-dir", bins.to_str().unwrap()])
        // xz of a debug binary takes minutes on a busy machine; the contents are the same
        .args(["--compression", "none"]));
    let debs: Vec<PathBuf> = String::from_utf8_lossy(&o.stdout).lines().map(PathBuf::from).collect();
    let find = |name: &str| {
        debs.iter()
            .find(|d| d.file_name().unwrap().to_str().unwrap().starts_with(&format!("{name}_{version}_")))
            .unwrap_or_else(|| panic!("no {name} package in {debs:?}"))
            .clone()
    };
    (find("madoguchi"), find("madoguchi-backend"))
}

fn field(deb: &Path, name: &str) -> String {
    text(&run(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))).trim().to_string()
}

/// An empty root dpkg can install into.
fn empty_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    root
}

fn dpkg_install(root: &Path, debs: &[&Path]) -> Output {
    // The root has no libc or fonts: dependencies are checked above, not by this install.
    // --force-confold as unattended upgrades run it (apt-get -o Dpkg::Options::=--force-confold):
    // no one answers the conffile question at a kiosk.
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--force-depends", "--force-not-root", "--force-confold", "-i"])
        .args(debs)
        .stdin(std::process::Stdio::null()))
}

/// kiosk.toml's neighbours the example names (certificates, trust anchors), as a site has them.
fn site_files(dir: &Path) {
    for f in ["backend-ca.pem", "kiosk.crt", "kiosk.key"] {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    std::fs::create_dir_all(dir.join("jpki-anchors")).unwrap();
}

/// `madoguchi-backend` (from `bin`) initialised in `dir` and serving mutual TLS on a free
/// loopback port (SQLite: a single-instance deployment), with one kiosk enrolled; killed when
/// dropped.
struct LiveBackend {
    server: std::process::Child,
    url: String,
    /// The kiosk's credential: `client.cert.pem`, `client.key.pem`, `server-ca.cert.pem`,
    /// `backend-signing.pub`.
    kiosk: PathBuf,
}

impl LiveBackend {
    fn start(bin: &Path, dir: &Path) -> LiveBackend {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
        let config = dir.join("madoguchi-backend.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\nlisten = \"127.0.0.1:{port}\"\npublic_listen = \"\"\nkeys_dir = \"{}\"\n\
                 jpki_anchors_dir = \"\"\nlog = \"warn\"\n",
                dir.join("madoguchi.db").display(),
                dir.join("keys").display()
            ),
        )
        .unwrap();
        let cli = |args: &[&str]| run(Command::new(bin).arg("--config").arg(&config).args(args));
        cli(&["init"]);
        let kiosk = dir.join("kiosk-credential");
        cli(&[
            "kiosk",
            "enroll",
            "--id",
            "K-0001",
            "--store",
            "ローソン 横浜駅西口店",
            "--out",
            kiosk.to_str().unwrap(),
        ]);
        let mut server = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some(format!("127.0.0.1:{port}").as_str()), "{line:?}");
        LiveBackend { server, url: format!("https://127.0.0.1:{port}"), kiosk }
    }

    /// `kiosk_toml` with its `[backend]` pointed at this backend and the site's `deployment`.
    fn configure(&self, kiosk_toml: &Path, deployment: &str) {
        let key = std::fs::read_to_string(self.kiosk.join("backend-signing.pub")).unwrap();
        let q = |f: &str| self.kiosk.join(f).display().to_string();
        let text = std::fs::read_to_string(kiosk_toml).unwrap();
        let mut out = String::new();
        let mut section = String::new();
        for line in text.lines() {
            if line.starts_with('[') {
                section = line.to_string();
            }
            let key_of = line.split_once(" = ").map(|(k, _)| k.trim());
            let line = match (section.as_str(), key_of) {
                ("[backend]", Some("url")) => format!("url = \"{}\"", self.url),
                ("[backend]", Some("ca")) => format!("ca = \"{}\"", q("server-ca.cert.pem")),
                ("[backend]", Some("client_certificate")) => {
                    format!("client_certificate = \"{}\"", q("client.cert.pem"))
                }
                ("[backend]", Some("client_key")) => format!("client_key = \"{}\"", q("client.key.pem")),
                ("[backend]", Some("document_key")) => format!("document_key = \"{}\"", key.trim()),
                ("[backend]", Some("deployment")) => format!("deployment = \"{deployment}\""),
                _ => line.to_string(),
            };
            out.push_str(&line);
            out.push('\n');
        }
        assert!(
            out.contains(&format!("deployment = \"{deployment}\"")),
            "no backend.deployment in {}",
            kiosk_toml.display()
        );
        std::fs::write(kiosk_toml, out).unwrap();
    }
}

impl Drop for LiveBackend {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// `madoguchi --config CONFIG [--check]` as systemd runs it; its output and what systemd heard.
fn kiosk_run(program: &Path, config: &Path, check: bool, notify: &NotifyListener) -> (Output, Vec<String>) {
    let mut cmd = Command::new(program);
    cmd.arg("--config").arg(config).env("NOTIFY_SOCKET", &notify.path).env("WATCHDOG_USEC", "2000000");
    if check {
        cmd.arg("--check");
    }
    let out = cmd.output().unwrap();
    (out, notify.drain())
}

#[test]
fn the_packages_hold_binary_unit_config_and_rules_and_depend_on_what_the_kiosk_links() {
    let tmp = tempfile::tempdir().unwrap();
    let (kiosk, backend) = package(tmp.path(), "0.1.0", &bin_dir(), None);

    let files = text(&run(Command::new("dpkg-deb").arg("-c").arg(&kiosk)));
    for f in [
        "./usr/bin/madoguchi",
        "./usr/lib/systemd/system/madoguchi.service",
        "./usr/lib/udev/rules.d/60-madoguchi.rules",
        "./usr/lib/sysusers.d/madoguchi.conf",
        "./etc/madoguchi/kiosk.toml",
    ] {
        assert!(files.lines().any(|l| l.ends_with(f)), "{f} missing from the kiosk package:\n{files}");
    }
    assert_eq!(field(&kiosk, "Package"), "madoguchi");
    let conffiles = text(&run(Command::new("dpkg-deb").arg("-I").arg(&kiosk).arg("conffiles")));
    assert_eq!(conffiles.trim(), "/etc/madoguchi/kiosk.toml");
    let depends = field(&kiosk, "Depends");
    for d in ["fonts-ipaexfont-mincho", "fonts-ipaexfont-gothic", "fonts-ipamj-mincho", "pcscd", "libinput10"] {
        assert!(depends.contains(d), "kiosk Depends lacks {d}: {depends}");
    }
    // every shared library the kiosk links itself (NEEDED; theirs are their packages' matter)
    // comes from a package it depends on
    let dynamic = text(&run(Command::new("readelf").arg("-d").arg(env!("CARGO_BIN_EXE_madoguchi"))));
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(needed.iter().any(|n| n.starts_with("libinput.so")), "the kms build links libinput: {needed:?}");
    let ldd = text(&run(Command::new("ldd").arg(env!("CARGO_BIN_EXE_madoguchi"))));
    let linked = ldd
        .lines()
        .filter_map(|l| l.trim().split_once(" => "))
        .filter(|(soname, _)| needed.contains(soname))
        .filter_map(|(_, r)| r.split_whitespace().next());
    for lib in linked {
        // merged /usr: ldd may name /lib/… where the package installed /usr/lib/…
        let owner = [lib.to_string(), format!("/usr{lib}")]
            .iter()
            .map(|p| Command::new("dpkg").args(["-S", p]).output().unwrap())
            .find(|o| o.status.success())
            .map(|o| text(&o))
            .unwrap_or_else(|| panic!("no package holds {lib}"));
        let pkg = owner.split(':').next().unwrap().trim();
        assert!(
            depends.split(", ").any(|d| d.split_whitespace().next() == Some(pkg)),
            "{lib} is in {pkg}, not in Depends: {depends}"
        );
    }

    let files = text(&run(Command::new("dpkg-deb").arg("-c").arg(&backend)));
    for f in [
        "./usr/bin/madoguchi-backend",
        "./usr/lib/systemd/system/madoguchi-backend.service",
        "./etc/madoguchi-backend/madoguchi-backend.toml",
    ] {
        assert!(files.lines().any(|l| l.ends_with(f)), "{f} missing from the backend package:\n{files}");
    }
}

#[test]
fn installed_into_an_empty_root_the_kiosk_checks_and_an_upgrade_keeps_config_and_state() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = bin_dir();
    let (kiosk, backend) = package(&tmp.path().join("v1"), "0.1.0", &bins, None);
    let root = empty_root(tmp.path());
    dpkg_install(&root, &[&kiosk, &backend]);

    // the system users, made by the postinst through systemd-sysusers into this root
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.lines().any(|l| l.starts_with("madoguchi:")), "{passwd}");
    assert!(passwd.lines().any(|l| l.starts_with("madoguchi-backend:")), "{passwd}");
    assert!(root.join("var/lib/madoguchi").is_dir());
    // the kiosk's user may read its configuration, nobody else
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    let gid: u32 =
        group.lines().find(|l| l.starts_with("madoguchi:")).and_then(|l| l.split(':').nth(2)).unwrap().parse().unwrap();
    let meta = std::fs::metadata(root.join("etc/madoguchi/kiosk.toml")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.gid(), meta.mode() & 0o777), (gid, 0o640));

    // the installed kiosk reads the installed configuration: as shipped it names files the
    // site has yet to provide, and says which
    let installed = root.join("usr/bin/madoguchi");
    let config = root.join("etc/madoguchi/kiosk.toml");
    let notify = NotifyListener::bind(tmp.path());
    let (out, heard) = kiosk_run(&installed, &config, true, &notify);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("backend.ca: no such file"), "{}", text(&out));
    assert!(!heard.iter().any(|d| d.contains("READY=1")), "{heard:?}");
    // the site's files, and the installed backend serving (SQLite: a single-instance site)
    site_files(&root.join("etc/madoguchi"));
    let backend_dir = tmp.path().join("backend");
    std::fs::create_dir_all(&backend_dir).unwrap();
    let backend = LiveBackend::start(&root.join("usr/bin/madoguchi-backend"), &backend_dir);
    // a kiosk told its site runs several backends on PostgreSQL refuses this one (Takamatsu):
    // a message for staff naming both modes, the reason in `systemctl status`, never READY
    backend.configure(&config, "multi");
    let (out, heard) = kiosk_run(&installed, &config, true, &notify);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("the backend runs as a single deployment, but backend.deployment in kiosk.toml says multi"),
        "{}",
        text(&out)
    );
    assert!(!heard.iter().any(|d| d.contains("READY=1")), "{heard:?}");
    assert!(
        heard.iter().any(|d| d.starts_with("STATUS=cannot start: backend: the backend runs as a single")),
        "{heard:?}"
    );
    // the right mode: the backend passes and the check goes on to the screen (this machine
    // has none: see below)
    backend.configure(&config, "single");
    let (out, heard) = kiosk_run(&installed, &config, true, &notify);
    assert!(!text(&out).contains("backend:"), "{}", text(&out));
    if no_drm_here() {
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
        assert!(text(&out).contains("no DRM/KMS display device"), "{}", text(&out));
        assert!(heard.iter().any(|d| d.starts_with("STATUS=cannot start: display:")), "{heard:?}");
    }
    assert!(!heard.iter().any(|d| d.contains("READY=1")), "{heard:?}");
    drop(backend);
    let out = run(Command::new(root.join("usr/bin/madoguchi-backend")).arg("config-keys"));
    assert!(text(&out).contains("database"), "{}", text(&out));

    // the site edits its configuration; the kiosk has kept state
    let edited = std::fs::read_to_string(&config).unwrap().replace("ローソン 横浜駅西口店", "ローソン 清瀬中里店");
    std::fs::write(&config, &edited).unwrap();
    std::fs::write(root.join("var/lib/madoguchi/audit.log"), "evidence\n").unwrap();

    // the next version ships a changed kiosk.toml (as every release with a new key does): the
    // site's stays, the package's new one lands beside it for staff to compare
    let shipped = std::fs::read_to_string(repo().join("firmware/kiosk.example.toml")).unwrap();
    let next_example = tmp.path().join("kiosk.example.next.toml");
    std::fs::write(&next_example, format!("{shipped}\n# a key of the next version\n")).unwrap();
    let (kiosk2, backend2) = package(&tmp.path().join("v2"), "0.1.0+1", &bins, Some(&next_example));
    let out = dpkg_install(&root, &[&kiosk2, &backend2]);
    let status = text(&run(Command::new("dpkg").arg(format!("--root={}", root.display())).args(["-s", "madoguchi"])));
    assert!(status.contains("Version: 0.1.0+1"), "{status}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited, "dpkg said: {}", text(&out));
    assert_eq!(std::fs::read_to_string(root.join("var/lib/madoguchi/audit.log")).unwrap(), "evidence\n");
    assert!(!root.join("etc/madoguchi/kiosk.toml.dpkg-new").exists());
    let beside = std::fs::read_to_string(root.join("etc/madoguchi/kiosk.toml.dpkg-dist")).unwrap();
    assert!(beside.ends_with("# a key of the next version\n"), "{beside}");
    // the state directory is the service's alone, before and after
    assert_eq!(std::fs::metadata(root.join("var/lib/madoguchi")).unwrap().mode() & 0o777, 0o700);
    // and the upgraded kiosk still reads the site's configuration and checks its backend first
    std::fs::create_dir_all(backend_dir.join("again")).unwrap();
    let backend = LiveBackend::start(&root.join("usr/bin/madoguchi-backend"), &backend_dir.join("again"));
    backend.configure(&config, "multi");
    let (out, _) = kiosk_run(&installed, &config, true, &notify);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("kiosk.toml says multi"), "{}", text(&out));
}

fn no_drm_here() -> bool {
    std::fs::read_dir("/dev/dri")
        .map_or(true, |d| !d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("card")))
}

/// No vkms here (no /dev/dri, no kernel modules to load): the kiosk must say so and leave
/// with its own status, not crash or wait.
#[test]
fn without_a_drm_device_the_kiosk_says_so_and_exits_4() {
    if !no_drm_here() {
        eprintln!("this machine has a DRM device; the no-display path is not reachable here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    site_files(dir.path());
    let config = dir.path().join("kiosk.toml");
    std::fs::copy(repo().join("firmware/kiosk.example.toml"), &config).unwrap();
    // a backend that matches, so the screen is what is missing
    let backend_dir = dir.path().join("backend");
    std::fs::create_dir_all(&backend_dir).unwrap();
    let backend = LiveBackend::start(&bin_dir().join("madoguchi-backend"), &backend_dir);
    backend.configure(&config, "single");
    let notify = NotifyListener::bind(dir.path());
    let (out, heard) = kiosk_run(Path::new(env!("CARGO_BIN_EXE_madoguchi")), &config, false, &notify);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no DRM/KMS display device (no /dev/dri/card*)"), "{err}");
    assert!(err.contains("kernel driver loaded"), "{err}");
    assert!(heard.iter().any(|d| d.starts_with("STATUS=cannot start: display:")), "{heard:?}");
    assert!(!heard.iter().any(|d| d.contains("READY=1")), "{heard:?}");
    // nothing was started: no state directory beside the configuration
    assert!(!dir.path().join("state").exists());
}
