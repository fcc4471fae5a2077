//! What goes into [`super::Session::step`] and what comes out: plain data, no I/O.
//!
//! Every command to a worker carries an [`OpId`]; the worker's reply carries it back, so a reply
//! that arrives late (after a retry, a timeout or the end of the transaction) is recognised and
//! never mistaken for the answer to a newer question.

use super::view_model::ViewModel;
use core::fmt;
use madoguchi_api::v1::OffersReply;
use madoguchi_api::ResetCredential;
use madoguchi_api::{ErrorCode, ReplyCode, SignedBlob};
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::gpio::{Level, Output};
use madoguchi_drivers::jpki::{JpkiError, JpkiErrorKind, Pin, PinKind, PinStatus, TokenKind};
use madoguchi_drivers::printer::{ErrorKind as PrinterErrorKind, PaperOutcome};
use std::time::Duration;
use time::OffsetDateTime;

/// Correlates a command with its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// The time, as the kiosk's clocks tell it. Timeouts run on `mono` (never jumps); dates
/// (certificate validity, service hours, audit) use `wall`, which may jump when NTP steps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Time since the kiosk started (`std::time::Instant`), never going backwards.
    pub mono: Duration,
    /// The wall clock.
    pub wall: OffsetDateTime,
}

/// A touch on a control, by its language-independent action id (`reference/scenarios.md`).
///
/// A key of the PIN pad is kept as the digit or letter it is, one byte wiped when the touch is
/// dropped, never as its action id: a string per key (`digit:7`) would be a copy of the PIN
/// in the order typed, left in freed memory or in whatever kept the touches.
#[derive(Clone, PartialEq, Eq)]
pub struct Touch {
    key: TouchKey,
    /// The [`ViewModel::visit`] of the screen the control was on, when the UI knows it: a touch made
    /// on a screen that has since been replaced is dropped instead of acting on the new one.
    pub visit: Option<u64>,
}

#[derive(Clone, PartialEq, Eq)]
enum TouchKey {
    /// `digit:0`..`digit:9`: the digit, 0 to 9.
    Digit(u8),
    /// `key:A`..`key:Z` (the signature password's pad): the letter, ASCII.
    Letter(u8),
    /// Any other control: `ok`, `document:juminhyo`...
    Control(String),
}

impl Touch {
    /// The touch of the control `action` (`ok`, `digit:7`, `document:juminhyo`...). Reads a key
    /// of the PIN pad straight into its byte, without a copy of the id.
    pub fn new(action: &str) -> Touch {
        let key = match action.as_bytes() {
            [b'd', b'i', b'g', b'i', b't', b':', d @ b'0'..=b'9'] => TouchKey::Digit(d - b'0'),
            [b'k', b'e', b'y', b':', c @ b'A'..=b'Z'] => TouchKey::Letter(*c),
            _ => TouchKey::Control(action.to_owned()),
        };
        Touch { key, visit: None }
    }

    /// The touch as made on the screen `visit`.
    pub fn on(mut self, visit: u64) -> Touch {
        self.visit = Some(visit);
        self
    }

    /// What the touch means as an action.
    pub(crate) fn action(&self) -> crate::pin::Action {
        use crate::pin::Action;
        match &self.key {
            TouchKey::Digit(d) => Action::Digit(*d),
            TouchKey::Letter(c) => Action::Key(char::from(*c)),
            TouchKey::Control(id) => Action::parse(id),
        }
    }

    /// The digit of a `digit:N` key (operator mode reads its own PIN and amounts with it).
    pub fn digit(&self) -> Option<u8> {
        match self.key {
            TouchKey::Digit(d) => Some(d),
            _ => None,
        }
    }

    /// The action id of a control that is not a PIN pad key.
    pub fn control(&self) -> Option<&str> {
        match &self.key {
            TouchKey::Control(id) => Some(id),
            _ => None,
        }
    }

    /// A key of the PIN pad (digit or letter).
    pub fn is_pin_key(&self) -> bool {
        matches!(self.key, TouchKey::Digit(_) | TouchKey::Letter(_))
    }
}

impl Drop for Touch {
    fn drop(&mut self) {
        if let TouchKey::Digit(b) | TouchKey::Letter(b) = &mut self.key {
            zeroize::Zeroize::zeroize(b);
        }
    }
}

