//! JPKI certificate revocation lists (X.509 v2 CRLs signed by a CA generation).

use crate::cert::{check_sig_alg, split_signed, JpkiCertificate};
use crate::error::CertError;
use crate::oids;
use crate::util::{display_name, from_der_time, strip_leading_zeros};
use der::Decode;
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlReason};

/// Why a certificate is on the list, as far as the kiosk and backend care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    /// Revoked for good (any reason code other than certificateHold).
    Revoked,
    /// certificateHold: 一時保留 of a lost card, 一時利用停止 of a lost phone.
    Hold,
}

/// One entry of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Big-endian, without sign padding.
    pub serial: Vec<u8>,
    pub since: OffsetDateTime,
    pub reason: RevocationReason,
}

/// A parsed CRL. [`Crl::from_der`] checks structure only; call [`Crl::verify`] (or
/// [`crate::TrustAnchors::crl_issuer`]) before believing it.
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    list: CertificateList,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    entries: Vec<Revocation>,
    aki: Option<Vec<u8>>,
}

impl Crl {
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let tbs_der = split_signed(der)?;
        let list = CertificateList::from_der(der)?;
        let tbs = &list.tbs_cert_list;
        check_sig_alg(&list.signature_algorithm.oid, &tbs.signature.oid)?;
        let this_update = from_der_time(tbs.this_update)?;
        let next_update = tbs.next_update.map(from_der_time).transpose()?;

        let mut aki = None;
        for ext in tbs.crl_extensions.as_deref().unwrap_or(&[]) {
            match ext.extn_id {
                oids::EXT_AKI => {
                    aki = AuthorityKeyIdentifier::from_der(ext.extn_value.as_bytes())?
                        .key_identifier
                        .map(|k| k.as_bytes().to_vec());
                }
                oids::EXT_CRL_NUMBER => {}
                other if ext.critical => return Err(CertError::UnknownCriticalExtension { oid: other.to_string() }),
                _ => {}
            }
        }

        let mut entries = Vec::new();
        for rc in tbs.revoked_certificates.as_deref().unwrap_or(&[]) {
            let mut reason = RevocationReason::Revoked;
            for ext in rc.crl_entry_extensions.as_deref().unwrap_or(&[]) {
                if ext.extn_id == oids::EXT_CRL_REASON {
                    if CrlReason::from_der(ext.extn_value.as_bytes())? == CrlReason::CertificateHold {
                        reason = RevocationReason::Hold;
                    }
                } else if ext.critical {
                    return Err(CertError::UnknownCriticalExtension { oid: ext.extn_id.to_string() });
                }
            }
            entries.push(Revocation {
                serial: strip_leading_zeros(rc.serial_number.as_bytes()).to_vec(),
                since: from_der_time(rc.revocation_date)?,
                reason,
            });
        }

        Ok(Crl { der: der.to_vec(), tbs_der, this_update, next_update, entries, aki, list })
    }

    /// Checks `issuer` (an anchor or a CA certificate) signed this CRL: same DN, a CA key allowed
    /// to sign CRLs, and the signature.
    pub fn verify(&self, issuer: &impl AsRef<JpkiCertificate>) -> Result<(), CertError> {
        let ca = issuer.as_ref();
        if !ca.profile().is_ca() || !ca.key_usage().crl_sign {
            return Err(CertError::NotAnchor("CRL issuer is not a CA with cRLSign"));
        }
        if ca.subject_name() != self.issuer_name() {
            return Err(CertError::UntrustedChain);
        }
        let sig = self.list.signature.as_bytes().ok_or(CertError::BadSignature)?;
        ca.verify_signed(&self.tbs_der, sig)
    }

    pub fn issuer(&self) -> String {
        display_name(&self.list.tbs_cert_list.issuer)
    }

    pub(crate) fn issuer_name(&self) -> &x509_cert::name::Name {
        &self.list.tbs_cert_list.issuer
    }

    pub(crate) fn authority_key_id(&self) -> Option<&[u8]> {
        self.aki.as_deref()
    }

    pub fn this_update(&self) -> OffsetDateTime {
        self.this_update
    }

    pub fn next_update(&self) -> Option<OffsetDateTime> {
        self.next_update
    }

    /// Whether `at` lies between thisUpdate and nextUpdate (a CRL without nextUpdate never goes
    /// stale by itself).
    pub fn is_current(&self, at: OffsetDateTime) -> bool {
        self.this_update <= at && self.next_update.is_none_or(|n| at <= n)
    }

    pub fn entries(&self) -> &[Revocation] {
        &self.entries
    }

    /// The entry for a serial (big-endian; leading zeros ignored).
    pub fn revocation(&self, serial: &[u8]) -> Option<&Revocation> {
        let serial = strip_leading_zeros(serial);
        self.entries.iter().find(|e| e.serial == serial)
    }

    /// When the certificate with this serial was revoked or put on hold, if it is listed.
    pub fn revoked_since(&self, serial: &[u8]) -> Option<OffsetDateTime> {
        self.revocation(serial).map(|e| e.since)
    }

    /// `Err(Revoked)` / `Err(Suspended)` if `cert` is listed and the listing took effect by
    /// `at`. The caller has checked that this CRL's issuer is `cert`'s issuer.
    pub fn check(&self, cert: &JpkiCertificate, at: OffsetDateTime) -> Result<(), CertError> {
        match self.revocation(cert.serial_bytes()) {
            Some(e) if e.since <= at => Err(match e.reason {
                RevocationReason::Revoked => CertError::Revoked { since: e.since },
                RevocationReason::Hold => CertError::Suspended { since: e.since },
            }),
            _ => Ok(()),
        }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
}
