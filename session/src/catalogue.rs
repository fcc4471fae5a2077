//! Failure codes and money states: what the session reports when a transaction ends without the
//! resident's documents.
//!
//! The one catalogue of resident-facing failure messages, keyed by [`FailureCode`], lives in the
//! UI (`ui/ui/names.slint`, translated into every UI language in `ui/translations/`): for each
//! code what happened and what to do, and, from the [`MoneyState`] the session reports (what the
//! cash unit actually did), whether money was taken and where it is. The session carries no
//! words; `madoguchi_ui::Ui::failure_text` gives a code's words in any language, and
//! `ui/tests/catalogue.rs` checks that every code has every part in every language.
//!
//! The codes are stable ids (kebab case, [`FailureCode::id`]): scenario files, logs, the audit
//! trail, the UI and support staff use them, so one never changes meaning.

use std::fmt;

/// Why a transaction ended without the resident's documents. The stable id ([`FailureCode::id`],
/// kebab case) keys the one catalogue of resident-facing failure messages: for each code a title,
/// what happened and what to do, in every language (ui/ui/names.slint, translated in
/// translations/). Scenario files, logs, the audit trail and support staff use the same ids, so
/// a code never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The resident cancelled.
    Cancelled,
    /// No touch for the screen's time.
    ScreenTimeout,
    /// The whole transaction's time limit.
    SessionTimeout,
    /// The card or phone left the reader too early.
    CardRemoved,
    /// Another card or phone was placed mid-way.
    CardSwapped,
    /// The reader stopped answering or vanished.
    ReaderFault,
    /// The card could not be read.
    CardUnreadable,
    /// Not a My Number Card, or no user-authentication certificate on it.
    CardNotSupported,
    /// The old 住基カード.
    JukiCard,
    /// The certificate is past its expiry date.
    CertificateExpired,
    /// Issued, or the PIN changed, today.
    CertificateNotYetValid,
    /// Revoked.
    CertificateRevoked,
    /// Suspended.
    CertificateSuspended,
    /// Does not chain to the JPKI anchors.
    CertificateUntrusted,
    /// Valid, but no resident record for it.
    CertificateUnlinked,
    /// The backend did not accept the card's signature.
    AuthenticationFailed,
    /// The PIN is locked.
    PinBlocked,
    /// An iPhone held to the reader without Face ID / Touch ID first.
    PhoneNotReady,
    /// The backend could not be reached.
    BackendUnavailable,
    /// The backend refused the request.
    BackendRefused,
    /// Not issuable at a kiosk for this resident.
    NotEligible,
    /// Outside the document's hours, or a closed day.
    OutsideHours,
    /// No document can be issued to this resident now.
    NothingOffered,
    /// The record holds a character the kiosk's typefaces do not have: nothing could print
    /// right, so nothing is offered and the resident is sent to the counter.
    UnprintableCharacter,
    /// The signed catalog (fees, documents) did not verify.
    CatalogInvalid,
    /// The document's signature did not verify: nothing printed.
    DocumentInvalid,
    /// The document is not this resident's: nothing printed.
    DocumentMismatch,
    /// Coins or notes jammed.
    CashJam,
    /// The cash unit cannot take money.
    CashUnavailable,
    /// The printer is not ready.
    PrinterUnavailable,
    /// Out of paper.
    PrinterPaperOut,
    /// Paper jam.
    PrinterJam,
    /// Any other printer fault.
    PrinterFault,
    /// The kiosk's clock is implausible.
    ClockFault,
    /// Anything else.
    Internal,
    /// PIN reset: no reservation for this card (reserve in the JPKI暗証番号リセット app first).
    ResetNotReserved,
    /// PIN reset: the reservation is older than 24 hours.
    ResetReservationExpired,
    /// PIN reset: the signature certificate is revoked (moved house, name changed): city hall.
    ResetSignatureRevoked,
    /// PIN reset: no signature certificate on the card (under 15, adult wards): city hall.
    ResetNoSignatureCertificate,
    /// PIN reset: the card's certificates are expired: renew at city hall.
    ResetCardExpired,
    /// PIN reset: a phone's credentials are reset in the Mynaportal app, not at a kiosk.
    ResetPhone,
    /// PIN reset: the credential that would prove the resident is locked too: city hall.
    ResetBothBlocked,
    /// PIN reset: outside the reset hours (06:30–23:00), or this store does not offer it.
    ResetOutsideHours,
    /// PIN reset stopped before the card was changed (card pulled, backend down, time out):
    /// the old PIN stays, the reservation stays usable.
    ResetInterrupted,
    /// The card refused the reset (another card placed, an authorisation that does not fit).
    ResetCardRefused,
}

