//! The municipal backend: authentication, offers and issuance, retries of what is safe to repeat,
//! late answers undone, and the checks a document passes before its print job exists (the
//! backend's signature and the binding to this resident, order and kiosk).

use crate::transaction::{AuthStep, Job, Pending, Phase, PrintState, Resident, Retry, Step};
use crate::CardCommand;
use crate::{
    BackendCall, BackendError, BackendOk, CertificateNotice, Effect, FailureCode, IssueOutcome, Issued, Kiosk, Offers,
    OpId, PrintJob, RecordKind, Refusal, Request, Session, Transaction, Turn, UnavailableDocument,
};
use madoguchi_certs::validity::jst_date;
use sha2::{Digest, Sha256};

/// What a backend request is for (a reply must fit the step it answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackendStep {
    Challenge,
    Authenticate,
    Offers,
    Issue,
    /// A PIN-reset request (`reset.rs` handles its answers).
    Reset,
}

impl BackendStep {
    fn name(self) -> &'static str {
        match self {
            BackendStep::Challenge => "challenge",
            BackendStep::Authenticate => "authenticate",
            BackendStep::Offers => "offers",
            BackendStep::Issue => "issue",
            BackendStep::Reset => "pin-reset",
        }
    }
}

impl Session {
    pub(crate) fn on_backend_reply(&mut self, op: OpId, result: Result<BackendOk, BackendError>, fx: &mut Vec<Effect>) {
        if let Some(mut turn) = self.turn(fx) {
            if let Some(pending) = turn.t.backend_op.take_if(|p| p.op == op) {
                if pending.step == BackendStep::Reset {
                    return match result {
                        Ok(ok) => turn.reset_backend_ok(pending, ok),
                        Err(e) => turn.reset_backend_failed(pending, e),
                    };
                }
                return match result {
                    Ok(ok) => turn.backend_ok(pending, ok),
                    Err(e) => turn.backend_failed(pending.step, pending.request, e),
                };
            }
        }
        late_backend_reply(&mut self.k, self.txn.as_ref(), result, fx);
    }
}

/// Something the backend created for a question nobody waits for any more is undone, so
/// nothing is left open at the backend.
fn late_backend_reply(
    k: &mut Kiosk,
    t: Option<&Transaction>,
    result: Result<BackendOk, BackendError>,
    fx: &mut Vec<Effect>,
) {
    let reference = t.map(|t| t.reference.as_str());
    let session = t.and_then(|t| t.backend_session.as_deref());
    match result {
        Ok(BackendOk::Challenge { session_id, .. }) if session != Some(session_id.as_str()) => {
            fx.push(k.record(reference, RecordKind::LateBackendResult { what: "session" }));
            let close = k.close_call(session_id);
            fx.push(close);
        }
        Ok(BackendOk::Issued(issued)) => {
            let current = t.and_then(current_issuance) == Some(issued.issuance_number.as_str());
            if !current {
                fx.push(k.record(reference, RecordKind::LateBackendResult { what: "issuance" }));
                if let Some(session_id) = session {
                    let op = k.next_op();
                    fx.push(Effect::Backend(BackendCall {
                        op,
                        request: Request::Outcome {
                            session_id: session_id.to_owned(),
                            issuance_number: issued.issuance_number,
                            outcome: IssueOutcome::Failed { reason: "abandoned: answer arrived too late".into() },
                        },
                    }));
                }
            }
        }
        Ok(BackendOk::Acknowledged) => {}
        _ => fx.push(k.record(reference, RecordKind::StaleReply { what: "backend" })),
    }
}

/// The issuance the backend holds for this transaction, if any.
fn current_issuance(t: &Transaction) -> Option<&str> {
    match &t.phase {
        Phase::Printing(job) => Some(&job.issuance),
        Phase::Closing(c) => c.issuance.as_deref(),
        _ => None,
    }
}