/// Never shows which key of the PIN pad was touched: a log of touches must not spell a PIN.
impl fmt::Debug for Touch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match &self.key {
            TouchKey::Digit(_) | TouchKey::Letter(_) => "pin-pad key",
            TouchKey::Control(id) => id.as_str(),
        };
        f.debug_struct("Touch").field("action", &shown).field("visit", &self.visit).finish()
    }
}

/// What happens around the kiosk.
#[derive(Debug)]
pub enum Event {
    /// A card or phone arrived on a reader.
    CardPresented { reader: String, interface: ReaderInterface, atr: Vec<u8> },
    /// It left.
    CardRemoved { reader: String },
    /// A reader vanished (unplugged, pcscd gone): whatever was on it is gone too.
    ReaderRemoved { reader: String },
    /// The resident touched a control.
    Touch(Touch),
    /// The card worker's answer to a [`CardCall`].
    CardReply { op: OpId, result: Result<CardOk, CardFailure> },
    /// The HTTP worker's answer to a [`BackendCall`].
    BackendReply { op: OpId, result: Result<BackendOk, BackendError> },
    /// The printer worker.
    PrinterStatus(PrinterEvent),
    /// The cash unit worker.
    Payment(PaymentEvent),
    /// The clocks; sent at least every second.
    Tick(Now),
}

/// What the session asks for.
// A few effects per event, each moved once to its worker: boxing the view buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Effect {
    /// Show this view (emitted only when it changed).
    Show(ViewModel),
    /// To the card worker.
    Card(CardCall),
    /// To the HTTP worker.
    Backend(BackendCall),
    /// To the printer worker.
    Print(PrintJob),
    /// To the printer worker: the session's print limit ran out; stop this issuance's job at
    /// once (cut the line) and answer with `Failed` once the printer is idle and the paper
    /// accounted for. The kiosk is out of service until then.
    AbortPrint { issuance_number: String },
    /// To the GPIO worker (emitted only when an output changes).
    Signal(Signal),
    /// To the cash unit worker.
    Payment(PaymentCommand),
    /// To the audit log (append-only; no PIN, no name, no document content).
    Audit(Record),
    /// Workers drop whatever they hold of this resident (card handle, PIN, certificate,
    /// document data, rendered PDF). Emitted once on every exit.
    WipeSecrets,
}

// ---------------------------------------------------------------------------------------------
// Card worker

/// A high-level card operation: the worker runs [`madoguchi_drivers::jpki::JpkiCard`] on the
/// reader named here and answers with a [`Event::CardReply`] carrying `op`.
#[derive(Debug)]
pub struct CardCall {
    pub op: OpId,
    pub reader: String,
    pub command: CardCommand,
}

/// The card operations the session needs (each a few APDUs, see `drivers::jpki`).
#[derive(Debug)]
pub enum CardCommand {
    /// SELECT the JPKI AP, read the token label and the user-authentication certificate; on
    /// Android, whose certificate needs the PIN first, answer the label with no certificate.
    ReadToken,
    /// Tries left on the user-authentication PIN (empty VERIFY: spends no try).
    PinStatus,
    /// VERIFY with the resident's PIN. The [`Pin`] is wiped when the worker drops it.
    Verify(Pin),
    /// Read the user-authentication certificate (Android, after VERIFY).
    ReadCertificate,
    /// Sign this SHA-256 hash with the user-authentication key.
    Sign { sha256: [u8; 32] },
    /// Let go of the card (end the PC/SC transaction, disconnect). Needs no reply.
    Release,
    /// PIN reset: tries left on this credential (empty VERIFY, spends no try).
    PinStatusOf(PinKind),
    /// PIN reset: read the signature certificate (EF 0001, after the signature password).
    ReadSignatureCertificate,
    /// PIN reset: sign this SHA-256 hash with the signature key (EF 001A); answered like `Sign`.
    SignWithSignatureKey { sha256: [u8; 32] },
    /// PIN reset: SELECT the PIN's EF and GET CHALLENGE (8 bytes).
    ResetChallenge(PinKind),
    /// PIN reset: RESET RETRY COUNTER with the backend's authorisation and the resident's new
    /// value, then an empty VERIFY for the full counter. The [`Pin`] is wiped on drop.
    ResetRetryCounter { authorisation: [u8; 64], new: Pin },
}

