//! An independent JPKI client, OpenSC (Debian's `opensc`), takes the virtual card for a JPKI
//! card: PKCS#15 objects, PIN counters, and a PKCS#11 signature that openssl verifies.

use madoguchi_tests::{private_profile, resident_with, shared_world, PcscLab, Reader};
use std::path::Path;
use std::process::{Command, Output};

const PKCS11_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} must be installed (apt-get install opensc openssl): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn apdu_lines(log: &Path) -> usize {
    std::fs::read_to_string(log).map(|s| s.lines().count()).unwrap_or(0)
}

#[test]
fn opensc_takes_the_virtual_card_for_jpki() {
    let Some(lab) = PcscLab::isolated("opensc_takes_the_virtual_card_for_jpki") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult", "household-head"]);
    let pin = r["auth_pin"].as_str().unwrap().to_string();
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let log = lab.dir.path().join("apdu.log");
    let log_arg = log.to_str().unwrap().to_string();
    let _card = lab.insert(&profile, Reader::Contact, &["--apdu-log", &log_arg]);

    // The jpki driver is chosen (by AID probing: our ATR is not the one OpenSC matches).
    let name = text(&run("opensc-tool", &["-n"]));
    assert!(name.contains("jpki"), "opensc-tool -n: {name}");

    let dump = text(&run("pkcs15-tool", &["-D"]));
    assert_eq!(dump.matches("X.509 Certificate").count(), 4, "{dump}");
    assert_eq!(dump.matches("PIN [").count(), 2, "{dump}");
    assert!(dump.contains("User Authentication PIN") && dump.contains("Digital Signature PIN"), "{dump}");

    let pins = text(&run("pkcs15-tool", &["--list-pins"]));
    assert!(pins.contains("Tries left"), "{pins}");
    let tries: Vec<&str> = pins.lines().filter(|l| l.contains("Tries left")).collect();
    assert_eq!(tries.len(), 2, "{pins}");
    assert!(tries[0].trim_end().ends_with('3') && tries[1].trim_end().ends_with('5'), "{pins}");

    // APDUs OpenSC spends to read the user-authentication certificate (for comparison with
    // our driver's 1 + ceil(len/256)).
    let before = apdu_lines(&log);
    let cert_path = lab.dir.path().join("auth.pem");
    run("pkcs15-tool", &["--read-certificate", "01", "-o", cert_path.to_str().unwrap()]);
    println!("MEASURE OpenSC pkcs15-tool --read-certificate 01: {} APDUs", apdu_lines(&log) - before);

    let msg = lab.dir.path().join("msg.bin");
    std::fs::write(&msg, b"challenge from the issuance centre").unwrap();
    let sig = lab.dir.path().join("sig.bin");
    let slots = text(&run("pkcs11-tool", &["--module", PKCS11_MODULE, "-L"]));
    assert!(slots.contains("JPKI (User Authentication PIN)"), "{slots}");
    run(
        "pkcs11-tool",
        &[
            "--module",
            PKCS11_MODULE,
            "--token-label",
            "JPKI (User Authentication PIN)",
            "--login",
            "--pin",
            &pin,
            "--sign",
            "--id",
            "01",
            "-m",
            "SHA256-RSA-PKCS",
            "-i",
            msg.to_str().unwrap(),
            "-o",
            sig.to_str().unwrap(),
        ],
    );
    let pubkey = lab.dir.path().join("pub.pem");
    let out = run("openssl", &["x509", "-in", cert_path.to_str().unwrap(), "-pubkey", "-noout"]);
    std::fs::write(&pubkey, &out.stdout).unwrap();
    let verified = text(&run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-verify",
            pubkey.to_str().unwrap(),
            "-signature",
            sig.to_str().unwrap(),
            msg.to_str().unwrap(),
        ],
    ));
    assert!(verified.contains("Verified OK"), "{verified}");

    // The counter is back at 3 after the successful login, and nothing in the APDU log shows
    // the PIN.
    let pins = text(&run("pkcs15-tool", &["--list-pins"]));
    assert!(pins.lines().filter(|l| l.contains("Tries left")).any(|l| l.trim_end().ends_with('3')), "{pins}");
    let logged = std::fs::read_to_string(&log).unwrap();
    let pin_hex: String = pin.bytes().map(|b| format!("{b:02X} ")).collect();
    assert!(!logged.contains(&pin) && !logged.contains(pin_hex.trim_end()), "the APDU log shows the PIN");
}
