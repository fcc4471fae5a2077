//! Entry points for fuzzing (`fuzz/fuzz_targets/cert_parse.rs`) and for the corpus replay test:
//! everything that reads untrusted certificate or CRL bytes, called on the same input.

use crate::{der_length_from_header, validity, Basic4Info, Crl, JpkiCertificate};
use time::OffsetDateTime;

/// Feeds `data` to every parser that reads untrusted DER. Must never panic.
pub fn parse_any(data: &[u8]) {
    let _ = der_length_from_header(data);
    for cert in [JpkiCertificate::from_der(data), JpkiCertificate::from_ef_contents(data)].into_iter().flatten() {
        let _ = (cert.subject(), cert.issuer(), cert.subject_cn(), cert.serial_hex(), cert.fingerprint_sha256());
        if let Ok(Some(b4)) = cert.basic4() {
            let _ = (b4.to_era_string(), b4.family_and_given(), b4.has_substituted_characters());
        }
        let _ = validity::status(&cert, OffsetDateTime::UNIX_EPOCH);
        let _ = cert.check_validity(cert.not_after());
    }
    let _ = Basic4Info::from_san_der(data);
    if let Ok(crl) = Crl::from_der(data) {
        let _ = (crl.issuer(), crl.this_update(), crl.next_update(), crl.is_current(OffsetDateTime::UNIX_EPOCH));
        let first = crl.entries().first().map(|e| e.serial.clone()).unwrap_or_default();
        let _ = crl.revoked_since(&first);
        let _ = crl.revoked_since(data.get(..4).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    /// Replays the committed seed corpus of the fuzz target, so CI exercises it on stable.
    #[test]
    fn fuzz_corpus_replays_without_panics() {
        let dir = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../fuzz/corpus/cert_parse");
        let mut n = 0;
        let mut parsed = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            super::parse_any(&data);
            n += 1;
            if crate::JpkiCertificate::from_ef_contents(&data).is_ok() || crate::Crl::from_der(&data).is_ok() {
                parsed += 1;
            }
        }
        assert!(n >= 4, "corpus at {} has only {n} files", dir.display());
        assert!(parsed >= 4, "only {parsed} corpus files parse: the corpus is stale");
    }
}