/// A card operation's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOk {
    /// `ReadToken`: the token kind and the certificate DER (`None` when not asked or not
    /// readable before the PIN).
    Token {
        token: TokenKind,
        certificate: Option<Vec<u8>>,
    },
    PinStatus(PinStatus),
    Verified,
    Certificate(Vec<u8>),
    /// `Sign`: the signature and the SHA-256 fingerprint of the user-authentication certificate
    /// of the card that signed (from the worker's read on this connection; if the connection
    /// was re-established, it re-reads it), so a swapped card cannot sign for another.
    Signature {
        signature: Vec<u8>,
        certificate_fingerprint: [u8; 32],
    },
    /// `ResetChallenge`: the card's 8 random bytes.
    ResetChallenge([u8; 8]),
    /// `ResetRetryCounter`: the new value is set; the counter is full again.
    ResetDone {
        tries_left: u8,
    },
}

/// A card operation's failure: the class and, for a wrong PIN, the tries left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardFailure {
    pub kind: JpkiErrorKind,
    pub tries_left: Option<u8>,
}

impl CardFailure {
    pub fn new(kind: JpkiErrorKind) -> CardFailure {
        CardFailure { kind, tries_left: None }
    }

    pub fn wrong_pin(tries_left: u8) -> CardFailure {
        CardFailure { kind: JpkiErrorKind::WrongPin, tries_left: Some(tries_left) }
    }
}

