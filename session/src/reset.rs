//! The PIN reset (reference/jpki.md §4 and "PIN reset at the kiosk: our protocol (v1)"): a
//! resident who reserved a reset in the phone app proves themself with the *other* credential,
//! types the new value twice, and the card takes it only with the backend's authorisation for
//! this card and this challenge. The kiosk holds no key that could reset a card.
//!
//! Order, and why:
//! 1. the card is read (the auth certificate is free on cards) and checked here: expired, a
//!    phone, the proving credential blocked or absent end it before anything is typed;
//! 2. the backend checks the reservation and the certificates (`ResetOpen`), still before any
//!    password try is risked;
//! 3. the proving credential is typed and VERIFYed, the card signs the backend's challenge with
//!    its key (the signature key for an auth-PIN reset), the backend checks it;
//! 4. GET CHALLENGE on the card, the backend's authorisation for it;
//! 5. the new value twice (a mismatch or a value the rules refuse is asked again without
//!    touching the card); RESET RETRY COUNTER and an empty VERIFY; the outcome goes to the
//!    backend (durable) and the reservation is used up.
//!
//! No path leaves a card with a value the resident did not choose: the card only ever receives
//! the value typed twice, and every failure before RESET RETRY COUNTER leaves the old one.

use crate::backend::BackendStep;
use crate::pin::{Action, SecretPad};
use crate::transaction::{CardSlot, Holder, Pending, Phase};
use crate::view_model::{Choice, NewValueRetry, PinPad, PinPurpose, ResetTarget};
use crate::{
    BackendError, BackendOk, CardCommand, CardFailure, CardOk, FailureCode, RecordKind, Refusal, Request, ScreenId,
    Stage, Turn, ViewModel,
};
use madoguchi_api::ResetCredential;
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::jpki::{JpkiErrorKind, PinKind, PinStatus, TokenKind};
use sha2::{Digest, Sha256};
use time::Time;
use zeroize::Zeroizing;

/// Which reset directions this kiosk offers, and when (jpki.md §4: stores differ; 06:30–23:00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinResetOffer {
    /// The credentials this kiosk resets; empty: the service is not offered.
    pub credentials: Vec<ResetCredential>,
    pub opens: Time,
    pub closes: Time,
}

impl Default for PinResetOffer {
    fn default() -> Self {
        PinResetOffer {
            credentials: ResetCredential::ALL.to_vec(),
            opens: Time::from_hms(6, 30, 0).unwrap_or(Time::MIDNIGHT),
            closes: Time::from_hms(23, 0, 0).unwrap_or(Time::MIDNIGHT),
        }
    }
}

impl PinResetOffer {
    pub fn offers(&self, c: ResetCredential) -> bool {
        self.credentials.contains(&c)
    }

    /// Within the reset hours at this Japan-time wall clock.
    pub fn open_at(&self, wall: time::OffsetDateTime) -> bool {
        let t = wall.to_offset(madoguchi_certs::validity::JST).time();
        if self.opens <= self.closes {
            t >= self.opens && t < self.closes
        } else {
            t >= self.opens || t < self.closes
        }
    }
}

/// The reset under way: which credential, the card's auth certificate once read, the backend's
/// reset session, and the step.
pub(crate) struct ResetFlow {
    pub credential: Option<ResetCredential>,
    pub holder: Option<Holder>,
    pub session_id: Option<String>,
    pub step: ResetStep,
}

/// Where the reset stands, with the data valid there.
pub(crate) enum ResetStep {
    /// pin-reset-choose.
    Choose,
    /// place-card.
    PlaceCard,
    /// ReadToken under way.
    Reading,
    /// Empty VERIFY of the proving credential: blocked or absent ends it here.
    ProofStatus,
    /// The backend checks the reservation and certificates.
    Opening,
    /// The proving credential on the pad; `challenge` is the backend's.
    Proof { pad: SecretPad, tries_left: u8, previous_wrong: bool, verifying: bool, challenge: Vec<u8> },
    /// Reading the signature certificate (auth-PIN reset, after the password).
    ReadingProofCertificate { challenge: Vec<u8> },
    /// The card signs the backend's challenge; `certificate` is the proving one.
    Signing { certificate: Zeroizing<Vec<u8>> },
    /// The backend checks the proof.
    Checking,
    /// GET CHALLENGE on the card.
    CardChallenge,
    /// The backend's authorisation for the card's challenge.
    Authorising,
    /// The new value, first time.
    NewValue { pad: SecretPad, retry: Option<NewValueRetry>, authorisation: [u8; 64] },
    /// The new value again.
    Confirm { first: SecretPad, pad: SecretPad, authorisation: [u8; 64] },
    /// RESET RETRY COUNTER under way (not cancellable: its answer decides what the card holds).
    Resetting { authorisation: [u8; 64] },
}

