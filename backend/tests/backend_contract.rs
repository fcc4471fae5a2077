//! The API contract, checked by an outside tool: schemathesis generates requests from
//! `/v1/openapi.json` and sends them with a kiosk's client certificate. No reply may be a 5xx,
//! and every reply must match the document (status, content type, body schema).
//!
//! schemathesis is a Python tool (`pip install schemathesis`); the test runs the `st` found in
//! `SCHEMATHESIS` (scripts/setup.sh installs a pinned one and sets it) or on `PATH`; without one
//! it says so loudly and passes, except under CI (`CI` set), where it fails.

mod common;

use common::*;
use std::path::PathBuf;

fn schemathesis() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCHEMATHESIS") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("st")).find(|p| p.is_file())
}

#[test]
fn every_generated_request_gets_a_documented_reply_and_no_server_error() {
    let Some(st) = schemathesis() else {
        // scripts/test.sh installs it, so CI never passes this test without running it.
        assert!(std::env::var_os("CI").is_none(), "schemathesis is not installed: scripts/setup.sh installs it");
        eprintln!("SKIPPED: schemathesis is not installed (pip install schemathesis, or set SCHEMATHESIS=/path/to/st)");
        return;
    };
    let d = Deployment::new(None, "");
    let server = d.start();
    let kdir = d.enroll_kiosk("K401", "store A");
    let out = std::process::Command::new(&st)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", server.url))
        .arg("--request-cert")
        .arg(kdir.join("client.cert.pem"))
        .arg("--request-cert-key")
        .arg(kdir.join("client.key.pem"))
        .arg("--tls-verify")
        .arg(kdir.join("server-ca.cert.pem"))
        // What the contract promises; rejecting a well-formed request for a session that does
        // not exist is the API's right, so the "request accepted/rejected" checks are not run.
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", "30", "--seed", "1", "--no-color"])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Every operation of the document was exercised (not a vacuous pass).
    let tested = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let methods = ["get", "put", "post", "delete", "patch"];
    let paths = spec()["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().keys().filter(|k| methods.contains(&k.as_str())).count())
        .sum::<usize>();
    let selected = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Selected: "))
        .and_then(|n| n.split('/').nth(1))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    // schemathesis leaves out one operation of the 19 (it reports 18 of 18 selected).
    assert!(
        tested == selected && selected + 1 >= paths,
        "{tested} of {selected} operations tested, {paths} documented\n{stdout}"
    );
    assert!(
        out.status.success(),
        "schemathesis found contract violations:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
