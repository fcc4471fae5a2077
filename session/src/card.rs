//! The card or phone: placing and taking it off, its answers, the PIN, and the kiosk's check of
//! the certificate. The card comes off before the resident goes on, as the real service requires.

use crate::pin::PinBuffer;
use crate::transaction::{AfterCert, AuthStep, CardSlot, Holder, Phase, PinEntry};
use crate::{
    CardCall, CardCommand, CardFailure, CardOk, CertificateNotice, CertificateRejection, Effect, FailureCode, OpId,
    RecordKind, Request, Session, Turn,
};
use madoguchi_certs::validity::{jst_date, renewal_window_start};
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::jpki::{JpkiErrorKind, PinStatus, TokenKind};
use zeroize::Zeroizing;

impl Session {
    pub(crate) fn on_card_presented(&mut self, reader: String, interface: ReaderInterface, fx: &mut Vec<Effect>) {
        self.k.cards.insert(reader.clone());
        let Some(mut turn) = self.turn(fx) else {
            // Card first, menu never: the same as touching "certificates" then placing it.
            if self.k.availability().is_none() {
                self.begin(fx).use_card(reader, Some(interface));
            }
            return;
        };
        match &turn.t.phase {
            Phase::ServiceMenu | Phase::PlaceCard => turn.use_card(reader, Some(interface)),
            Phase::Reset(f) if f.waits_for_card() && !turn.t.card_on_reader() => {
                turn.reset_card_presented(reader, Some(interface))
            }
            _ => {
                let same = turn.t.card.as_ref().is_some_and(|c| c.on_reader && c.reader == reader);
                if same {
                    // Presented again without leaving: another card (or the same one reset)
                    // may now be on the reader. Nothing read so far can be trusted.
                    turn.audit(RecordKind::CardSwapped);
                    turn.exit(Some(FailureCode::CardSwapped));
                }
                // Any other card is only remembered: it must be gone before idle.
            }
        }
    }

    pub(crate) fn on_card_gone(&mut self, reader: &str, code: FailureCode, fx: &mut Vec<Effect>) {
        self.k.cards.remove(reader);
        if let Some(mut turn) = self.turn(fx) {
            turn.card_gone(reader, code);
        }
    }
}

