//! One resident's transaction, from the service choice to idle, and the phases it goes through.
//!
//! Data lives in the phase where it is valid: the PIN pad exists only while the PIN is asked
//! for, the certificate only until the backend has authenticated the resident, the offers only
//! while choosing, the issuance only once the backend holds one. A phase that has no such data
//! cannot be asked for it, so there are no "missing data" branches; leaving a phase drops what
//! it held (the PIN buffer and the certificate zeroize themselves on drop, and `exit` wipes them
//! first as well).

use crate::pin::PinBuffer;
use crate::reset::ResetFlow;
use crate::{
    BackendStep, CertificateFacts, CertificateNotice, DocumentOffer, FailureCode, IssueRequest, Offers, OpId, Request,
    Timeouts,
};
use madoguchi_api::ResetCredential;
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::jpki::TokenKind;
use madoguchi_drivers::printer::PaperOutcome;
use std::time::Duration;
use zeroize::{Zeroize, Zeroizing};

/// One resident's transaction: what holds from the service choice to idle, and the phase.
pub(crate) struct Transaction {
    pub reference: String,
    /// The transaction's sequence number (idempotency keys derive from it).
    pub number: u64,
    /// The whole transaction's limit (not extendable).
    pub overall_deadline: Duration,
    pub timer: ScreenTimer,
    /// The card or phone in use; `None` until one is placed.
    pub card: Option<CardSlot>,
    /// The card command whose answer is awaited, and until when.
    pub card_op: Option<(OpId, Duration)>,
    /// A failed read is repeated once per transaction.
    pub card_retry_used: bool,
    pub backend_op: Option<Pending>,
    /// A transient backend failure is asked again at this time.
    pub retry_at: Option<Retry>,
    pub backend_attempts: u8,
    pub auth_restarts: u8,
    /// The backend session this transaction opened: closed at the end, whatever the phase.
    pub backend_session: Option<String>,
    /// Money the cash unit has taken in (it can arrive in any phase, even after the end).
    pub inserted: u32,
    /// The backend's PIN-reset session, once the reservation was checked: every exit reports
    /// its outcome.
    pub reset_session: Option<String>,
    pub reset_outcome_sent: bool,
    /// The credential this transaction reset (the end shows pin-reset-done).
    pub reset_done: Option<ResetCredential>,
    /// Tries left on the proving credential, from the card's empty VERIFY.
    pub reset_tries: u8,
    pub phase: Phase,
}

impl Transaction {
    pub fn new(reference: String, number: u64, overall_deadline: Duration) -> Transaction {
        Transaction {
            reference,
            number,
            overall_deadline,
            timer: ScreenTimer::default(),
            card: None,
            card_op: None,
            card_retry_used: false,
            backend_op: None,
            retry_at: None,
            backend_attempts: 0,
            auth_restarts: 0,
            backend_session: None,
            inserted: 0,
            reset_session: None,
            reset_outcome_sent: false,
            reset_done: None,
            reset_tries: 0,
            phase: Phase::ServiceMenu,
        }
    }

    /// Nothing of the resident reached a device or the backend yet.
    pub fn untouched(&self) -> bool {
        self.card.is_none()
            && self.backend_session.is_none()
            && self.reset_session.is_none()
            && self.inserted == 0
            && self.backend_op.is_none()
    }

    /// The card is on its reader and still needed (until authentication or removal).
    pub fn card_on_reader(&self) -> bool {
        self.card.as_ref().is_some_and(|c| c.on_reader)
    }
}

/// The resident's timer on the current screen.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScreenTimer {
    pub deadline: Option<Duration>,
    /// The timeout-warning screen is up.
    pub warning: bool,
    pub more_time_used: u8,
}

/// The card or phone the transaction uses.
#[derive(Debug, Clone)]
pub(crate) struct CardSlot {
    pub reader: String,
    pub interface: Option<ReaderInterface>,
    /// Still on the reader (until the resident takes it off).
    pub on_reader: bool,
    /// The kiosk has let go of it (after authentication, or at the end).
    pub released: bool,
    /// What the card turned out to be, once read.
    pub token: Option<TokenKind>,
}

/// A backend request whose answer is awaited. The request is kept so a transient failure can
/// send the very same one again.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub op: OpId,
    pub step: BackendStep,
    pub deadline: Duration,
    pub request: Request,
}

#[derive(Debug, Clone)]
pub(crate) struct Retry {
    pub at: Duration,
    pub step: BackendStep,
    pub request: Request,
}

/// The resident's certificate once the kiosk's check accepted it; it is needed until the backend
/// has authenticated the resident. The DER zeroizes itself when dropped.
#[derive(Clone)]
pub(crate) struct Holder {
    pub certificate: Zeroizing<Vec<u8>>,
    pub facts: CertificateFacts,
    /// What the resident was told about the certificate (a renewal reminder), kept for the end.
    pub notice: Option<CertificateNotice>,
}