impl From<&JpkiError> for CardFailure {
    fn from(e: &JpkiError) -> CardFailure {
        match e {
            JpkiError::WrongPin { tries_left, .. } => CardFailure::wrong_pin(*tries_left),
            e => CardFailure::new(e.kind()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Backend (HTTP worker)

/// A request to the backend. The worker maps each to its `/v1` call and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCall {
    pub op: OpId,
    pub request: Request,
}

/// The kiosk side of the backend API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `POST /v1/sessions`: a session and its challenge.
    Challenge,
    /// `POST /v1/sessions/{id}/authenticate`.
    Authenticate { session_id: String, certificate: Vec<u8>, signature: Vec<u8> },
    /// `GET /v1/sessions/{id}/offers`, with `GET /v1/catalog` when the offers name a newer
    /// catalog than `held_catalog` (the version the session holds): the session checks fees and
    /// copies against the signed catalog itself.
    Offers { session_id: String, held_catalog: Option<i64> },
    /// `POST /v1/sessions/{id}/issuances`; repeating it with the same key is safe.
    Issue(IssueRequest),
    /// `POST /v1/sessions/{id}/issuances/{n}/outcome`. **Durable**: the worker keeps it (on disk)
    /// and retries until the backend acknowledges it; the session does not wait for it.
    Outcome { session_id: String, issuance_number: String, outcome: IssueOutcome },
    /// `DELETE /v1/sessions/{id}`: voids anything still waiting for an outcome. **Durable**
    /// like `Outcome`, and sent after it.
    Close { session_id: String },
    /// `POST /v1/pin-reset/sessions`: checks the reservation and the certificates as soon as
    /// the card is read, and gives the challenge the card signs with the other credential.
    ResetOpen { credential: ResetCredential, auth_certificate: Vec<u8> },
    /// `POST /v1/pin-reset/sessions/{id}/authenticate`: the proving credential's certificate
    /// and its key's signature over the challenge.
    ResetAuthenticate { session_id: String, certificate: Vec<u8>, signature: Vec<u8> },
    /// `POST /v1/pin-reset/sessions/{id}/authorisation` for the card's challenge.
    ResetAuthorise { session_id: String, card_challenge: [u8; 8] },
    /// `POST /v1/pin-reset/sessions/{id}/outcome`. **Durable**: a reset uses the reservation
    /// up, so the backend must learn it. Never carries the new value.
    ResetOutcome { session_id: String, reset: bool, detail: Option<String> },
}

impl Request {
    /// Requests the worker must deliver even after the session moved on.
    pub fn is_durable(&self) -> bool {
        matches!(self, Request::Outcome { .. } | Request::Close { .. } | Request::ResetOutcome { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    pub session_id: String,
    pub municipality_code: String,
    pub document: String,
    pub options: Vec<String>,
    /// Person ids on the document; empty: the resident alone.
    pub persons: Vec<String>,
    pub year: Option<i32>,
    pub copies: u8,
    pub paid_yen: u32,
    pub payment_reference: String,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Printed,
    Failed {
        reason: String,
    },
    /// The job is still printing: renews the issuance's lease, so the backend voids nothing
    /// the kiosk may yet print.
    Printing,
    /// The refund of the (voided) issuance was paid back at the kiosk, in cash.
    Refunded {
        yen: u32,
    },
}

/// A backend answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendOk {
    Challenge {
        session_id: String,
        challenge: Vec<u8>,
    },
    /// `certificate_fingerprint`: SHA-256 of the certificate DER as the backend saw it, hex.
    Authenticated {
        session_id: String,
        certificate_fingerprint: String,
    },
    /// The offers as the backend made them (validated, household names dropped), not yet
    /// checked against the signed catalog.
    Offers(OffersDelivery),
    Issued(Issued),
    /// Replies to the durable requests, if the worker forwards them (ignored by the session).
    Acknowledged,
    /// `ResetOpen`: the reset session, the challenge (32 bytes) and the reservation's end.
    ResetOpened {
        session_id: String,
        challenge: Vec<u8>,
        reservation_expires_at: String,
    },
    ResetAuthenticated {
        session_id: String,
    },
    /// The card-management key's authorisation for the card's challenge.
    ResetAuthorised {
        authorisation: [u8; 64],
    },
}

/// Why a backend call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// No connection (DNS, TCP, TLS); nothing reached the backend.
    Unreachable,
    /// Sent, no answer in time: whether it took effect is unknown.
    Timeout,
    /// The backend answered that it is overloaded (`database_busy`, 503): nothing changed.
    Busy,
    /// A definite refusal with the backend's error code.
    Refused(Refusal),
    /// The signed catalog (fees, copies, options) did not verify or the offers disagree with it
    /// (the session's own judgement, [`crate::catalog`]): no offer can be trusted.
    CatalogSignature,
    /// An answer the worker could not understand.
    Protocol,
}

impl BackendError {
    /// Worth asking again (for requests that are safe to repeat).
    pub fn is_transient(&self) -> bool {
        matches!(self, BackendError::Unreachable | BackendError::Timeout | BackendError::Busy)
    }
}

/// The backend error codes the session acts on ([`ErrorCode`]), typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CertificateSuspended,
    CertificateUntrusted,
    CertificateUnlinked,
    SignatureInvalid,
    RevocationUnavailable,
    ChallengeExpired,
    ChallengeUsed,
    SessionExpired,
    OutsideServiceHours,
    ClosedDay,
    NotEligible,
    /// PIN reset: no live reservation for this card and credential.
    ResetNotReserved,
    ResetReservationExpired,
    /// PIN reset: the signature certificate is revoked (a move, a new name).
    ResetSignatureRevoked,
    /// PIN reset: the card has no signature certificate (under 15, adult wards).
    ResetNoSignatureCertificate,
    /// PIN reset: a phone's certificate.
    ResetPhoneToken,
    /// PIN reset: the proving certificate is not this card's.
    ResetCertificateMismatch,
    /// Any other code (kept for the audit log).
    Other(String),
}

impl Refusal {
    /// Maps a wire code; one a newer backend added is kept as text.
    pub fn from_code(code: &str) -> Refusal {
        match ErrorCode::parse(code) {
            Some(known) => Refusal::from(known),
            None => Refusal::Other(code.to_string()),
        }
    }

    /// Maps the `code` of an error reply as the worker read it.
    pub fn from_reply(code: &ReplyCode) -> Refusal {
        match code {
            ReplyCode::Known(known) => Refusal::from(*known),
            ReplyCode::Unknown(text) => Refusal::Other(text.clone()),
        }
    }
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Refusal {
        match code {
            ErrorCode::CertificateExpired => Refusal::CertificateExpired,
            ErrorCode::CertificateNotYetValid => Refusal::CertificateNotYetValid,
            ErrorCode::CertificateRevoked => Refusal::CertificateRevoked,
            ErrorCode::CertificateSuspended => Refusal::CertificateSuspended,
            ErrorCode::CertificateUntrusted | ErrorCode::CertificateMalformed | ErrorCode::CertificateWrongProfile => {
                Refusal::CertificateUntrusted
            }
            ErrorCode::CertificateUnlinked => Refusal::CertificateUnlinked,
            ErrorCode::SignatureInvalid => Refusal::SignatureInvalid,
            ErrorCode::RevocationUnavailable => Refusal::RevocationUnavailable,
            ErrorCode::ChallengeExpired => Refusal::ChallengeExpired,
            ErrorCode::ChallengeUsed => Refusal::ChallengeUsed,
            ErrorCode::SessionExpired => Refusal::SessionExpired,
            ErrorCode::OutsideServiceHours => Refusal::OutsideServiceHours,
            ErrorCode::ClosedDay => Refusal::ClosedDay,
            ErrorCode::ResidentNotEligible | ErrorCode::PersonNotAllowed => Refusal::NotEligible,
            ErrorCode::ResetNotReserved => Refusal::ResetNotReserved,
            ErrorCode::ResetReservationExpired => Refusal::ResetReservationExpired,
            ErrorCode::ResetSignatureRevoked => Refusal::ResetSignatureRevoked,
            ErrorCode::ResetNoSignatureCertificate => Refusal::ResetNoSignatureCertificate,
            ErrorCode::ResetPhoneToken => Refusal::ResetPhoneToken,
            ErrorCode::ResetCertificateMismatch => Refusal::ResetCertificateMismatch,
            other => Refusal::Other(other.as_str().to_string()),
        }
    }
}

/// What the worker delivers for `Request::Offers`: the offers as sent, and the signed catalog
/// when the session's is older than the one the offers were made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffersDelivery {
    pub offers: OffersReply,
    pub catalog: Option<SignedBlob>,
}

/// What the backend offers this resident now, per municipality, as checked against the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Offers {
    pub municipalities: Vec<MunicipalityOffer>,
}

