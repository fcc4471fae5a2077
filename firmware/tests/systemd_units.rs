//! The systemd units in deploy/systemd/: they load (`systemd-analyze verify`), carry what a
//! kiosk in a store needs (notify, watchdog, restart, device allow-list, limits), and their
//! hardening rates "OK" or better (`systemd-analyze security --offline`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit(name: &str) -> (PathBuf, String) {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../deploy/systemd")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

/// `systemd-analyze`, which CI installs (scripts/setup.sh); a missing one fails the test.
fn analyze(args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze (Debian package systemd, see scripts/setup.sh)")
}

/// The unit as installed, with its programs at the paths this build has.
fn installable(name: &str, programs: &[(&str, &str)], dir: &Path) -> PathBuf {
    let (_, mut text) = unit(name);
    for (installed, here) in programs {
        text = text.replace(installed, here);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn has(text: &str, key: &str, value: &str) -> bool {
    settings(text).iter().any(|(k, v)| k == key && v == value)
}

/// The exposure figure and its rating from `systemd-analyze security`'s last line.
fn exposure(path: &Path) -> (f32, String) {
    let out = analyze(&["security", "--offline=true", &path.display().to_string()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level: {text}{}", String::from_utf8_lossy(&out.stderr)));
    let rest = line.rsplit_once(": ").expect("level").1;
    let mut words = rest.split_whitespace();
    let score = words.next().and_then(|w| w.parse().ok()).expect("a score");
    (score, words.next().unwrap_or_default().to_string())
}

#[test]
fn the_kiosk_unit_loads_and_is_a_watched_hardened_notify_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = installable("madoguchi.service", &[("/usr/bin/madoguchi", env!("CARGO_BIN_EXE_madoguchi"))], dir.path());
    let out = analyze(&["verify", &path.display().to_string()]);
    assert!(out.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "warnings: {}", String::from_utf8_lossy(&out.stderr));

    let (_, text) = unit("madoguchi.service");
    for (k, v) in [
        ("Type", "notify"),
        ("WatchdogSec", "30s"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("StateDirectory", "madoguchi"),
        ("NoNewPrivileges", "yes"),
        ("LimitCORE", "0"),
        ("DevicePolicy", "closed"),
        ("DeviceAllow", "char-ttyUSB rw"),
        ("DeviceAllow", "char-gpiochip rw"),
        ("DeviceAllow", "char-drm rw"),
        ("DeviceAllow", "char-input r"),
        ("User", "madoguchi"),
    ] {
        assert!(has(&text, k, v), "madoguchi.service lacks {k}={v}");
    }
    assert!(settings(&text).iter().any(|(k, v)| k == "MemoryMax" && v.ends_with('M')));
    assert!(settings(&text).iter().any(|(k, v)| k == "After" && v.contains("pcscd")));
    // The start-up checks run before the kiosk and with its own configuration.
    assert!(has(&text, "ExecStartPre", "/usr/bin/madoguchi --config /etc/madoguchi/kiosk.toml --check"));

    let (score, rating) = exposure(&path);
    println!("madoguchi.service: exposure {score} {rating}");
    assert!(["OK", "SAFE", "PERFECT"].contains(&rating.as_str()), "exposure {score} {rating}");
}

#[test]
fn the_backend_unit_loads_and_is_hardened_alike() {
    let dir = tempfile::tempdir().unwrap();
    // This crate does not build the backend; any program at the path lets verify check the rest.
    let path = installable("madoguchi-backend.service", &[("/usr/bin/madoguchi-backend", "/bin/true")], dir.path());
    let out = analyze(&["verify", &path.display().to_string()]);
    assert!(out.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "warnings: {}", String::from_utf8_lossy(&out.stderr));
    let (_, text) = unit("madoguchi-backend.service");
    for (k, v) in [
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("StateDirectory", "madoguchi-backend"),
        ("NoNewPrivileges", "yes"),
        ("LimitCORE", "0"),
        ("PrivateDevices", "yes"),
    ] {
        assert!(has(&text, k, v), "madoguchi-backend.service lacks {k}={v}");
    }
    let (score, rating) = exposure(&path);
    println!("madoguchi-backend.service: exposure {score} {rating}");
    assert!(["OK", "SAFE", "PERFECT"].contains(&rating.as_str()), "exposure {score} {rating}");
}