impl Holder {
    pub(crate) fn wipe(&mut self) {
        self.certificate.zeroize();
    }
}

/// The resident after the backend authenticated them: what later steps check documents against.
#[derive(Debug, Clone)]
pub(crate) struct Resident {
    pub session_id: String,
    pub facts: CertificateFacts,
    pub notice: Option<CertificateNotice>,
}

/// What follows an accepted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterCert {
    PinStatus,
    Authenticate,
}

/// The PIN pad and what the resident sees beside it.
pub(crate) struct PinEntry {
    /// A card's certificate is read before the PIN, a phone's only after it.
    pub holder: Option<Holder>,
    pub pad: PinBuffer,
    pub tries_left: u8,
    pub previous_wrong: bool,
    /// The PIN went to the card in a VERIFY; the pad waits for its answer.
    pub verifying: bool,
}

/// Where authentication with the backend stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthStep {
    /// Waiting for the backend's challenge.
    Challenge,
    /// The card signs the challenge of this backend session.
    Signing { session_id: String },
    /// The backend checks the signature.
    Checking { session_id: String },
}

/// The document the resident picked and how they want it.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    /// Index of the municipality in the offers (going back lists its documents again).
    pub place: usize,
    pub municipality_code: String,
    pub municipality_name: String,
    pub document: DocumentOffer,
    pub options: Vec<String>,
    /// Person ids chosen to appear (the resident alone unless they choose others).
    pub persons: Vec<String>,
    pub year: Option<i32>,
    pub copies: u8,
}

impl Chosen {
    pub fn total_yen(&self) -> u32 {
        self.document.fee_yen.saturating_mul(u32::from(self.copies))
    }
}

/// The screens of choosing and paying.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Municipality,
    Document {
        municipality: usize,
    },
    Options(Chosen),
    Copies(Chosen),
    Confirm(Chosen),
    /// The cash unit collects `due`.
    Payment {
        chosen: Chosen,
        due: u32,
    },
}