impl ResetFlow {
    pub fn new() -> ResetFlow {
        ResetFlow { credential: None, holder: None, session_id: None, step: ResetStep::Choose }
    }

    pub fn name(&self) -> &'static str {
        match &self.step {
            ResetStep::Choose => "Reset/Choose",
            ResetStep::PlaceCard => "Reset/PlaceCard",
            ResetStep::Reading => "Reset/Reading",
            ResetStep::ProofStatus => "Reset/ProofStatus",
            ResetStep::Opening => "Reset/Opening",
            ResetStep::Proof { verifying: true, .. } => "Reset/Verifying",
            ResetStep::Proof { .. } => "Reset/Proof",
            ResetStep::ReadingProofCertificate { .. } => "Reset/ReadingProofCertificate",
            ResetStep::Signing { .. } => "Reset/Signing",
            ResetStep::Checking => "Reset/Checking",
            ResetStep::CardChallenge => "Reset/CardChallenge",
            ResetStep::Authorising => "Reset/Authorising",
            ResetStep::NewValue { .. } => "Reset/NewValue",
            ResetStep::Confirm { .. } => "Reset/Confirm",
            ResetStep::Resetting { .. } => "Reset/Resetting",
        }
    }

    /// A screen the resident acts on (it has a timer).
    pub fn waits_for_resident(&self) -> bool {
        matches!(
            &self.step,
            ResetStep::Choose
                | ResetStep::PlaceCard
                | ResetStep::Proof { verifying: false, .. }
                | ResetStep::NewValue { .. }
                | ResetStep::Confirm { .. }
        )
    }

    /// Waiting for a card to be placed (or for the credential, with a card kept for it).
    pub fn waits_for_card(&self) -> bool {
        matches!(&self.step, ResetStep::Choose | ResetStep::PlaceCard)
    }

    pub fn cancellable(&self) -> bool {
        !matches!(&self.step, ResetStep::Resetting { .. } | ResetStep::Proof { verifying: true, .. })
    }

    /// Zeroes what the flow holds: pads, the certificates, the authorisation.
    pub fn wipe(&mut self) {
        if let Some(h) = self.holder.as_mut() {
            h.wipe();
        }
        match &mut self.step {
            ResetStep::Proof { pad, .. } | ResetStep::NewValue { pad, .. } => pad.clear(),
            ResetStep::Confirm { first, pad, .. } => {
                first.clear();
                pad.clear();
            }
            ResetStep::Signing { certificate } => zeroize::Zeroize::zeroize(&mut **certificate),
            _ => {}
        }
        self.step = ResetStep::Choose;
    }
}

fn pin_kind(c: ResetCredential) -> PinKind {
    match c {
        ResetCredential::AuthPin => PinKind::UserAuth,
        ResetCredential::SignPassword => PinKind::Signature,
    }
}

pub(crate) fn target(c: ResetCredential) -> ResetTarget {
    match c {
        ResetCredential::AuthPin => ResetTarget::AuthPin,
        ResetCredential::SignPassword => ResetTarget::SignPassword,
    }
}

/// The failure the resident is told when a reset ends for a generic reason after the card was
/// read: nothing on the card changed, the reservation still holds.
pub(crate) fn interrupted(code: FailureCode) -> FailureCode {
    match code {
        FailureCode::CardRemoved
        | FailureCode::CardUnreadable
        | FailureCode::ReaderFault
        | FailureCode::BackendUnavailable
        | FailureCode::BackendRefused
        | FailureCode::ScreenTimeout
        | FailureCode::SessionTimeout
        | FailureCode::Internal => FailureCode::ResetInterrupted,
        other => other,
    }
}

