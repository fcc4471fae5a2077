//! Issuance end to end with the kiosk's real ccTalk driver: `madoguchi-lab demo --cash cctalk`
//! runs `madoguchi-sim cash` on a pty at 9600 baud as the kiosk's `cash.device`, and the
//! scenario's coins are dropped into that device. Each test checks the kiosk's money journal
//! and the backend's own record of the issuance (its SQLite database, which `/v1/settlement`
//! sums) against each other.

use madoguchi_tests::{bin, shared_world};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a scenario (a shipped name or a file) with the ccTalk cash unit; its result and output
/// directory (kept when the test fails).
fn run_cctalk(scenario: &str, out: &Path) -> Value {
    let status = Command::new(bin("madoguchi-lab"))
        .env("RUST_LOG", "warn")
        .args(["demo", "--headless", "--cash", "cctalk", "--scenario", scenario, "--out"])
        .arg(out)
        .arg("--world")
        .arg(shared_world())
        .arg("--scenarios-dir")
        .arg(scenarios())
        .status()
        .expect("run madoguchi-lab demo");
    let result: Value = serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{scenario}: no result.json ({e}); exit {status}; out {}", out.display()));
    assert!(
        result["passed"] == true && status.success(),
        "{scenario} failed through the ccTalk pty: {:#}; out {}",
        result["expectations"],
        out.display()
    );
    let toml = std::fs::read_to_string(out.join("kiosk.toml")).unwrap_or_default();
    assert!(toml.contains("protocol = \"cctalk\""), "the kiosk drove the ccTalk device:\n{toml}");
    result
}

fn scenarios() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("scenarios")
}

/// The money journal's lines of the run, as (kind, yen) with `yen` the entry's amount.
fn journal(out: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(out.join("state").join("money-journal.jsonl")).expect("money journal");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("journal line is JSON"))
        .map(|v| {
            let yen = ["yen", "total", "due"].iter().find_map(|k| v[*k].as_u64()).unwrap_or(0);
            (v["kind"].as_str().unwrap_or_default().to_string(), yen)
        })
        .collect()
}

/// The backend's record of each issuance: (total charged, status, refund, refund paid).
fn backend_issuances(out: &Path) -> Vec<(u64, String, u64, u64)> {
    let db = out.join("backend").join("backend.db");
    let o = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT total_yen, status, refund_yen, refund_paid_yen FROM issuances ORDER BY issued_at")
        .output()
        .expect("sqlite3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let n = |i: usize| f.get(i).and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
            (n(0), f.get(1).unwrap_or(&"").to_string(), n(2), n(3))
        })
        .collect()
}

fn sum(j: &[(String, u64)], kind: &str) -> u64 {
    j.iter().filter(|(k, _)| k == kind).map(|(_, y)| y).sum()
}

fn out_dir(name: &str) -> PathBuf {
    tempfile::Builder::new().prefix(&format!("cctalk-{name}-")).tempdir().expect("temp dir").keep()
}

/// The run's one issuance, both ways: (kept, paid out) by the kiosk's money journal; (status,
/// total, refund, refund paid) by the backend; the runner's net. The output is removed after.
fn assert_money(out: &Path, r: &Value, kiosk: (u64, u64), backend: (&str, u64, u64, u64), net: i64) {
    let j = journal(out);
    assert_eq!((sum(&j, "kept"), sum(&j, "paid_out")), kiosk, "kept and paid out by the journal: {j:?}");
    let b = backend_issuances(out);
    let (status, total, refund, paid) = backend;
    assert_eq!(b, vec![(total, status.to_string(), refund, paid)], "the backend's issuance");
    assert_eq!(r["net_yen"].as_i64(), Some(net), "{r:#}");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn exact_money_through_the_cctalk_pty_is_kept_and_settled_as_printed() {
    let out = out_dir("exact");
    let r = run_cctalk("residence-certificate", &out);
    let j = journal(&out);
    assert_eq!(j.iter().rev().find(|(k, _)| k == "inserted").map(|e| e.1), Some(200), "{j:?}");
    assert_eq!(r["kept_by_cash_unit_yen"].as_u64(), Some(200));
    assert_money(&out, &r, (200, 0), ("printed", 200, 0, 0), 200);
}

#[test]
fn a_500_yen_coin_for_a_200_yen_fee_gets_300_change_from_the_hopper() {
    let out = out_dir("change");
    // The everyday visit, paid with one 500-yen coin.
    let text = std::fs::read_to_string(scenarios().join("residence-certificate.toml")).expect("scenario");
    assert!(text.contains("insert_yen = \"exact\""));
    let text = text
        .replace("name = \"residence-certificate\"", "name = \"cctalk-change\"")
        .replace("insert_yen = \"exact\"", "insert_yen = [500]");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("cctalk-change.toml");
    std::fs::write(&file, text).unwrap();
    let r = run_cctalk(file.to_str().unwrap(), &out);
    // 200 kept, 300 change paid by the hopper.
    assert_money(&out, &r, (200, 300), ("printed", 200, 0, 0), 200);
}

#[test]
fn a_printer_jam_after_paying_is_refunded_by_the_hopper_and_settled_as_paid_back() {
    let out = out_dir("refund");
    let r = run_cctalk("printer-jam-refund", &out);
    assert_eq!(r["refunded_yen"].as_u64(), Some(200));
    // The whole fee back; the backend voids the issuance and records the refund paid at the kiosk.
    assert_money(&out, &r, (0, 200), ("voided", 200, 200, 200), 0);
}