impl Turn<'_> {
    pub(crate) fn backend(&mut self, request: Request, step: BackendStep) {
        let op = self.k.next_op();
        let deadline = self.mono() + self.k.cfg.timeouts.backend_reply;
        self.t.backend_op = Some(Pending { op, step, deadline, request: request.clone() });
        self.fx.push(Effect::Backend(BackendCall { op, request }));
    }

    /// Sends a step's request again after a transient failure.
    pub(crate) fn send_backend(&mut self, step: BackendStep, request: Request) {
        match step {
            BackendStep::Authenticate => self.restart_authentication(),
            _ => self.backend(request, step),
        }
    }

    /// A new challenge and a new signature: the old challenge may have been used or expired.
    fn restart_authentication(&mut self) {
        let max = self.k.cfg.backend_retries;
        if !self.t.card_on_reader() {
            return self.exit(Some(FailureCode::CardRemoved));
        }
        if self.t.auth_restarts >= max {
            return self.exit(Some(FailureCode::BackendUnavailable));
        }
        self.t.auth_restarts += 1;
        let attempt = self.t.auth_restarts;
        if let Some(old) = self.t.backend_session.take() {
            let close = self.k.close_call(old);
            self.fx.push(close);
        }
        self.audit(RecordKind::Retry { what: "authenticate", attempt });
        self.backend(Request::Challenge, BackendStep::Challenge);
        if let Phase::Authenticating { step, .. } = &mut self.t.phase {
            *step = AuthStep::Challenge;
        }
        self.restart_timer();
    }

    fn backend_ok(&mut self, pending: Pending, ok: BackendOk) {
        match (pending.step, ok) {
            (BackendStep::Challenge, BackendOk::Challenge { session_id, challenge }) => {
                self.t.backend_session = Some(session_id.clone());
                if !self.t.card_on_reader() {
                    return self.exit(Some(FailureCode::CardRemoved));
                }
                let purpose = crate::checks::Purpose::Authenticate;
                if let Err(e) = crate::checks::challenge_for_this_kiosk(&challenge, purpose, &self.k.cfg.kiosk_id) {
                    // Not retried: the same backend would hand out the same kind again.
                    self.audit(RecordKind::ChallengeRefused { why: crate::checks::challenge_refusal(e) });
                    return self.exit(Some(FailureCode::BackendUnavailable));
                }
                let sha256: [u8; 32] = Sha256::digest(&challenge).into();
                self.card(CardCommand::Sign { sha256 });
                if let Phase::Authenticating { step, .. } = &mut self.t.phase {
                    *step = AuthStep::Signing { session_id };
                }
                self.restart_timer();
            }
            (BackendStep::Authenticate, BackendOk::Authenticated { session_id, certificate_fingerprint }) => {
                self.authenticated(session_id, certificate_fingerprint)
            }
            (BackendStep::Offers, BackendOk::Offers(delivered)) => match self.k.docs.offers(delivered) {
                Ok(offers) => self.got_offers(offers),
                Err(refused) => self.backend_failed(pending.step, pending.request, refused.backend_error()),
            },
            (BackendStep::Issue, BackendOk::Issued(issued)) => self.got_issued(issued),
            (step, ok) => {
                log::warn!("backend answer {ok:?} does not fit step {}", step.name());
                self.backend_failed(step, pending.request, BackendError::Protocol);
            }
        }
    }

    fn authenticated(&mut self, session_id: String, certificate_fingerprint: String) {
        let Phase::Authenticating { holder, step: AuthStep::Checking { session_id: ours } } = &self.t.phase else {
            return;
        };
        let same_fp = hex::encode(holder.facts.fingerprint).eq_ignore_ascii_case(&certificate_fingerprint);
        if !same_fp || *ours != session_id {
            return self.exit(Some(FailureCode::AuthenticationFailed));
        }
        let resident = Resident { session_id: session_id.clone(), facts: holder.facts, notice: holder.notice };
        self.t.backend_attempts = 0;
        let fp = certificate_fingerprint.to_ascii_lowercase();
        self.audit(RecordKind::Authenticated { certificate_fingerprint: fp });
        // The card's work is done: let go of it and ask for it to be taken.
        self.card(CardCommand::Release);
        if let Some(card) = self.t.card.as_mut() {
            card.released = true;
        }
        let held_catalog = self.k.docs.held_catalog();
        self.backend(Request::Offers { session_id, held_catalog }, BackendStep::Offers);
        // The certificate is not needed any more: leaving the phase drops (and zeroes) it.
        self.t.phase.wipe();
        self.enter(Phase::RemoveCard { resident, offers: None });
        if !self.t.card_on_reader() {
            // Taken off early (after signing): no resident timer, just wait for offers.
            self.t.timer.deadline = None;
        }
    }

    pub(crate) fn backend_failed(&mut self, step: BackendStep, request: Request, error: BackendError) {
        if step == BackendStep::Reset {
            let pending = Pending { op: OpId(0), step, deadline: self.mono(), request };
            return self.reset_backend_failed(pending, error);
        }
        let retries = self.k.cfg.backend_retries;
        let backoff = self.k.cfg.timeouts.retry_backoff;
        let now = self.mono();
        let restart_auth = step == BackendStep::Authenticate
            && (error.is_transient()
                || matches!(error, BackendError::Refused(Refusal::ChallengeExpired | Refusal::ChallengeUsed)));
        if restart_auth {
            return self.restart_authentication();
        }
        // Challenge, offers and issuance (same idempotency key) are safe to repeat.
        if error.is_transient() && self.t.backend_attempts < retries {
            self.t.backend_attempts += 1;
            let attempt = self.t.backend_attempts;
            self.t.retry_at = Some(Retry { at: now + backoff * u32::from(attempt), step, request });
            return self.audit(RecordKind::Retry { what: step.name(), attempt });
        }
        let code = match (&error, step) {
            (BackendError::Refused(r), _) => refusal_code(r),
            (BackendError::CatalogSignature, _) => FailureCode::CatalogInvalid,
            _ => FailureCode::BackendUnavailable,
        };
        let notice = match code {
            FailureCode::CertificateRevoked => Some(CertificateNotice::Revoked),
            FailureCode::CertificateSuspended => Some(CertificateNotice::Suspended),
            FailureCode::CertificateNotYetValid => Some(CertificateNotice::NotYetValid),
            FailureCode::CertificateExpired => {
                self.t.phase.facts().map(|f| CertificateNotice::Expired { last_day: jst_date(f.not_after) })
            }
            _ => None,
        };
        self.exit_noting(Some(code), notice);
    }

    fn got_offers(&mut self, mut offers: Offers) {
        // A document nobody can order is shown as unavailable, not as a button that fails.
        for m in &mut offers.municipalities {
            let (ok, bad): (Vec<_>, Vec<_>) = m.documents.drain(..).partition(|d| d.max_copies > 0);
            m.documents = ok;
            m.unavailable
                .extend(bad.into_iter().map(|d| UnavailableDocument { kind: d.kind, reason: "not_offered".into() }));
        }
        offers.municipalities.retain(|m| !m.documents.is_empty() || !m.unavailable.is_empty());
        let any = offers.municipalities.iter().any(|m| !m.documents.is_empty());
        if !any {
            let hours = offers
                .municipalities
                .iter()
                .flat_map(|m| &m.unavailable)
                .any(|u| u.reason == "outside_service_hours" || u.reason == "closed_day");
            let unprintable =
                offers.municipalities.iter().flat_map(|m| &m.unavailable).any(|u| u.reason == "unprintable");
            return self.exit(Some(if hours {
                FailureCode::OutsideHours
            } else if unprintable {
                FailureCode::UnprintableCharacter
            } else {
                FailureCode::NothingOffered
            }));
        }
        if let Phase::RemoveCard { offers: slot, .. } = &mut self.t.phase {
            *slot = Some(offers);
            if !self.t.card_on_reader() {
                self.go_choose();
            }
        }
    }

    /// The card is off and the offers are in: on to choosing.
    pub(crate) fn go_choose(&mut self) {
        let Phase::RemoveCard { resident, offers: Some(offers) } = &self.t.phase else { return };
        let step = if offers.municipalities.len() > 1 {
            Step::Municipality
        } else {
            let with_documents = offers.municipalities.iter().position(|m| !m.documents.is_empty());
            Step::Document { municipality: with_documents.unwrap_or(0) }
        };
        let (resident, offers) = (resident.clone(), offers.clone());
        self.enter(Phase::Ordering { resident, offers, step });
    }

    fn got_issued(&mut self, issued: Issued) {
        let kiosk_id = self.k.cfg.kiosk_id.clone();
        let checked = self.k.docs.check(&issued.document);
        let Phase::Issuing { resident, request } = &self.t.phase else { return };
        let expect_fp = hex::encode(resident.facts.fingerprint);
        let (expect_doc, copies, due) = (request.document.clone(), request.copies, request.paid_yen);
        let number = issued.issuance_number.clone();
        // From here on the backend holds an issuance: every exit reports its outcome.
        self.t.phase = Phase::Printing(Job {
            issuance: number.clone(),
            due,
            print: PrintState::NotStarted,
            deadline: None,
            outcome_sent: false,
            aborting: false,
            lease_at: None,
        });
        let binding = match checked {
            Ok(b) => b,
            Err(_) => {
                self.audit(RecordKind::DocumentSignatureInvalid { issuance_number: number });
                return self.exit(Some(FailureCode::DocumentInvalid));
            }
        };
        let mismatch = if Some(&binding.session_id) != self.t.backend_session.as_ref() {
            Some("session_id")
        } else if !binding.certificate_fingerprint.eq_ignore_ascii_case(&expect_fp) || expect_fp.is_empty() {
            Some("certificate_fingerprint")
        } else if binding.issuance_number != issued.issuance_number {
            Some("issuance_number")
        } else if binding.document != expect_doc {
            Some("document")
        } else if binding.copies != i64::from(copies) {
            Some("copies")
        } else if !kiosk_id.is_empty() && binding.kiosk_id != kiosk_id {
            Some("kiosk_id")
        } else if issued.total_yen != due {
            Some("total_yen")
        } else {
            None
        };
        if let Some(field) = mismatch {
            self.audit(RecordKind::BindingMismatch { issuance_number: number, field });
            return self.exit(Some(FailureCode::DocumentMismatch));
        }
        self.audit(RecordKind::Issued { issuance_number: number.clone() });
        let deadline = self.mono() + self.k.cfg.timeouts.printer_job;
        self.fx.push(Effect::Print(PrintJob {
            issuance_number: number.clone(),
            copies,
            binding,
            document: issued.document,
        }));
        self.enter(Phase::Printing(Job {
            issuance: number,
            due,
            print: PrintState::Running { pages_done: 0, pages_total: 0 },
            deadline: Some(deadline),
            outcome_sent: false,
            aborting: false,
            lease_at: Some(self.mono() + self.k.cfg.timeouts.lease_renew),
        }));
    }
}