impl Turn<'_> {
    /// `service:pin-reset`: the choice of credential, or why not.
    pub(crate) fn start_reset(&mut self) {
        let offer = &self.k.cfg.pin_reset;
        if offer.credentials.is_empty() {
            return self.exit(Some(FailureCode::ResetOutsideHours));
        }
        let open = self.k.wall().is_some_and(|w| offer.open_at(w));
        if !open {
            return self.exit(Some(FailureCode::ResetOutsideHours));
        }
        self.enter(Phase::Reset(Box::new(ResetFlow::new())));
    }

    /// A reset of `credential` straight away (offered on the locked PIN's screen), using the
    /// card on the reader.
    pub(crate) fn start_reset_of(&mut self, credential: ResetCredential) {
        self.start_reset();
        if let Phase::Reset(f) = &mut self.t.phase {
            f.credential = Some(credential);
            f.step = ResetStep::PlaceCard;
        } else {
            return;
        }
        self.restart_timer();
        if let Some(reader) = self.k.cards.iter().next().cloned() {
            self.reset_card_presented(reader, None);
        }
    }

    fn flow(&mut self) -> Option<&mut ResetFlow> {
        match &mut self.t.phase {
            Phase::Reset(f) => Some(f),
            _ => None,
        }
    }

    fn reset_step(&mut self, step: ResetStep) {
        if let Some(f) = self.flow() {
            f.step = step;
        }
        self.restart_timer();
    }

    fn credential(&self) -> Option<ResetCredential> {
        match &self.t.phase {
            Phase::Reset(f) => f.credential,
            _ => None,
        }
    }

    /// A card placed while the reset waits for one (or before the credential was chosen: it
    /// is kept until then).
    pub(crate) fn reset_card_presented(&mut self, reader: String, interface: Option<ReaderInterface>) {
        let waiting = matches!(&self.t.phase, Phase::Reset(f) if matches!(f.step, ResetStep::PlaceCard));
        self.t.card = Some(CardSlot { reader, interface, on_reader: true, released: false, token: None });
        if waiting {
            self.card(CardCommand::ReadToken);
            self.reset_step(ResetStep::Reading);
        }
    }

    /// Touches on the reset screens. Returns whether the touch meant something.
    pub(crate) fn reset_touch(&mut self, action: Action) -> bool {
        let Phase::Reset(f) = &mut self.t.phase else { return false };
        match (&mut f.step, action) {
            (ResetStep::Choose, Action::Reset(id)) => {
                let Some(c) = ResetCredential::parse(&id) else { return false };
                if !self.k.cfg.pin_reset.offers(c) {
                    return false;
                }
                f.credential = Some(c);
                f.step = ResetStep::PlaceCard;
                self.restart_timer();
                // A card already on a reader is used at once.
                let lying = self.t.card.as_ref().filter(|c| c.on_reader).map(|c| c.reader.clone());
                let lying = lying.or_else(|| self.k.cards.iter().next().cloned());
                if let Some(reader) = lying {
                    let interface = self.t.card.as_ref().and_then(|c| c.interface);
                    self.reset_card_presented(reader, interface);
                }
                true
            }
            (ResetStep::Choose | ResetStep::PlaceCard, Action::Back) => {
                if matches!(f.step, ResetStep::PlaceCard) {
                    f.step = ResetStep::Choose;
                    f.credential = None;
                    self.restart_timer();
                } else {
                    self.exit(Some(FailureCode::Cancelled));
                }
                true
            }
            (ResetStep::Proof { pad, verifying: false, previous_wrong, .. }, a) => {
                if let Some(done) = edit(pad, &a) {
                    *previous_wrong = false;
                    return done;
                }
                if !matches!(a, Action::Ok) || !pad.is_complete() {
                    return false;
                }
                match pad.take() {
                    Some(pin) => {
                        if let ResetStep::Proof { verifying, .. } = &mut f.step {
                            *verifying = true;
                        }
                        self.card(CardCommand::Verify(pin));
                        self.restart_timer();
                    }
                    None => self.audit(RecordKind::PinFormatRefused),
                }
                true
            }
            (ResetStep::NewValue { pad, retry, authorisation }, a) => {
                if let Some(done) = edit(pad, &a) {
                    *retry = None;
                    return done;
                }
                if !matches!(a, Action::Ok) || !pad.is_complete() {
                    return false;
                }
                if !pad.allowed_as_new() {
                    pad.clear();
                    *retry = Some(NewValueRetry::Rule);
                    self.k.force_new_visit = true;
                    self.restart_timer();
                    return true;
                }
                let first = std::mem::replace(pad, SecretPad::new(pad.kind()));
                let next =
                    ResetStep::Confirm { pad: SecretPad::new(first.kind()), first, authorisation: *authorisation };
                self.reset_step(next);
                true
            }
            (ResetStep::Confirm { first, pad, authorisation }, a) => {
                if let Some(done) = edit(pad, &a) {
                    return done;
                }
                if !matches!(a, Action::Ok) || !pad.is_complete() {
                    return false;
                }
                let authorisation = *authorisation;
                if !pad.same_as(first) {
                    // Asked again from the start, the card untouched.
                    let kind = first.kind();
                    let next = ResetStep::NewValue {
                        pad: SecretPad::new(kind),
                        retry: Some(NewValueRetry::Mismatch),
                        authorisation,
                    };
                    self.reset_step(next);
                    return true;
                }
                first.clear();
                let Some(new) = pad.take() else {
                    let next = ResetStep::NewValue {
                        pad: SecretPad::new(first.kind()),
                        retry: Some(NewValueRetry::Rule),
                        authorisation,
                    };
                    self.reset_step(next);
                    return true;
                };
                self.card(CardCommand::ResetRetryCounter { authorisation, new });
                self.reset_step(ResetStep::Resetting { authorisation });
                true
            }
            _ => false,
        }
    }

    /// The card's answers during a reset.
    pub(crate) fn reset_card_reply(&mut self, result: Result<CardOk, CardFailure>) {
        let Some(credential) = self.credential() else { return self.exit(Some(FailureCode::Internal)) };
        let proof = credential.proven_by();
        let Phase::Reset(f) = &mut self.t.phase else { return };
        match (&mut f.step, result) {
            (ResetStep::Reading, Ok(CardOk::Token { token, certificate })) => {
                let interface = self.t.card.as_mut().and_then(|c| {
                    c.token = Some(token);
                    c.interface
                });
                self.audit(RecordKind::CardRead { token, interface });
                match (token, certificate) {
                    (TokenKind::Android | TokenKind::Iphone, _) => self.exit(Some(FailureCode::ResetPhone)),
                    (TokenKind::LegacyJukiCard, _) => self.exit(Some(FailureCode::JukiCard)),
                    (TokenKind::Card, Some(der)) => self.reset_check_certificate(der),
                    (TokenKind::Card, None) => self.exit(Some(FailureCode::CardUnreadable)),
                }
            }
            (ResetStep::ProofStatus, Ok(CardOk::PinStatus(status))) => match status {
                PinStatus::Blocked => self.exit(Some(FailureCode::ResetBothBlocked)),
                PinStatus::Tries(t) => {
                    let tries = t.left;
                    self.reset_open(tries);
                }
                PinStatus::Verified => self.reset_open(pin_kind(proof).max_tries()),
            },
            (ResetStep::ProofStatus, Err(e)) if e.kind == JpkiErrorKind::NotPresent => {
                // No signature password on the card: under 15 or an adult ward (jpki.md §3).
                self.exit(Some(FailureCode::ResetNoSignatureCertificate))
            }
            (ResetStep::Proof { verifying: true, challenge, .. }, Ok(CardOk::Verified)) => {
                let challenge = std::mem::take(challenge);
                match proof {
                    ResetCredential::SignPassword => {
                        self.card(CardCommand::ReadSignatureCertificate);
                        self.reset_step(ResetStep::ReadingProofCertificate { challenge });
                    }
                    ResetCredential::AuthPin => {
                        let certificate = match f.holder.as_ref() {
                            Some(h) => h.certificate.clone(),
                            None => return self.exit(Some(FailureCode::Internal)),
                        };
                        let sha256: [u8; 32] = Sha256::digest(&challenge).into();
                        self.card(CardCommand::Sign { sha256 });
                        self.reset_step(ResetStep::Signing { certificate });
                    }
                }
            }
            (ResetStep::Proof { tries_left, previous_wrong, verifying, .. }, Err(e))
                if *verifying && e.kind == JpkiErrorKind::WrongPin =>
            {
                let left = e.tries_left.unwrap_or(0);
                *tries_left = left;
                *previous_wrong = true;
                *verifying = false;
                self.audit(RecordKind::WrongPin { tries_left: left });
                if left == 0 {
                    return self.exit(Some(FailureCode::ResetBothBlocked));
                }
                self.k.force_new_visit = true;
                self.restart_timer();
            }
            (ResetStep::Proof { verifying: true, .. }, Err(e)) if e.kind == JpkiErrorKind::PinBlocked => {
                self.exit(Some(FailureCode::ResetBothBlocked))
            }
            (ResetStep::Proof { verifying: verifying @ true, .. }, Err(e)) if e.kind == JpkiErrorKind::InvalidPin => {
                *verifying = false;
                self.audit(RecordKind::PinFormatRefused);
                self.k.force_new_visit = true;
                self.restart_timer();
            }
            (ResetStep::ReadingProofCertificate { challenge }, Ok(CardOk::Certificate(der))) => {
                let sha256: [u8; 32] = Sha256::digest(&*challenge).into();
                self.card(CardCommand::SignWithSignatureKey { sha256 });
                self.reset_step(ResetStep::Signing { certificate: Zeroizing::new(der) });
            }
            (ResetStep::Signing { certificate }, Ok(CardOk::Signature { signature, certificate_fingerprint })) => {
                let same_card = f.holder.as_ref().is_some_and(|h| h.facts.fingerprint == certificate_fingerprint);
                let Some(session_id) = f.session_id.clone().filter(|_| same_card) else {
                    self.audit(RecordKind::CardSwapped);
                    return self.exit(Some(FailureCode::CardSwapped));
                };
                let certificate = certificate.to_vec();
                self.reset_backend(Request::ResetAuthenticate { session_id, certificate, signature });
                self.reset_step(ResetStep::Checking);
            }
            (ResetStep::CardChallenge, Ok(CardOk::ResetChallenge(card_challenge))) => {
                let Some(session_id) = f.session_id.clone() else { return self.exit(Some(FailureCode::Internal)) };
                self.reset_backend(Request::ResetAuthorise { session_id, card_challenge });
                self.reset_step(ResetStep::Authorising);
            }
            (ResetStep::Resetting { .. }, Ok(CardOk::ResetDone { .. })) => self.reset_done(credential),
            (ResetStep::Resetting { authorisation }, Err(e)) if e.kind == JpkiErrorKind::InvalidPin => {
                // 6A80: the card's rule refused the value; the challenge is kept, so the same
                // authorisation serves the next try.
                let authorisation = *authorisation;
                let next = ResetStep::NewValue {
                    pad: SecretPad::new(pin_kind(credential)),
                    retry: Some(NewValueRetry::Rule),
                    authorisation,
                };
                self.reset_step(next);
            }
            (ResetStep::Resetting { .. }, Err(e)) if e.kind == JpkiErrorKind::ResetRefused => {
                self.audit(RecordKind::ResetRefusedByCard);
                self.exit(Some(FailureCode::ResetCardRefused))
            }
            (_, Err(e)) => match e.kind {
                JpkiErrorKind::Removed => self.exit(Some(FailureCode::CardRemoved)),
                JpkiErrorKind::NotJpki => self.exit(Some(FailureCode::CardNotSupported)),
                JpkiErrorKind::PinBlocked => self.exit(Some(FailureCode::ResetBothBlocked)),
                JpkiErrorKind::NotPresent => self.exit(Some(FailureCode::ResetNoSignatureCertificate)),
                _ => self.exit(Some(FailureCode::CardUnreadable)),
            },
            (_, Ok(ok)) => {
                log::warn!("card answer {ok:?} does not fit the reset step {}", f.name());
                self.exit(Some(FailureCode::CardUnreadable));
            }
        }
    }

    /// The kiosk's own check of the auth certificate: trusted, in its validity.
    fn reset_check_certificate(&mut self, der: Vec<u8>) {
        let Some((der, facts, wall)) = self.trusted_certificate(der) else { return };
        if wall > facts.not_after {
            return self.exit(Some(FailureCode::ResetCardExpired));
        }
        if wall < facts.not_before {
            return self.exit(Some(FailureCode::CertificateNotYetValid));
        }
        let Some(credential) = self.credential() else { return };
        if let Some(f) = self.flow() {
            f.holder = Some(Holder { certificate: der, facts, notice: None });
        }
        self.card(CardCommand::PinStatusOf(pin_kind(credential.proven_by())));
        self.reset_step(ResetStep::ProofStatus);
    }

    fn reset_open(&mut self, tries_left: u8) {
        let Some(credential) = self.credential() else { return };
        let auth_certificate = match &self.t.phase {
            Phase::Reset(f) => f.holder.as_ref().map(|h| h.certificate.to_vec()),
            _ => None,
        };
        let Some(auth_certificate) = auth_certificate else { return self.exit(Some(FailureCode::Internal)) };
        self.t.reset_tries = tries_left;
        self.reset_backend(Request::ResetOpen { credential, auth_certificate });
        self.reset_step(ResetStep::Opening);
    }

    fn reset_backend(&mut self, request: Request) {
        self.t.backend_attempts = 0;
        self.backend(request, BackendStep::Reset);
    }

    /// The backend's answers during a reset.
    pub(crate) fn reset_backend_ok(&mut self, pending: Pending, ok: BackendOk) {
        let Some(credential) = self.credential() else { return self.exit(Some(FailureCode::Internal)) };
        let proof = credential.proven_by();
        let tries_left = self.t.reset_tries;
        let Phase::Reset(f) = &mut self.t.phase else { return };
        match (&f.step, ok) {
            (ResetStep::Opening, BackendOk::ResetOpened { session_id, challenge, .. }) => {
                f.session_id = Some(session_id.clone());
                self.t.reset_session = Some(session_id);
                if !self.t.card_on_reader() {
                    return self.exit(Some(FailureCode::CardRemoved));
                }
                // Checked before the resident types the proof, which the card would then sign.
                let purpose = crate::checks::Purpose::PinReset;
                if let Err(e) = crate::checks::challenge_for_this_kiosk(&challenge, purpose, &self.k.cfg.kiosk_id) {
                    self.audit(RecordKind::ChallengeRefused { why: crate::checks::challenge_refusal(e) });
                    return self.exit(Some(FailureCode::BackendUnavailable));
                }
                let next = ResetStep::Proof {
                    pad: SecretPad::new(pin_kind(proof)),
                    tries_left,
                    previous_wrong: false,
                    verifying: false,
                    challenge,
                };
                self.reset_step(next);
            }
            (ResetStep::Checking, BackendOk::ResetAuthenticated { session_id }) => {
                if f.session_id.as_deref() != Some(session_id.as_str()) {
                    return self.exit(Some(FailureCode::AuthenticationFailed));
                }
                self.audit(RecordKind::ResetAuthenticated { credential });
                self.card(CardCommand::ResetChallenge(pin_kind(credential)));
                self.reset_step(ResetStep::CardChallenge);
            }
            (ResetStep::Authorising, BackendOk::ResetAuthorised { authorisation }) => {
                let next =
                    ResetStep::NewValue { pad: SecretPad::new(pin_kind(credential)), retry: None, authorisation };
                self.reset_step(next);
            }
            (_, ok) => {
                log::warn!("backend answer {ok:?} does not fit the reset step {}", f.name());
                self.reset_backend_failed(pending, BackendError::Protocol);
            }
        }
    }

    /// A reset request failed: ask again when it is safe (opening and authorising change
    /// nothing), else end with what the resident must know.
    pub(crate) fn reset_backend_failed(&mut self, pending: Pending, error: BackendError) {
        let retries = self.k.cfg.backend_retries;
        let safe_to_repeat = matches!(pending.request, Request::ResetOpen { .. } | Request::ResetAuthorise { .. });
        if error.is_transient() && safe_to_repeat && self.t.backend_attempts < retries {
            self.t.backend_attempts += 1;
            let attempt = self.t.backend_attempts;
            let at = self.mono() + self.k.cfg.timeouts.retry_backoff * u32::from(attempt);
            self.t.retry_at =
                Some(crate::transaction::Retry { at, step: BackendStep::Reset, request: pending.request });
            return self.audit(RecordKind::Retry { what: "pin-reset", attempt });
        }
        let code = match &error {
            BackendError::Refused(Refusal::CertificateExpired) => FailureCode::ResetCardExpired,
            BackendError::Refused(Refusal::SignatureInvalid) => FailureCode::AuthenticationFailed,
            // Typed too slowly for the backend's challenge, or the service has no key now:
            // nothing changed on the card, the reservation holds.
            BackendError::Refused(Refusal::ChallengeExpired | Refusal::ChallengeUsed | Refusal::SessionExpired) => {
                FailureCode::ResetInterrupted
            }
            BackendError::Refused(Refusal::Other(code)) if code.as_str() == "reset_unavailable" => {
                FailureCode::ResetInterrupted
            }
            BackendError::Refused(r) => crate::backend::refusal_code(r),
            _ => FailureCode::BackendUnavailable,
        };
        self.exit(Some(code));
    }

    fn reset_done(&mut self, credential: ResetCredential) {
        self.audit(RecordKind::ResetDone { credential });
        if let Some(session_id) = self.t.reset_session.clone() {
            self.t.reset_outcome_sent = true;
            let op = self.k.next_op();
            let request = Request::ResetOutcome { session_id, reset: true, detail: None };
            self.fx.push(crate::Effect::Backend(crate::BackendCall { op, request }));
        }
        self.t.reset_done = Some(credential);
        self.exit(None);
    }
}

