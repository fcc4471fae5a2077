//! The shipped scenarios, each run as a resident would meet the kiosk: `madoguchi demo
//! --headless --scenario NAME` starts its own pcscd with vpcd, virtual cards, the backend and
//! the printer simulator, drives the real UI by action ids, and writes result.json. The
//! runner checks each scenario's own expectations (paper, money, tries left, idle only after
//! the card left, no PIN in logs or memory); these tests check the result and what it says.

use madoguchi_tests::{bin, shared_world};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scenario's output directory: removed when the test passes, kept (and named in the
/// failure message) when it fails.
struct Out(PathBuf);

impl std::ops::Deref for Out {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn run(name: &str) -> (Value, Out) {
    let out = Out(tempfile::Builder::new().prefix(&format!("scenario-{name}-")).tempdir().expect("temp dir").keep());
    let status = Command::new(bin("madoguchi-lab"))
        .env("RUST_LOG", "warn")
        .args(["demo", "--headless", "--scenario", name, "--out"])
        .arg(&*out)
        .arg("--world")
        .arg(shared_world())
        .arg("--scenarios-dir")
        .arg(
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
                .join("scenarios"),
        )
        .status()
        .expect("run madoguchi-lab demo");
    let result: Value = serde_json::from_slice(
        &std::fs::read(out.join("result.json"))
            .unwrap_or_else(|e| panic!("{name}: no result.json ({e}); madoguchi-lab demo exited {status}")),
    )
    .expect("result.json is JSON");
    let failed: Vec<&Value> = result["steps"].as_array().into_iter().flatten().filter(|s| s["ok"] != true).collect();
    let unmet: Vec<&Value> =
        result["expectations"].as_array().into_iter().flatten().filter(|s| s["ok"] != true).collect();
    assert!(
        result["passed"] == true && status.success(),
        "{name} failed (exit {status}); steps: {failed:#?}; expectations: {unmet:#?}; secrets: {}; out: {}",
        result["secrets_found"],
        out.display()
    );
    assert_eq!(result["secrets_found"], serde_json::json!([]), "{name}");
    let shots = std::fs::read_dir(out.join("screens")).map(|d| d.count()).unwrap_or(0);
    assert!(shots >= 2, "{name}: only {shots} screen pictures");
    (result, out)
}

fn printed(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(out.join("printed")).into_iter().flatten().flatten().map(|e| e.path()).collect();
    v.sort();
    v
}

#[test]
fn residence_certificate() {
    let (r, out) = run("residence-certificate");
    let apdus = r["apdu_count"].as_u64().expect("apdu_count");
    assert!(apdus <= 14, "{apdus} APDUs from card placed to authenticated (budget 14)");
    assert_eq!(printed(&out).len(), 1);
    // The paper cannot come out before its bytes crossed the line (a figure, not a budget).
    let to_paper = r["payment_to_paper_ms"].as_u64().expect("payment_to_paper_ms");
    let wire = r["paper_wire_ms"].as_u64().expect("paper_wire_ms");
    assert!(wire > 0 && to_paper + 50 >= wire, "payment to paper {to_paper} ms, wire {wire} ms");
    println!(
        "MEASURE residence-certificate: apdu_count={} machine_time_ms={} end_to_end_ms={} peak_rss_kb={} \
         payment_to_paper_ms={to_paper} paper_wire_ms={wire}",
        r["apdu_count"], r["machine_time_ms"], r["end_to_end_ms"], r["peak_rss_kb"]
    );
}

#[test]
fn tax_certificate() {
    let (_, out) = run("tax-certificate");
    assert_eq!(printed(&out).len(), 1);
}

#[test]
fn koseki_other_municipality() {
    let (_, out) = run("koseki-other-municipality");
    assert_eq!(printed(&out).len(), 1);
}

#[test]
fn wrong_pin_then_success() {
    run("wrong-pin-then-success");
}

#[test]
fn pin_locked() {
    let (r, out) = run("pin-locked");
    assert!(printed(&out).is_empty());
    assert_eq!(r["charged_yen"], 0);
}

#[test]
fn expired_certificate() {
    let (r, out) = run("expired-certificate");
    assert!(printed(&out).is_empty());
    assert_eq!(r["charged_yen"], 0);
    // The resident touched "finish" with the card still on the reader.
    take_card_heard(&r, &out, "ja");
}

/// `sox FILE -n [trim AT LEN] stat`: (length in seconds, RMS amplitude).
fn sox_stat(file: &Path, trim: Option<(f64, f64)>) -> (f64, f64) {
    let mut cmd = Command::new("sox");
    cmd.arg(file).arg("-n");
    if let Some((at, len)) = trim {
        cmd.args(["trim", &format!("{at:.4}"), &format!("{len:.4}")]);
    }
    let o = cmd.arg("stat").output().expect("sox (bash scripts/setup.sh installs it)");
    assert!(o.status.success(), "sox {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stderr);
    let field = |name: &str| -> f64 {
        let line =
            text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("sox stat has no {name}: {text}"));
        line.rsplit(':').next().and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    (field("Length (seconds)"), field("RMS     amplitude"))
}

/// The kiosk said "take your card" in `language`: result.json lists the prompt, and sox finds
/// that clip's speech in audio.wav where result.json places it, at the configured volume
/// (80 %, the default), with silence just before it.
fn take_card_heard(r: &Value, out: &Path, language: &str) {
    let prompts = r["voice"]["prompts"].as_array().unwrap_or_else(|| panic!("no voice prompts: {}", r["voice"]));
    let p = prompts
        .iter()
        .rev()
        .find(|p| p["id"] == "take-card")
        .unwrap_or_else(|| panic!("\"take your card\" was not played: {prompts:?}"));
    assert_eq!(p["language"], language);
    let at = p["audio_offset_ms"].as_f64().expect("audio_offset_ms") / 1000.0;
    let len = p["duration_ms"].as_f64().expect("duration_ms") / 1000.0;
    let audio = out.join(r["voice"]["audio"].as_str().expect("voice.audio"));
    let (total, _) = sox_stat(&audio, None);
    assert!(at + len <= total + 0.001, "the prompt ends at {:.3} s, audio.wav lasts {total:.3} s", at + len);
    let (seg_len, seg_rms) = sox_stat(&audio, Some((at, len)));
    let shipped = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join(format!("../voice/prompts/{language}/take-card.wav"));
    let (clip_len, clip_rms) = sox_stat(&shipped, None);
    assert!((seg_len - clip_len).abs() < 0.002, "segment {seg_len:.3} s, the clip {clip_len:.3} s");
    let ratio = seg_rms / clip_rms;
    assert!(
        (ratio - 0.8).abs() < 0.02,
        "speech at {at:.3} s: rms {seg_rms:.4}, the clip's {clip_rms:.4} (ratio {ratio:.3})"
    );
    if at > 0.3 {
        let (_, before) = sox_stat(&audio, Some((at - 0.25, 0.25)));
        assert!(before < 0.001, "no silence before the prompt (rms {before})");
    }
    println!("MEASURE voice: take-card at {at:.3} s of {total:.3} s, rms {seg_rms:.4}, {} prompts", prompts.len());
}

#[test]
fn renewal_notice() {
    run("renewal-notice");
}

#[test]
fn card_pulled_mid_session() {
    let (r, out) = run("card-pulled-mid-session");
    assert!(printed(&out).is_empty());
    assert_eq!(r["net_yen"], 0);
}

#[test]
fn printer_jam_refund() {
    let (r, _) = run("printer-jam-refund");
    assert_eq!(r["net_yen"], 0, "a jam must cost the resident nothing");
    assert!(r["refunded_yen"].as_u64().unwrap_or(0) > 0, "the fee was paid back");
}

/// The kiosk's audit log of a run (operator actions are audited there).
fn audit_log(out: &Path) -> String {
    std::fs::read_to_string(out.join("state").join("audit.log")).unwrap_or_default()
}

#[test]
fn operator_out_of_service() {
    let (r, out) = run("operator-out-of-service");
    assert!(printed(&out).is_empty());
    let audit = audit_log(&out);
    for action in ["operator-login", "operator:out-of-service", "operator:in-service", "refused: WrongPin"] {
        assert!(audit.contains(action), "{action} not audited:\n{audit}");
    }
    // As a number of its own: the PINs' digits turn up by chance inside timestamps and hashes.
    // The message names the lines, not their text: it would print the PIN it found.
    let pin_lines: Vec<usize> = audit
        .lines()
        .enumerate()
        .filter(|(_, line)| line.split(|c: char| !c.is_ascii_digit()).any(|d| d == "2468" || d == "1357"))
        .map(|(i, _)| i + 1)
        .collect();
    assert!(pin_lines.is_empty(), "an operator PIN in the audit log, on lines {pin_lines:?}");
    let screens: Vec<&str> = r["screens"].as_array().into_iter().flatten().filter_map(|s| s.as_str()).collect();
    assert!(screens.contains(&"out-of-service"), "{screens:?}");
}

#[test]
fn door_opened_without_key() {
    let (_, out) = run("door-opened-without-key");
    let audit = audit_log(&out);
    assert!(audit.contains("door-opened-without-key"), "the tampering is audited:\n{audit}");
    assert!(audit.contains("alert-sent"), "the backend took the alert (POST /v1/alerts):\n{audit}");
    assert!(audit.contains("operator:in-service"), "{audit}");
}

#[test]
fn operator_clears_jam() {
    let (r, out) = run("operator-clears-jam");
    assert!(printed(&out).is_empty());
    assert_eq!(r["net_yen"], 0, "a jam must cost the resident nothing");
    let audit = audit_log(&out);
    assert!(audit.contains("refused: PrinterNotReady"), "cleared too early is refused:\n{audit}");
    assert!(audit.contains("printer answers ready"), "{audit}");
}

#[test]
fn operator_test_print() {
    let (r, out) = run("operator-test-print");
    let pdfs = printed(&out);
    assert_eq!(pdfs.len(), 1, "the printer emulator received one job: {pdfs:?}");
    let name = pdfs[0].file_name().unwrap_or_default().to_string_lossy().into_owned();
    assert!(name.contains("MIHON-SAMPLE"), "the PJL job is named by the sample number: {name}");
    let text = Command::new("pdftotext").arg(&pdfs[0]).arg("-").output().expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("見本"), "the page says 見本:\n{text}");
    assert_eq!(r["charged_yen"], 0);
    let audit = audit_log(&out);
    assert!(audit.contains("operator:test-print") && audit.contains("sample printed: 1 page(s)"), "{audit}");
}

#[test]
fn operator_totals() {
    let (_, out) = run("operator-totals");
    assert_eq!(printed(&out).len(), 1);
    let journal = std::fs::read_to_string(out.join("state").join("money-journal.jsonl")).unwrap_or_default();
    let counts: Vec<&str> = journal.lines().filter(|l| l.contains("operator_count")).collect();
    assert_eq!(counts.len(), 2, "both counts are in the money journal: {journal}");
    assert!(counts[0].contains("\"counted\":200") && counts[0].contains("\"unit_says\":200"), "{}", counts[0]);
    assert!(counts[1].contains("\"counted\":1000") && counts[1].contains("\"unit_says\":0"), "{}", counts[1]);
    let audit = audit_log(&out);
    assert!(audit.contains("operator:totals") && audit.contains("operator:collect-cash"), "{audit}");
}

#[test]
fn stale_print_job() {
    // The Yokohama pattern: a job the kiosk gave up on must not print on under the next visit.
    let (r, out) = run("stale-print-job");
    let docs = printed(&out);
    assert_eq!(docs.len(), 1, "only the next visit's certificate came out: {docs:?}");
    assert_eq!(r["refunded_yen"], 200, "the cut-off visit's fee came back");
    assert_eq!(r["net_yen"], 200, "one fee kept, for the one document");
}

#[test]
fn session_timeout() {
    let (r, out) = run("session-timeout");
    assert!(printed(&out).is_empty());
    assert_eq!(r["net_yen"], 0);
}

#[test]
fn out_of_hours() {
    let (r, out) = run("out-of-hours");
    assert!(printed(&out).is_empty());
    assert_eq!(r["charged_yen"], 0);
}

#[test]
fn english_resident() {
    let (r, _) = run("english-resident");
    // Spoken in the resident's language, each reminder once, in the order of the visit.
    let said: Vec<String> = r["voice"]["prompts"]
        .as_array()
        .expect("voice prompts")
        .iter()
        .map(|p| format!("{}/{}", p["language"].as_str().unwrap_or("?"), p["id"].as_str().unwrap_or("?")))
        .collect();
    let want = ["en/place-card", "en/enter-pin", "en/remove-card", "en/insert-money"];
    assert_eq!(said.get(..4), Some(&want.map(String::from)[..]), "{said:?}");
    assert!(said[4..].iter().any(|s| s.starts_with("en/take-documents")), "{said:?}");
}

#[test]
fn backend_down_refund() {
    let (r, out) = run("backend-down-refund");
    assert!(printed(&out).is_empty());
    assert_eq!(r["net_yen"], 0, "no document, no fee");
    assert!(r["refunded_yen"].as_u64().unwrap_or(0) > 0);
}

// ---- the PIN reset and the phones -------------------------------------------------------

/// The runner VERIFYed this `[expect]` value on the card at the end (`expect.pin`, …).
fn card_took(r: &Value, what: &str) {
    let found = r["expectations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["what"].as_str().is_some_and(|w| w.starts_with(what)));
    assert_eq!(found.map(|e| e["ok"].clone()), Some(Value::Bool(true)), "{what}: {found:?}");
}

/// A refused reset: nothing printed, nothing charged, both credentials as they were.
fn refused(name: &str) {
    let (r, out) = run(name);
    assert!(printed(&out).is_empty());
    assert_eq!(r["net_yen"], 0);
    card_took(&r, "expect.pin");
}

/// Once the new value is confirmed, the card sees exactly GET CHALLENGE, RESET RETRY COUNTER and
/// the confirming VERIFY: no other command, and no try of the credential risked.
fn reset_is_three_apdus(r: &Value) {
    assert_eq!(r["pin_reset"]["apdus"], 3, "{}", r["pin_reset"]);
    assert!(r["pin_reset"]["wall_ms"].as_u64().is_some(), "{}", r["pin_reset"]);
}

#[test]
fn pin_reset_auth() {
    let (r, out) = run("pin-reset-auth");
    assert!(printed(&out).is_empty());
    assert_eq!(r["charged_yen"], 0, "a reset is free");
    reset_is_three_apdus(&r);
    card_took(&r, "expect.pin");
    card_took(&r, "expect.password");
}

#[test]
fn pin_reset_sign() {
    let (r, _) = run("pin-reset-sign");
    reset_is_three_apdus(&r);
    card_took(&r, "expect.pin");
    card_took(&r, "expect.password");
}

#[test]
fn pin_reset_mismatch() {
    let (r, _) = run("pin-reset-mismatch");
    // The mismatch was caught before the card: the confirmed value's reset alone reached it.
    reset_is_three_apdus(&r);
    card_took(&r, "expect.pin");
}

#[test]
fn pin_reset_blocked_pin() {
    let (r, out) = run("pin-reset-blocked-pin");
    assert_eq!(printed(&out).len(), 1, "the 住民票 with the new PIN");
    card_took(&r, "expect.pin");
}

#[test]
fn pin_reset_no_reservation() {
    refused("pin-reset-no-reservation");
}

#[test]
fn pin_reset_expired_reservation() {
    refused("pin-reset-expired-reservation");
}

#[test]
fn pin_reset_moved() {
    refused("pin-reset-moved");
}

#[test]
fn pin_reset_under_15() {
    refused("pin-reset-under-15");
}

#[test]
fn android_phone() {
    let (_, out) = run("android-phone");
    assert_eq!(printed(&out).len(), 1);
}

#[test]
fn iphone() {
    let (r, out) = run("iphone");
    assert_eq!(printed(&out).len(), 1);
    let screens = r["screens"].to_string();
    assert!(!screens.contains("pin-entry"), "no PIN is asked of an iPhone: {screens}");
}

#[test]
fn suspended_phone() {
    let (r, out) = run("suspended-phone");
    assert!(printed(&out).is_empty());
    assert_eq!(r["charged_yen"], 0);
}

#[test]
fn household_juminhyo() {
    let (r, out) = run("household-juminhyo");
    let files = printed(&out);
    assert_eq!(files.len(), 1);
    // Two people on the one 住民票: the resident and the chosen member, each with their own
    // row of dates; the runner has checked the names (and that another household's is absent).
    let o = Command::new("pdftotext").arg(&files[0]).arg("-").output().expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.matches("住民となった年月日").count(), 2, "two persons: {text}");
    assert_eq!(r["net_yen"], 200, "one copy, whatever the number of people on it");
}

/// A resident whose registered name has a variant kanji (山﨑) and nothing else wrong: the paper
/// carries the registered name, never the certificate's substitute 崎, and keeps it extractable.
#[test]
fn variant_kanji_juminhyo() {
    let (text, _) = the_one_document("variant-kanji-juminhyo");
    assert!(text.contains("山﨑翔太") && !text.contains('崎'), "{text}");
}

/// Runs a scenario that prints one document: its text as `pdftotext -layout` reads it, white
/// space aside, and what `pdffonts` says of it.
fn the_one_document(name: &str) -> (String, String) {
    let (_, out) = run(name);
    let files = printed(&out);
    assert_eq!(files.len(), 1, "{name}");
    let o =
        Command::new("pdftotext").arg("-layout").arg(&files[0]).arg("-").output().expect("pdftotext (poppler-utils)");
    let text: String = String::from_utf8_lossy(&o.stdout).chars().filter(|c| !c.is_whitespace()).collect();
    let fonts = Command::new("pdffonts").arg(&files[0]).output().expect("pdffonts (poppler-utils)");
    (text, String::from_utf8_lossy(&fonts.stdout).into_owned())
}

/// A name written with an ideographic variation sequence (邉 + U+E0110): printed from IPAmj明朝
/// and read back as base and selector.
#[test]
fn ivs_name_juminhyo() {
    let (text, fonts) = the_one_document("ivs-name-juminhyo");
    assert!(text.contains("渡邉\u{E0110}美咲"), "{text}");
    assert!(fonts.contains("IPAmjMincho"), "{fonts}");
}

#[test]
fn backend_refuses_then_slow() {
    let (r, out) = run("backend-refuses-then-slow");
    // The refused visit left nothing behind; the slow one printed.
    assert_eq!(printed(&out).len(), 1);
    assert_eq!(r["issuances"].as_array().map(Vec::len), Some(1), "{}", r["issuances"]);
    let screens = r["screens"].to_string();
    assert!(screens.contains("\"failure\"") && screens.contains("take-documents"), "{screens}");
}

/// Two residents of different households in a row, each typing their own PIN: two documents,
/// each with its own resident's name, and afterwards neither PIN anywhere in the kiosk's
/// memory, as ASCII or as the digit:N touches that typed it (`run` fails on any finding).
#[test]
fn two_residents() {
    let (r, out) = run("two-residents");
    assert_eq!(printed(&out).len(), 2);
    assert_eq!(r["net_yen"], 400);
    let scans: Vec<&str> = r["expectations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["what"].as_str())
        .filter(|w| w.contains("audit.log"))
        .collect();
    assert_eq!(scans, ["the kiosk's audit.log chain verifies"]);
}