impl FailureCode {
    /// Every code.
    pub const ALL: [FailureCode; 45] = [
        FailureCode::Cancelled,
        FailureCode::ScreenTimeout,
        FailureCode::SessionTimeout,
        FailureCode::CardRemoved,
        FailureCode::CardSwapped,
        FailureCode::ReaderFault,
        FailureCode::CardUnreadable,
        FailureCode::CardNotSupported,
        FailureCode::JukiCard,
        FailureCode::CertificateExpired,
        FailureCode::CertificateNotYetValid,
        FailureCode::CertificateRevoked,
        FailureCode::CertificateSuspended,
        FailureCode::CertificateUntrusted,
        FailureCode::CertificateUnlinked,
        FailureCode::AuthenticationFailed,
        FailureCode::PinBlocked,
        FailureCode::PhoneNotReady,
        FailureCode::BackendUnavailable,
        FailureCode::BackendRefused,
        FailureCode::NotEligible,
        FailureCode::OutsideHours,
        FailureCode::NothingOffered,
        FailureCode::UnprintableCharacter,
        FailureCode::CatalogInvalid,
        FailureCode::DocumentInvalid,
        FailureCode::DocumentMismatch,
        FailureCode::CashJam,
        FailureCode::CashUnavailable,
        FailureCode::PrinterUnavailable,
        FailureCode::PrinterPaperOut,
        FailureCode::PrinterJam,
        FailureCode::PrinterFault,
        FailureCode::ClockFault,
        FailureCode::Internal,
        FailureCode::ResetNotReserved,
        FailureCode::ResetReservationExpired,
        FailureCode::ResetSignatureRevoked,
        FailureCode::ResetNoSignatureCertificate,
        FailureCode::ResetCardExpired,
        FailureCode::ResetPhone,
        FailureCode::ResetBothBlocked,
        FailureCode::ResetOutsideHours,
        FailureCode::ResetInterrupted,
        FailureCode::ResetCardRefused,
    ];