/// 住所地 or 本籍地.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Residence,
    Honseki,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MunicipalityOffer {
    pub code: String,
    pub name: String,
    pub route: Route,
    pub documents: Vec<DocumentOffer>,
    pub unavailable: Vec<UnavailableDocument>,
    /// The municipality's notices (a closed day next week), shown as written.
    pub notices: Vec<String>,
}

/// A person who may appear on a document (the resident's household on a 住民票).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonOffer {
    pub id: String,
    pub name: String,
    /// 続柄 as printed (世帯主, 妻, 子 …).
    pub relationship: String,
    /// The resident themself.
    pub is_self: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentOffer {
    /// `juminhyo`, `kazei`, ... (the `document:<kind>` action).
    pub kind: String,
    pub title: String,
    pub fee_yen: u32,
    pub max_copies: u8,
    /// Options the resident may switch on (`option:<name>`).
    pub options: Vec<String>,
    /// Fiscal years, newest first (課税証明書); empty otherwise.
    pub years: Vec<i32>,
    /// People who may appear on it (`person:<id>`); empty: the resident alone, no choice.
    pub persons: Vec<PersonOffer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnavailableDocument {
    pub kind: String,
    /// `outside_service_hours`, `closed_day`, `not_eligible`, `no_record`, `restricted`.
    pub reason: String,
}

/// An issuance and its signed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub issuance_number: String,
    pub total_yen: u32,
    pub document: SignedDocument,
}

/// The backend's signed document: `payload` is the JSON text exactly as signed. The contract's
/// type, so that the session verifies exactly what the backend signed.
pub type SignedDocument = SignedBlob;

/// What a document says it was issued for (`binding` of the backend's `DocumentPayload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentBinding {
    pub session_id: String,
    /// SHA-256 of the resident's certificate, hex.
    pub certificate_fingerprint: String,
    pub kiosk_id: String,
    pub issuance_number: String,
    pub document: String,
    pub copies: i64,
}

// ---------------------------------------------------------------------------------------------
// Printer worker

/// A document to print: only after its signature and binding were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    pub issuance_number: String,
    pub copies: u8,
    pub binding: DocumentBinding,
    pub document: SignedDocument,
}

/// What the printer worker reports. Job events name the issuance, so a stale report of an
/// earlier job is never taken for this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterEvent {
    /// Whether the printer can print now (probed while idle and before payment).
    Ready(bool),
    /// Pages in the output tray so far.
    Progress { issuance_number: String, pages_done: u32, pages_total: u32 },
    /// The printer confirmed the job's end.
    Finished { issuance_number: String, pages: u32 },
    /// The job failed; `paper` says what came out.
    Failed { issuance_number: String, kind: PrinterErrorKind, paper: PaperOutcome },
}