impl Turn<'_> {
    /// Asks for the card, or uses one already lying on a reader (placed while the kiosk was
    /// closed, or before touching the menu).
    pub(crate) fn place_card(&mut self) {
        self.enter(Phase::PlaceCard);
        if let Some(reader) = self.k.cards.iter().next().cloned() {
            self.use_card(reader, None);
        }
    }

    fn use_card(&mut self, reader: String, interface: Option<ReaderInterface>) {
        self.t.card = Some(CardSlot { reader, interface, on_reader: true, released: false, token: None });
        self.card(CardCommand::ReadToken);
        self.enter(Phase::ReadingToken);
    }

    fn card_gone(&mut self, reader: &str, code: FailureCode) {
        let Some(card) = self.t.card.as_mut().filter(|c| c.reader == reader && c.on_reader) else { return };
        card.on_reader = false;
        match &self.t.phase {
            Phase::RemoveCard { offers, .. } => {
                let offered = offers.is_some();
                self.t.card_op = None;
                // The resident did what was asked; waiting for the offers is the kiosk's wait.
                self.t.timer.deadline = None;
                self.t.timer.warning = false;
                if offered {
                    self.go_choose();
                }
            }
            // The signature is made; the card is not needed unless authentication must start
            // over (then that path ends the transaction as card-removed).
            Phase::Authenticating { step: AuthStep::Checking { .. }, .. } => {}
            // After a reset the card coming off is the resident's "done".
            Phase::Closing(_) if self.t.reset_done.is_some() => {
                if let Phase::Closing(c) = &mut self.t.phase {
                    c.acknowledged = true;
                    c.deadline = None;
                }
            }
            Phase::Closing(_) => {}
            _ => {
                if code == FailureCode::ReaderFault {
                    log::warn!("reader {reader:?} vanished mid-transaction");
                }
                self.exit(Some(code))
            }
        }
    }

    /// Sends a command to the card in use; its answer is awaited (except for a release).
    pub(crate) fn card(&mut self, command: CardCommand) {
        let op = self.k.next_op();
        let deadline = self.mono() + self.k.cfg.timeouts.card_reply;
        let Some(card) = self.t.card.as_ref() else { return };
        if !matches!(command, CardCommand::Release) {
            self.t.card_op = Some((op, deadline));
        }
        self.fx.push(Effect::Card(CardCall { op, reader: card.reader.clone(), command }));
    }

    pub(crate) fn on_card_reply(&mut self, op: OpId, result: Result<CardOk, CardFailure>) {
        if self.t.card_op.map(|(o, _)| o) != Some(op) {
            return self.audit(RecordKind::StaleReply { what: "card" });
        }
        self.t.card_op = None;
        if matches!(self.t.phase, Phase::Reset(_)) {
            return self.reset_card_reply(result);
        }
        let failure = match result {
            Ok(ok) => return self.card_ok(ok),
            Err(f) => f,
        };
        let verifying = matches!(&self.t.phase, Phase::Pin(p) if p.verifying);
        match (&mut self.t.phase, failure.kind) {
            (Phase::Pin(p), JpkiErrorKind::WrongPin) if p.verifying => {
                let left = failure.tries_left.unwrap_or(0);
                if left > 0 {
                    p.tries_left = left;
                    p.previous_wrong = true;
                    p.verifying = false;
                }
                self.audit(RecordKind::WrongPin { tries_left: left });
                if left == 0 {
                    return self.pin_blocked();
                }
                self.k.force_new_visit = true;
                self.restart_timer();
            }
            (_, JpkiErrorKind::PinBlocked) => self.pin_blocked(),
            (Phase::Pin(p), JpkiErrorKind::InvalidPin) if verifying => {
                // The card refused the format: no try was spent; ask again.
                p.verifying = false;
                self.audit(RecordKind::PinFormatRefused);
                self.k.force_new_visit = true;
                self.restart_timer();
            }
            (_, JpkiErrorKind::Removed) => self.exit(Some(FailureCode::CardRemoved)),
            (_, JpkiErrorKind::NotJpki) => self.exit(Some(FailureCode::CardNotSupported)),
            (Phase::ReadingToken | Phase::PinStatus { .. } | Phase::ReadingCertificate, JpkiErrorKind::CardFault)
                if !self.t.card_retry_used =>
            {
                // A contactless read can fail on a badly placed card; reads spend no try, so
                // one repeat is safe.
                let command = match &self.t.phase {
                    Phase::ReadingToken => CardCommand::ReadToken,
                    Phase::PinStatus { .. } => CardCommand::PinStatus,
                    _ => CardCommand::ReadCertificate,
                };
                self.t.card_retry_used = true;
                self.card(command);
            }
            _ => self.exit(Some(FailureCode::CardUnreadable)),
        }
    }

    fn pin_blocked(&mut self) {
        self.audit(RecordKind::PinBlocked);
        self.exit_noting(Some(FailureCode::PinBlocked), Some(CertificateNotice::PinBlocked));
    }

    fn card_ok(&mut self, ok: CardOk) {
        match (&mut self.t.phase, ok) {
            (Phase::ReadingToken, CardOk::Token { token, certificate }) => {
                let interface = self.t.card.as_mut().and_then(|c| {
                    c.token = Some(token);
                    c.interface
                });
                self.audit(RecordKind::CardRead { token, interface });
                match (token, certificate) {
                    (TokenKind::LegacyJukiCard, _) => self.exit(Some(FailureCode::JukiCard)),
                    (_, Some(der)) => self.check_certificate(der, AfterCert::PinStatus),
                    // Android: the certificate is readable only after VERIFY.
                    (TokenKind::Android, None) => {
                        self.card(CardCommand::PinStatus);
                        self.enter(Phase::PinStatus { holder: None });
                    }
                    (_, None) => self.exit(Some(FailureCode::CardUnreadable)),
                }
            }
            (Phase::PinStatus { holder }, CardOk::PinStatus(status)) => {
                let holder = holder.clone();
                let token = self.t.card.as_ref().and_then(|c| c.token);
                match status {
                    PinStatus::Blocked => self.pin_blocked(),
                    // The iPhone checks its holder itself; an iPhone that was not authorised
                    // on the phone must not be asked for a PIN here.
                    PinStatus::Tries(_) if token == Some(TokenKind::Iphone) => {
                        self.exit(Some(FailureCode::PhoneNotReady))
                    }
                    PinStatus::Tries(t) => self.enter(Phase::Pin(PinEntry {
                        holder,
                        pad: PinBuffer::new(),
                        tries_left: t.left,
                        previous_wrong: false,
                        verifying: false,
                    })),
                    PinStatus::Verified => self.after_verified(holder),
                }
            }
            (Phase::Pin(p), CardOk::Verified) if p.verifying => {
                let holder = p.holder.clone();
                self.after_verified(holder);
            }
            (Phase::ReadingCertificate, CardOk::Certificate(der)) => {
                self.check_certificate(der, AfterCert::Authenticate)
            }
            (
                Phase::Authenticating { holder, step: AuthStep::Signing { session_id } },
                CardOk::Signature { signature, certificate_fingerprint },
            ) => {
                if holder.facts.fingerprint != certificate_fingerprint {
                    self.audit(RecordKind::CardSwapped);
                    return self.exit(Some(FailureCode::CardSwapped));
                }
                let session_id = session_id.clone();
                let certificate = holder.certificate.to_vec();
                let request = Request::Authenticate { session_id: session_id.clone(), certificate, signature };
                self.backend(request, crate::BackendStep::Authenticate);
                if let Phase::Authenticating { step, .. } = &mut self.t.phase {
                    *step = AuthStep::Checking { session_id };
                }
                self.restart_timer();
            }
            (phase, ok) => {
                log::warn!("card answer {ok:?} does not fit phase {}", phase.name());
                self.exit(Some(FailureCode::CardUnreadable));
            }
        }
    }

    /// The kiosk's check of the card's certificate (trusted, with a plausible clock): its DER,
    /// facts and the wall clock it was judged at; `None` once the transaction has ended for it.
    pub(crate) fn trusted_certificate(
        &mut self,
        der: Vec<u8>,
    ) -> Option<(Zeroizing<Vec<u8>>, crate::CertificateFacts, time::OffsetDateTime)> {
        let der = Zeroizing::new(der);
        let Some(wall) = self.k.wall().filter(|_| self.k.clock_plausible()) else {
            self.exit(Some(FailureCode::ClockFault));
            return None;
        };
        match self.k.certs.check(&der, wall) {
            Ok(facts) => Some((der, facts, wall)),
            Err(CertificateRejection::Malformed | CertificateRejection::Untrusted) => {
                self.exit(Some(FailureCode::CertificateUntrusted));
                None
            }
        }
    }

    fn check_certificate(&mut self, der: Vec<u8>, then: AfterCert) {
        let Some((der, facts, wall)) = self.trusted_certificate(der) else { return };
        let last_day = jst_date(facts.not_after);
        if wall < facts.not_before {
            return self.exit_noting(Some(FailureCode::CertificateNotYetValid), Some(CertificateNotice::NotYetValid));
        }
        if wall > facts.not_after {
            let notice = CertificateNotice::Expired { last_day };
            return self.exit_noting(Some(FailureCode::CertificateExpired), Some(notice));
        }
        let mut holder = Holder { certificate: der, facts, notice: None };
        let today = jst_date(wall);
        if today >= renewal_window_start(last_day) {
            let days_left = (last_day - today).whole_days();
            holder.notice = Some(CertificateNotice::ExpiringSoon { last_day, days_left });
            return self.enter(Phase::CertificateNotice { holder, then });
        }
        self.after_certificate(then, holder);
    }

    pub(crate) fn after_certificate(&mut self, then: AfterCert, holder: Holder) {
        match then {
            AfterCert::PinStatus => {
                self.card(CardCommand::PinStatus);
                self.enter(Phase::PinStatus { holder: Some(holder) });
            }
            AfterCert::Authenticate => self.start_authentication(holder),
        }
    }

    fn after_verified(&mut self, holder: Option<Holder>) {
        match holder {
            Some(holder) => self.start_authentication(holder),
            None => {
                self.card(CardCommand::ReadCertificate);
                self.enter(Phase::ReadingCertificate);
            }
        }
    }

    fn start_authentication(&mut self, holder: Holder) {
        self.t.backend_attempts = 0;
        self.backend(Request::Challenge, crate::BackendStep::Challenge);
        self.enter(Phase::Authenticating { holder, step: AuthStep::Challenge });
    }
}
