//! The one exit. Success, cancel, timeout, card pulled and every fault end here: release the
//! card, stop taking money, give back what was not earned, report the outcome and close the
//! backend session (the backend voids what was not printed), wipe the PIN, certificate and
//! document, audit. No partial release (the 2023 Yokohama failure freed only the print ordering
//! on a timeout and printed the next applicant's file).

use crate::transaction::{Closing, Phase, PrintState, Step};
use crate::{
    BackendCall, CardCall, CardCommand, CertificateNotice, Effect, FailureCode, IssueOutcome, PaymentCommand,
    RecordKind, Request, Turn,
};

impl Turn<'_> {
    /// Ends the transaction: `None` for a delivered issuance, else why not. Idempotent: once
    /// closing, later faults change nothing (money still in flight is tracked by `money.rs`).
    pub(crate) fn exit(&mut self, code: Option<FailureCode>) {
        self.exit_noting(code, None);
    }

    /// [`Turn::exit`] telling the resident `notice` about their certificate (else what they
    /// were told before stays).
    pub(crate) fn exit_noting(&mut self, code: Option<FailureCode>, notice: Option<CertificateNotice>) {
        if matches!(self.t.phase, Phase::Closing(_)) {
            return;
        }
        // A reset that stopped for a generic reason after its start: the resident is told that
        // nothing on the card changed and the reservation still holds.
        let code = match &self.t.phase {
            Phase::Reset(f) if f.credential.is_some() => code.map(crate::reset::interrupted),
            _ => code,
        };
        let now = self.mono();
        let timeouts = &self.k.cfg.timeouts;
        let linger = if code.is_none() { timeouts.take_documents } else { timeouts.failure };
        let payout_timeout = timeouts.payout;
        let release_op = self.k.next_op();
        // A job cut off whose outcome waits for the printer (its visit ends now).
        let deferred = self.k.unsettled_print.as_ref().map(|u| u.issuance_number.clone());
        let t = &mut *self.t;
        let quiet = t.untouched()
            && matches!(code, Some(FailureCode::Cancelled | FailureCode::ScreenTimeout | FailureCode::SessionTimeout));

        // 1. The card: let go of it (the worker ends any exchange first).
        if let Some(card) = t.card.as_mut().filter(|c| !c.released) {
            card.released = true;
            let reader = card.reader.clone();
            self.fx.push(Effect::Card(CardCall { op: release_op, reader, command: CardCommand::Release }));
        }
        t.card_op = None;
        t.backend_op = None;
        t.retry_at = None;

        // 2. Money: the fee is kept only for a delivered document; everything else goes back.
        if matches!(t.phase, Phase::Ordering { step: Step::Payment { .. }, .. }) {
            self.fx.push(Effect::Payment(PaymentCommand::StopAccepting));
        }
        let job = match &mut t.phase {
            Phase::Printing(job) => Some(job),
            _ => None,
        };
        let (print, due) = job.as_ref().map_or((PrintState::NotStarted, 0), |j| (j.print, j.due));
        let delivered = matches!(print, PrintState::Done { .. });
        let keep = if delivered { due.min(t.inserted) } else { 0 };
        let give_back = t.inserted - keep;
        if keep > 0 {
            self.fx.push(Effect::Payment(PaymentCommand::Keep { yen: keep }));
        }
        if give_back > 0 {
            let by = now + payout_timeout;
            // A refund that covers the fee of an issuance the backend holds: it learns when it
            // was paid back, so the refund is not left `due` for ever. For a job whose outcome
            // waits for the printer, the report follows that outcome (`money.rs`).
            let refund_of = match (&job, &t.backend_session) {
                (Some(j), Some(sid))
                    if !delivered
                        && (!j.outcome_sent || deferred.as_deref() == Some(j.issuance.as_str()))
                        && j.due > 0
                        && give_back >= j.due =>
                {
                    Some((sid.clone(), j.issuance.clone(), j.due))
                }
                _ => None,
            };
            self.k.payouts.push(crate::money::Payout {
                transaction: t.reference.clone(),
                yen: give_back,
                by,
                refund_of,
            });
            self.fx.push(Effect::Payment(if delivered {
                PaymentCommand::GiveChange { yen: give_back }
            } else {
                PaymentCommand::Refund { yen: give_back }
            }));
        }

        // 3. The backend: the outcome of an issuance, then close the session, which voids
        //    anything still waiting (an issuance whose answer never came included).
        let issuance = job.as_ref().map(|j| j.issuance.clone());
        let mut requests = Vec::new();
        if let Some(session_id) = t.backend_session.clone() {
            if let Some(job) = job.filter(|j| !j.outcome_sent) {
                job.outcome_sent = true;
                let outcome = if delivered {
                    IssueOutcome::Printed
                } else {
                    let reason = match (code, print) {
                        (Some(c), PrintState::Failed { paper }) => format!("{c}: {paper}"),
                        (Some(c), _) => c.id().to_string(),
                        (None, _) => "not printed".into(),
                    };
                    IssueOutcome::Failed { reason }
                };
                let issuance_number = job.issuance.clone();
                requests.push(Request::Outcome { session_id: session_id.clone(), issuance_number, outcome });
            }
            requests.push(Request::Close { session_id });
        }
        if let Some(session_id) = t.reset_session.clone().filter(|_| !t.reset_outcome_sent) {
            t.reset_outcome_sent = true;
            let detail = code.map(|c| c.id().to_string());
            requests.push(Request::ResetOutcome { session_id, reset: false, detail });
        }

        // 4. Secrets and the resident's data go with the phase; what the last screen needs stays.
        let notice = notice.or_else(|| t.phase.notice());
        t.phase.wipe();
        let charged = t.inserted;
        t.phase = Phase::Closing(Closing {
            code,
            acknowledged: quiet,
            deadline: Some(now + linger),
            to_return: give_back,
            returned: 0,
            owed: 0,
            due,
            print,
            notice,
            issuance,
        });
        t.timer.deadline = None;
        t.timer.warning = false;
        for request in requests {
            let op = self.k.next_op();
            self.fx.push(Effect::Backend(BackendCall { op, request }));
        }
        self.fx.push(Effect::WipeSecrets);
        self.audit(RecordKind::SessionEnded { code, charged_yen: charged, returned_yen: give_back });
    }
}
