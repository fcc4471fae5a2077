//! The binding check: is this document bound to this session, certificate, issuance, document,
//! copies and kiosk? One function for every reader of a document (the session before the print
//! job exists, the printer worker before the line, the backend's tests and the bench), so that
//! "not this resident's" means the same everywhere (the 2023 wrong-person incidents came from
//! exactly this gap under load).

/// The fields of a binding as held: the document's own, or a reader's record of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingFields<'a> {
    pub session_id: &'a str,
    pub certificate_fingerprint: &'a str,
    pub kiosk_id: &'a str,
    pub issuance_number: &'a str,
    /// The document id (`juminhyo`, ...).
    pub document: &'a str,
    pub copies: i64,
}

/// What a reader expects a document to be bound to. The session and certificate are always
/// checked (an empty expectation matches nothing); the parts left `None` are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected<'a> {
    pub session_id: &'a str,
    /// SHA-256 of the resident's certificate, hex (either case).
    pub certificate_fingerprint: &'a str,
    pub issuance_number: Option<&'a str>,
    pub document: Option<&'a str>,
    pub copies: Option<i64>,
    /// The reading kiosk's id; `Some("")` (a kiosk without one configured) is not checked.
    pub kiosk_id: Option<&'a str>,
}

impl<'a> Expected<'a> {
    /// Exactly `b`: every field.
    pub fn exactly(b: BindingFields<'a>) -> Expected<'a> {
        Expected {
            session_id: b.session_id,
            certificate_fingerprint: b.certificate_fingerprint,
            issuance_number: Some(b.issuance_number),
            document: Some(b.document),
            copies: Some(b.copies),
            kiosk_id: Some(b.kiosk_id),
        }
    }
}

/// The first field in which a document is bound to something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("document bound to another {}", self.field())]
pub enum BindingMismatch {
    SessionId,
    CertificateFingerprint,
    IssuanceNumber,
    Document,
    Copies,
    KioskId,
}

impl BindingMismatch {
    /// The binding's field name, as audited.
    pub fn field(self) -> &'static str {
        match self {
            BindingMismatch::SessionId => "session_id",
            BindingMismatch::CertificateFingerprint => "certificate_fingerprint",
            BindingMismatch::IssuanceNumber => "issuance_number",
            BindingMismatch::Document => "document",
            BindingMismatch::Copies => "copies",
            BindingMismatch::KioskId => "kiosk_id",
        }
    }
}

/// Whether `found` is bound as `expected` says, field by field in the order above.
pub fn check(found: BindingFields<'_>, expected: &Expected<'_>) -> Result<(), BindingMismatch> {
    if expected.session_id.is_empty() || found.session_id != expected.session_id {
        return Err(BindingMismatch::SessionId);
    }
    if expected.certificate_fingerprint.is_empty()
        || !found.certificate_fingerprint.eq_ignore_ascii_case(expected.certificate_fingerprint)
    {
        return Err(BindingMismatch::CertificateFingerprint);
    }
    if expected.issuance_number.is_some_and(|n| found.issuance_number != n) {
        return Err(BindingMismatch::IssuanceNumber);
    }
    if expected.document.is_some_and(|d| found.document != d) {
        return Err(BindingMismatch::Document);
    }
    if expected.copies.is_some_and(|c| found.copies != c) {
        return Err(BindingMismatch::Copies);
    }
    if expected.kiosk_id.is_some_and(|k| !k.is_empty() && found.kiosk_id != k) {
        return Err(BindingMismatch::KioskId);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUND: BindingFields<'static> = BindingFields {
        session_id: "s1",
        certificate_fingerprint: "ab",
        kiosk_id: "K1",
        issuance_number: "N1",
        document: "juminhyo",
        copies: 2,
    };

    #[test]
    fn every_field_is_compared_in_order() {
        let all = Expected::exactly(FOUND);
        assert_eq!(check(FOUND, &all), Ok(()));
        assert_eq!(check(FOUND, &Expected { certificate_fingerprint: "AB", ..all }), Ok(()), "hex in either case");
        for (expected, mismatch) in [
            (Expected { session_id: "s2", ..all }, BindingMismatch::SessionId),
            (Expected { session_id: "", ..all }, BindingMismatch::SessionId),
            (Expected { certificate_fingerprint: "cd", ..all }, BindingMismatch::CertificateFingerprint),
            (Expected { certificate_fingerprint: "", ..all }, BindingMismatch::CertificateFingerprint),
            (Expected { issuance_number: Some("N2"), ..all }, BindingMismatch::IssuanceNumber),
            (Expected { document: Some("inkan"), ..all }, BindingMismatch::Document),
            (Expected { copies: Some(1), ..all }, BindingMismatch::Copies),
            (Expected { kiosk_id: Some("K2"), ..all }, BindingMismatch::KioskId),
            (Expected { session_id: "s2", copies: Some(1), ..all }, BindingMismatch::SessionId),
        ] {
            assert_eq!(check(FOUND, &expected), Err(mismatch), "{expected:?}");
        }
        assert_eq!(BindingMismatch::CertificateFingerprint.field(), "certificate_fingerprint");
        assert_eq!(BindingMismatch::KioskId.to_string(), "document bound to another kiosk_id");
    }

    #[test]
    fn parts_not_expected_are_not_checked() {
        let some = Expected { session_id: "s1", certificate_fingerprint: "ab", ..Expected::default() };
        assert_eq!(check(FOUND, &some), Ok(()));
        assert_eq!(check(FOUND, &Expected { kiosk_id: Some(""), ..some }), Ok(()), "no kiosk id configured");
    }
}