// ---------------------------------------------------------------------------------------------
// Cash unit worker

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCommand {
    /// Start accepting coins and notes for this transaction.
    Collect { reference: String, due_yen: u32 },
    /// Stop accepting (the fee is reached, or the transaction ends).
    StopAccepting,
    /// Keep the fee of a delivered issuance (sent before any change).
    Keep { yen: u32 },
    /// Pay out change after a successful issuance.
    GiveChange { yen: u32 },
    /// Pay back money for a transaction that did not deliver.
    Refund { yen: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// Whether the cash unit can take money now.
    Ready(bool),
    /// Money inserted so far in this collection (cumulative, so a repeated report is harmless).
    Inserted { total_yen: u32 },
    /// Change or refund paid out.
    PaidOut { yen: u32 },
    /// A fault: `yen_not_returned` is money the unit holds that it could not give back.
    Fault { kind: CashFaultKind, yen_not_returned: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashFaultKind {
    Jam,
    CannotDispense,
    Offline,
    /// Money of unknown value went in (the unit lost events): out of service until staff count.
    CoinsLost,
}

// ---------------------------------------------------------------------------------------------
// GPIO and audit

/// An output and what it should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    pub output: Output,
    pub level: Level,
}

/// One audit line. Never a PIN, a name or document content: references, codes and amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The transaction reference shown to the resident, if a transaction is open.
    pub transaction: Option<String>,
    pub at: Option<OffsetDateTime>,
    pub kind: RecordKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    SessionStarted,
    CardRead {
        token: TokenKind,
        interface: Option<ReaderInterface>,
    },
    WrongPin {
        tries_left: u8,
    },
    PinBlocked,
    /// The kiosk refused a PIN format before sending it (no try spent).
    PinFormatRefused,
    Authenticated {
        certificate_fingerprint: String,
    },
    IssuanceRequested {
        idempotency_key: String,
    },
    Issued {
        issuance_number: String,
    },
    /// **Alarm**: a document not bound to this session or certificate arrived and was not
    /// printed. Treat as a possible leak until proven otherwise (the Adachi lesson).
    BindingMismatch {
        issuance_number: String,
        field: &'static str,
    },
    /// **Alarm**: a document whose signature did not verify.
    DocumentSignatureInvalid {
        issuance_number: String,
    },
    Printed {
        issuance_number: String,
        pages: u32,
    },
    PrintFailed {
        issuance_number: String,
        kind: PrinterErrorKind,
        paper: PaperOutcome,
    },
    /// The print limit ran out: the job is being stopped; its paper is not known yet.
    PrintAborted {
        issuance_number: String,
    },
    /// The cash unit did not confirm a payout in time: the amount is owed until staff check.
    PayoutTimedOut {
        yen: u32,
    },
    Collected {
        yen: u32,
    },
    PaidOut {
        yen: u32,
    },
    /// Money the kiosk owes the resident and could not give back: staff must settle it.
    MoneyOwed {
        yen: u32,
    },
    CardSwapped,
    /// **Alarm**: the backend's challenge was not a madoguchi challenge for this kiosk and
    /// purpose; the card was not asked to sign it (a misconfigured backend, or someone trying
    /// to have a resident's key sign another service's nonce).
    ChallengeRefused {
        why: &'static str,
    },
    ClockJump {
        wall_minus_mono_s: i64,
    },
    /// A reply nobody waits for any more (late, after a retry or after the transaction).
    StaleReply {
        what: &'static str,
    },
    /// A backend session or issuance learned after the transaction ended, closed at once.
    LateBackendResult {
        what: &'static str,
    },
    Retry {
        what: &'static str,
        attempt: u8,
    },
    /// PIN reset: the backend accepted the proof; an authorisation may follow.
    ResetAuthenticated {
        credential: ResetCredential,
    },
    /// PIN reset: the card took the new value (never recorded) with a full counter.
    ResetDone {
        credential: ResetCredential,
    },
    /// PIN reset: the card refused RESET RETRY COUNTER (`6985`/`6982`): nothing changed.
    ResetRefusedByCard,
    SessionEnded {
        code: Option<super::catalogue::FailureCode>,
        charged_yen: u32,
        returned_yen: u32,
    },
}
