//! Writes the seed corpus of the `cert_parse` fuzz target (`fuzz/corpus/cert_parse/`) from the
//! test PKI: CA and end-entity certificates, CRLs, an EF with filler and a bare subjectAltName.
//!
//! `cargo run -p madoguchi-certs --example write_fuzz_corpus [DIR]`

use madoguchi_certs::testpki::{generate_keys, CaKind, Generation, SignSubject, TestPki, TestRevocation};
use madoguchi_certs::validity::{end_of_day_jst, expiry_date, start_of_day_jst};
use madoguchi_certs::{oids, Basic4Info, RevocationReason, Sex};
use std::path::PathBuf;
use time::macros::date;
use time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/cert_parse"));
    std::fs::create_dir_all(&dir)?;
    let today = date!(2026 - 01 - 01);
    let pki = TestPki::generate(1, today)?;
    let keys = generate_keys(1, &["corpus-auth", "corpus-sign"])?;
    let (issued, birth) = (date!(2025 - 10 - 27), date!(1964 - 02 - 29));
    let (nb, na) = (start_of_day_jst(issued), end_of_day_jst(expiry_date(issued, birth, None)));

    let auth = pki.issue_auth_cert(&keys[0].to_public_key(), 0x06D1_8006, nb, na, "997794E9AGCIEG13221003A")?;
    let b4 = Basic4Info::new("髙橋　恵子", birth, Sex::Female, "東京都清瀬市松山２－１５－８")?;
    let subject =
        SignSubject { prefecture_romaji: "Tokyo-to", city_romaji: "Kiyose-shi", cn: "2025102710301200011322170" };
    let sign = pki.issue_sign_cert(&keys[1].to_public_key(), 0x0123_4567, nb, na, &b4, &subject)?;
    let now = start_of_day_jst(today);
    let crl = pki.issue_crl(CaKind::Sign, &[(0x0123_4567, now - Duration::days(3))], now, now + Duration::days(1))?;
    let hold = TestRevocation { serial: 0x06D1_8006, since: now, reason: RevocationReason::Hold };
    let hold_crl = pki.ca(CaKind::Auth, Generation::Current).issue_crl(&[hold], now, now + Duration::days(1))?;

    let mut ef = auth.der().to_vec();
    ef.resize(ef.len() + 64, 0xFF);
    let san = sign
        .x509()
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oids::EXT_SAN)
        .map(|e| e.extn_value.as_bytes().to_vec())
        .unwrap_or_default();

    let files: [(&str, &[u8]); 8] = [
        ("auth-ca.der", pki.ca(CaKind::Auth, Generation::Current).der()),
        ("sign-ca.der", pki.ca(CaKind::Sign, Generation::Previous).der()),
        ("auth-ee.der", auth.der()),
        ("sign-ee.der", sign.der()),
        ("sign.crl", crl.der()),
        ("auth-hold.crl", hold_crl.der()),
        ("auth-ef-filler.bin", &ef),
        ("basic4-san.der", &san),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}