/// The view of a reset's phase.
pub(crate) fn reset_view(f: &ResetFlow, v: &mut ViewModel) {
    v.reset_target = f.credential.map(target);
    let (screen, stage) = match &f.step {
        ResetStep::Choose => (ScreenId::PinResetChoose, Stage::None),
        ResetStep::PlaceCard => (ScreenId::PlaceCard, Stage::None),
        ResetStep::Reading => (ScreenId::ReadingCard, Stage::ReadCertificate),
        ResetStep::ProofStatus | ResetStep::Opening => (ScreenId::ReadingCard, Stage::CheckCertificate),
        ResetStep::Proof { pad, tries_left, previous_wrong, verifying, .. } => {
            let purpose = match pad.kind() {
                PinKind::Signature => PinPurpose::Sign,
                PinKind::UserAuth => PinPurpose::Auth,
            };
            let typed = if *verifying { pad.min_len() } else { pad.len() } as u8;
            v.pin = PinPad {
                purpose,
                typed,
                min_len: pad.min_len() as u8,
                max_len: pad.max_len() as u8,
                tries_left: Some(*tries_left),
                alphanumeric: pad.kind() == PinKind::Signature,
                previous_wrong: *previous_wrong,
                retry: None,
            };
            let screen = if pad.kind() == PinKind::Signature { ScreenId::PasswordEntry } else { ScreenId::PinEntry };
            (screen, if *verifying { Stage::VerifyPin } else { Stage::None })
        }
        ResetStep::ReadingProofCertificate { .. } => (ScreenId::Authenticating, Stage::ReadCertificate),
        ResetStep::Signing { .. } => (ScreenId::Authenticating, Stage::Sign),
        ResetStep::Checking | ResetStep::CardChallenge | ResetStep::Authorising => {
            (ScreenId::Authenticating, Stage::Backend)
        }
        ResetStep::NewValue { pad, retry, .. } => {
            v.pin = new_value_pad(pad, *retry);
            (ScreenId::NewPinEntry, Stage::None)
        }
        ResetStep::Confirm { pad, .. } => {
            v.pin = new_value_pad(pad, None);
            (ScreenId::NewPinConfirm, Stage::None)
        }
        ResetStep::Resetting { .. } => (ScreenId::Authenticating, Stage::VerifyPin),
    };
    v.screen = screen;
    v.progress.stage = stage;
    v.can_go_back = matches!(f.step, ResetStep::Choose | ResetStep::PlaceCard);
}