    /// The stable id.
    pub const fn id(self) -> &'static str {
        match self {
            FailureCode::Cancelled => "cancelled",
            FailureCode::ScreenTimeout => "screen-timeout",
            FailureCode::SessionTimeout => "session-timeout",
            FailureCode::CardRemoved => "card-removed",
            FailureCode::CardSwapped => "card-swapped",
            FailureCode::ReaderFault => "reader-fault",
            FailureCode::CardUnreadable => "card-unreadable",
            FailureCode::CardNotSupported => "card-not-supported",
            FailureCode::JukiCard => "juki-card",
            FailureCode::CertificateExpired => "certificate-expired",
            FailureCode::CertificateNotYetValid => "certificate-not-yet-valid",
            FailureCode::CertificateRevoked => "certificate-revoked",
            FailureCode::CertificateSuspended => "certificate-suspended",
            FailureCode::CertificateUntrusted => "certificate-untrusted",
            FailureCode::CertificateUnlinked => "certificate-unlinked",
            FailureCode::AuthenticationFailed => "authentication-failed",
            FailureCode::PinBlocked => "pin-blocked",
            FailureCode::PhoneNotReady => "phone-not-ready",
            FailureCode::BackendUnavailable => "backend-unavailable",
            FailureCode::BackendRefused => "backend-refused",
            FailureCode::NotEligible => "not-eligible",
            FailureCode::OutsideHours => "outside-hours",
            FailureCode::NothingOffered => "nothing-offered",
            FailureCode::UnprintableCharacter => "unprintable-character",
            FailureCode::CatalogInvalid => "catalog-invalid",
            FailureCode::DocumentInvalid => "document-invalid",
            FailureCode::DocumentMismatch => "document-mismatch",
            FailureCode::CashJam => "cash-jam",
            FailureCode::CashUnavailable => "cash-unavailable",
            FailureCode::PrinterUnavailable => "printer-unavailable",
            FailureCode::PrinterPaperOut => "printer-paper-out",
            FailureCode::PrinterJam => "printer-jam",
            FailureCode::PrinterFault => "printer-fault",
            FailureCode::ClockFault => "clock-fault",
            FailureCode::Internal => "internal",
            FailureCode::ResetNotReserved => "reset-not-reserved",
            FailureCode::ResetReservationExpired => "reset-reservation-expired",
            FailureCode::ResetSignatureRevoked => "reset-signature-revoked",
            FailureCode::ResetNoSignatureCertificate => "reset-no-signature-certificate",
            FailureCode::ResetCardExpired => "reset-card-expired",
            FailureCode::ResetPhone => "reset-phone",
            FailureCode::ResetBothBlocked => "reset-both-blocked",
            FailureCode::ResetOutsideHours => "reset-outside-hours",
            FailureCode::ResetInterrupted => "reset-interrupted",
            FailureCode::ResetCardRefused => "reset-card-refused",
        }
    }

    /// The code with this id.
    pub fn from_id(id: &str) -> Option<FailureCode> {
        FailureCode::ALL.into_iter().find(|c| c.id() == id)
    }

    /// Shown on the `certificate-problem` screen rather than `failure`.
    pub const fn is_certificate_problem(self) -> bool {
        matches!(
            self,
            FailureCode::CertificateExpired
                | FailureCode::CertificateNotYetValid
                | FailureCode::CertificateRevoked
                | FailureCode::CertificateSuspended
                | FailureCode::PinBlocked
        )
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What happened to the resident's money, from what the cash unit actually did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MoneyState {
    /// Nothing was inserted.
    #[default]
    NotCharged,
    /// A refund is on its way out of the unit.
    Returning {
        /// The amount.
        yen: u32,
    },
    /// Everything inserted was given back.
    Returned {
        /// The amount.
        yen: u32,
    },
    /// The unit could not give this much back: staff settle it (it is in the audit log).
    Owed {
        /// The amount not given back.
        yen: u32,
    },
}

impl MoneyState {
    /// The id the .slint side reads.
    pub const fn id(self) -> &'static str {
        match self {
            MoneyState::NotCharged => "not-charged",
            MoneyState::Returning { .. } => "returning",
            MoneyState::Returned { .. } => "returned",
            MoneyState::Owed { .. } => "owed",
        }
    }

    /// The amount the money state names.
    pub const fn yen(self) -> u32 {
        match self {
            MoneyState::NotCharged => 0,
            MoneyState::Returning { yen } | MoneyState::Returned { yen } | MoneyState::Owed { yen } => yen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_unique_stable_id() {
        let mut ids = std::collections::HashSet::new();
        for code in FailureCode::ALL {
            assert!(ids.insert(code.id()), "duplicate id {}", code.id());
            assert_eq!(FailureCode::from_id(code.id()), Some(code));
            assert_eq!(code.to_string(), code.id());
        }
        // ids the audit trail and scenario files already use
        assert_eq!(FailureCode::PrinterJam.id(), "printer-jam");
        assert_eq!(FailureCode::CashJam.id(), "cash-jam");
        assert!(
            FailureCode::PinBlocked.is_certificate_problem()
                && !FailureCode::CertificateUntrusted.is_certificate_problem()
        );
    }
}
