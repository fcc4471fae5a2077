//! The kiosk binary hardens itself before it can hold a PIN: `madoguchi card auth-check` waits
//! for a PIN on standard input, and while it waits its limits and locked memory are read from
//! /proc as any operator would.

use madoguchi_tests::bin;
use std::process::{Command, Stdio};

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim)
}

#[test]
fn the_binary_forbids_core_files_and_locks_its_memory_before_reading_a_pin() {
    let mut child = Command::new(bin("madoguchi"))
        .args(["card", "auth-check", "--contact", "no such reader"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("madoguchi");
    let pid = child.id();
    // The process is up once its memory map is (hardening comes before anything reads stdin;
    // poll /proc for the state, with a bound on the number of looks, not on time).
    let mut limits = String::new();
    let mut status = String::new();
    for _ in 0..200 {
        limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
        status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let core_zero =
            limits.lines().any(|l| l.starts_with("Max core file size") && l.split_whitespace().nth(4) == Some("0"));
        if core_zero && field(&status, "VmLck:").is_some_and(|v| v != "0 kB") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    drop(child.stdin.take());
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap_or_default();
    assert_eq!(core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(), ["0", "0"], "{core}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let locked = field(&status, "VmLck:").unwrap_or_default();
    // Locking needs CAP_IPC_LOCK or RLIMIT_MEMLOCK (root here): where allowed it must hold.
    if !stderr.contains("mlockall failed") {
        assert_ne!(locked, "0 kB", "VmLck of the waiting process; stderr: {stderr}");
    }
}