impl Step {
    pub fn chosen(&self) -> Option<&Chosen> {
        match self {
            Step::Options(c) | Step::Copies(c) | Step::Confirm(c) | Step::Payment { chosen: c, .. } => Some(c),
            Step::Municipality | Step::Document { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrintState {
    NotStarted,
    Running { pages_done: u32, pages_total: u32 },
    Done { pages: u32 },
    Failed { paper: PaperOutcome },
}

impl PrintState {
    pub fn pages_printed(self) -> u32 {
        match self {
            PrintState::Done { pages } => pages,
            PrintState::Failed { paper: PaperOutcome::Pages(n) } => n,
            PrintState::Running { pages_done, .. } => pages_done,
            _ => 0,
        }
    }
}

/// An issuance the backend holds: from here on every exit reports its outcome.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub issuance: String,
    pub due: u32,
    pub print: PrintState,
    /// Until when the printer may take (set when the print job goes out).
    pub deadline: Option<Duration>,
    pub outcome_sent: bool,
    /// The print limit ran out and the job is being stopped: the printer worker answers once
    /// the printer is idle and the paper accounted for (`deadline` is then the grace for that).
    pub aborting: bool,
    /// When the issuance's lease at the backend is renewed next (`IssueOutcome::Printing`).
    pub lease_at: Option<Duration>,
}

/// The end: what the last screen shows and the money still moving.
#[derive(Debug)]
pub(crate) struct Closing {
    pub code: Option<FailureCode>,
    pub acknowledged: bool,
    pub deadline: Option<Duration>,
    pub to_return: u32,
    pub returned: u32,
    pub owed: u32,
    pub due: u32,
    pub print: PrintState,
    pub notice: Option<CertificateNotice>,
    /// The issuance this transaction ended with, so a late answer for it is not taken for another.
    pub issuance: Option<String>,
}

/// Where the transaction is, with the data valid there.
pub(crate) enum Phase {
    ServiceMenu,
    PlaceCard,
    /// Reading what is on the reader (and, for a card, its certificate).
    ReadingToken,
    /// Asking the card how many PIN tries are left.
    PinStatus {
        holder: Option<Holder>,
    },
    /// A certificate near its end: the resident reads the reminder, then goes on.
    CertificateNotice {
        holder: Holder,
        then: AfterCert,
    },
    Pin(PinEntry),
    /// A phone's certificate, readable only after VERIFY.
    ReadingCertificate,
    Authenticating {
        holder: Holder,
        step: AuthStep,
    },
    /// Authenticated: the card must come off; the offers are on their way.
    RemoveCard {
        resident: Resident,
        offers: Option<Offers>,
    },
    /// Choosing the document and paying for it.
    Ordering {
        resident: Resident,
        offers: Offers,
        step: Step,
    },
    /// The fee is in; the backend issues the document.
    Issuing {
        resident: Resident,
        request: IssueRequest,
    },
    Printing(Job),
    Closing(Closing),
    /// A PIN reset (`reset.rs`), from the choice of credential to the card's answer.
    Reset(Box<ResetFlow>),
}

impl Phase {
    /// For logs and `Debug`: the phase's name, never its data.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::ServiceMenu => "ServiceMenu",
            Phase::PlaceCard => "PlaceCard",
            Phase::ReadingToken => "ReadingToken",
            Phase::PinStatus { .. } => "PinStatus",
            Phase::CertificateNotice { .. } => "CertificateNotice",
            Phase::Pin(p) if p.verifying => "Verifying",
            Phase::Pin(_) => "PinEntry",
            Phase::ReadingCertificate => "ReadingCertificate",
            Phase::Authenticating { .. } => "Authenticating",
            Phase::RemoveCard { .. } => "RemoveCard",
            Phase::Ordering { .. } => "Ordering",
            Phase::Issuing { .. } => "Issuing",
            Phase::Printing(_) => "Printing",
            Phase::Closing(_) => "Closing",
            Phase::Reset(f) => f.name(),
        }
    }

    /// The resident's timer of the phase.
    pub fn screen_timeout(&self, t: &Timeouts) -> Option<Duration> {
        match self {
            Phase::ServiceMenu | Phase::PlaceCard | Phase::CertificateNotice { .. } => Some(t.screen),
            Phase::Ordering { step: Step::Payment { .. }, .. } => Some(t.payment),
            Phase::Ordering { .. } => Some(t.screen),
            Phase::Pin(p) if !p.verifying => Some(t.pin_entry),
            Phase::RemoveCard { .. } => Some(t.remove_card),
            Phase::Reset(f) if f.waits_for_resident() => Some(t.pin_entry),
            _ => None,
        }
    }

    /// A VERIFY under way is let finish (its answer changes the tries left); money that is
    /// being turned into a document, likewise.
    pub fn cancellable(&self) -> bool {
        match self {
            Phase::Pin(p) => !p.verifying,
            Phase::Issuing { .. } | Phase::Printing(_) | Phase::Closing(_) => false,
            Phase::Reset(f) => f.cancellable(),
            _ => true,
        }
    }

    /// The backend has authenticated the resident.
    pub fn authenticated(&self) -> bool {
        matches!(self, Phase::RemoveCard { .. } | Phase::Ordering { .. } | Phase::Issuing { .. } | Phase::Printing(_))
    }

    /// Before the money is in, a printer or cash unit that cannot work ends the transaction.
    pub fn before_money(&self) -> bool {
        matches!(self, Phase::Ordering { step: Step::Confirm(_) | Step::Payment { .. }, .. })
    }

    /// The accepted certificate's facts, where the phase knows them.
    pub fn facts(&self) -> Option<CertificateFacts> {
        match self {
            Phase::PinStatus { holder } => holder.as_ref().map(|h| h.facts),
            Phase::Pin(p) => p.holder.as_ref().map(|h| h.facts),
            Phase::CertificateNotice { holder, .. } | Phase::Authenticating { holder, .. } => Some(holder.facts),
            Phase::RemoveCard { resident, .. } | Phase::Ordering { resident, .. } | Phase::Issuing { resident, .. } => {
                Some(resident.facts)
            }
            _ => None,
        }
    }

    /// What the resident was told about their certificate so far.
    pub fn notice(&self) -> Option<CertificateNotice> {
        match self {
            Phase::PinStatus { holder } => holder.as_ref().and_then(|h| h.notice),
            Phase::Pin(p) => p.holder.as_ref().and_then(|h| h.notice),
            Phase::CertificateNotice { holder, .. } | Phase::Authenticating { holder, .. } => holder.notice,
            Phase::RemoveCard { resident, .. } | Phase::Ordering { resident, .. } | Phase::Issuing { resident, .. } => {
                resident.notice
            }
            Phase::Closing(c) => c.notice,
            _ => None,
        }
    }

    /// Zeroes the secrets the phase holds (the PIN typed so far, the certificate).
    pub fn wipe(&mut self) {
        match self {
            Phase::PinStatus { holder: Some(h) } => h.wipe(),
            Phase::Pin(p) => {
                p.pad.clear();
                if let Some(h) = p.holder.as_mut() {
                    h.wipe();
                }
            }
            Phase::CertificateNotice { holder, .. } | Phase::Authenticating { holder, .. } => holder.wipe(),
            Phase::Reset(f) => f.wipe(),
            _ => {}
        }
    }

    /// The PIN pad, when the PIN is being asked for (tests check its wipe).
    #[cfg(test)]
    pub fn pin_pad(&self) -> Option<&PinBuffer> {
        match self {
            Phase::Pin(p) => Some(&p.pad),
            _ => None,
        }
    }

    /// Whether the phase holds the resident's certificate.
    #[cfg(test)]
    pub fn holds_certificate(&self) -> bool {
        match self {
            Phase::PinStatus { holder } => holder.is_some(),
            Phase::Pin(p) => p.holder.is_some(),
            Phase::CertificateNotice { .. } | Phase::Authenticating { .. } => true,
            _ => false,
        }
    }
}