/// The failure code for a backend refusal.
pub(crate) fn refusal_code(r: &Refusal) -> FailureCode {
    match r {
        Refusal::CertificateExpired => FailureCode::CertificateExpired,
        Refusal::CertificateNotYetValid => FailureCode::CertificateNotYetValid,
        Refusal::CertificateRevoked => FailureCode::CertificateRevoked,
        Refusal::CertificateSuspended => FailureCode::CertificateSuspended,
        Refusal::CertificateUntrusted => FailureCode::CertificateUntrusted,
        Refusal::CertificateUnlinked => FailureCode::CertificateUnlinked,
        Refusal::SignatureInvalid | Refusal::ChallengeExpired | Refusal::ChallengeUsed => {
            FailureCode::AuthenticationFailed
        }
        Refusal::RevocationUnavailable => FailureCode::BackendUnavailable,
        Refusal::SessionExpired => FailureCode::SessionTimeout,
        Refusal::OutsideServiceHours | Refusal::ClosedDay => FailureCode::OutsideHours,
        Refusal::NotEligible => FailureCode::NotEligible,
        Refusal::ResetNotReserved => FailureCode::ResetNotReserved,
        Refusal::ResetReservationExpired => FailureCode::ResetReservationExpired,
        Refusal::ResetSignatureRevoked => FailureCode::ResetSignatureRevoked,
        Refusal::ResetNoSignatureCertificate => FailureCode::ResetNoSignatureCertificate,
        Refusal::ResetPhoneToken => FailureCode::ResetPhone,
        Refusal::ResetCertificateMismatch => FailureCode::ResetCardRefused,
        Refusal::Other(_) => FailureCode::BackendRefused,
    }
}