/// The choices of pin-reset-choose.
pub(crate) fn reset_choices(offer: &PinResetOffer) -> Vec<Choice> {
    ResetCredential::ALL
        .into_iter()
        .map(|c| {
            let offered = offer.offers(c);
            let choice = Choice::new(c.id()).enabled(offered);
            if offered {
                choice
            } else {
                choice.note("not-offered")
            }
        })
        .collect()
}

fn new_value_pad(pad: &SecretPad, retry: Option<NewValueRetry>) -> PinPad {
    let purpose = match pad.kind() {
        PinKind::Signature => PinPurpose::NewSign,
        PinKind::UserAuth => PinPurpose::NewAuth,
    };
    PinPad {
        purpose,
        typed: pad.len() as u8,
        min_len: pad.min_len() as u8,
        max_len: pad.max_len() as u8,
        tries_left: None,
        alphanumeric: pad.kind() == PinKind::Signature,
        previous_wrong: false,
        retry,
    }
}

/// Digit, letter, delete and clear on a pad: `Some(meant)` when the action was one of them.
fn edit(pad: &mut SecretPad, a: &Action) -> Option<bool> {
    match a {
        Action::Digit(d) => {
            let before = pad.len();
            pad.push(b'0' + d);
            Some(pad.len() != before)
        }
        Action::Key(c) => {
            let before = pad.len();
            pad.push(*c as u8);
            Some(pad.len() != before)
        }
        Action::Backspace => {
            pad.backspace();
            Some(true)
        }
        Action::Clear => {
            pad.clear();
            Some(true)
        }
        _ => None,
    }
}
