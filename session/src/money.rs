//! Money and paper: collecting the fee, asking for the issuance once it is in, and following the
//! print job. The fee is kept only for a delivered document (`exit.rs` settles the rest).

use crate::transaction::{Chosen, Phase, PrintState, Step};
use crate::{
    BackendCall, BackendStep, CashFaultKind, Effect, FailureCode, IssueOutcome, IssueRequest, PaymentCommand,
    PaymentEvent, PrinterEvent, RecordKind, Request, Session, Turn,
};
use madoguchi_drivers::printer::{ErrorKind as PrinterErrorKind, PaperOutcome};
use std::time::Duration;

/// A print job cut off whose visit ended before the printer accounted for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnsettledPrint {
    pub session_id: String,
    pub issuance_number: String,
    /// The fee refunded in cash meanwhile: reported (`Refunded`) after the outcome, since the
    /// backend takes a refund only for an issuance it has voided.
    pub refund_paid: Option<u32>,
}

/// A payout the cash unit was told to make and has not confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payout {
    pub transaction: String,
    pub yen: u32,
    pub by: Duration,
    /// A refund for a voided issuance: once paid, the backend learns the refund is no longer
    /// due (`IssueOutcome::Refunded`): backend session, issuance number and its fee.
    pub refund_of: Option<(String, String, u32)>,
}

impl Session {
    pub(crate) fn on_printer(&mut self, event: PrinterEvent, fx: &mut Vec<Effect>) {
        let current = |n: &str, s: &Self| matches!(&s.txn, Some(t) if matches!(&t.phase, Phase::Printing(job) if job.issuance == n));
        match event {
            PrinterEvent::Ready(ready) => {
                self.k.printer_ready = ready;
                // Before the money is in, a printer that cannot print ends the transaction
                // early; afterwards the job itself reports the fault with its paper outcome.
                if let Some(mut turn) = self.turn(fx).filter(|t| !ready && t.t.phase.before_money()) {
                    turn.exit(Some(FailureCode::PrinterUnavailable));
                }
            }
            PrinterEvent::Progress { issuance_number, pages_done, pages_total } if current(&issuance_number, self) => {
                if let Some(Phase::Printing(job)) = self.txn.as_mut().map(|t| &mut t.phase) {
                    job.print = PrintState::Running { pages_done, pages_total };
                }
            }
            PrinterEvent::Finished { issuance_number, pages } if current(&issuance_number, self) => {
                if let Some(mut turn) = self.turn(fx) {
                    turn.printed(issuance_number, pages);
                }
            }
            PrinterEvent::Failed { issuance_number, kind, paper } if current(&issuance_number, self) => {
                if let Some(mut turn) = self.turn(fx) {
                    turn.print_failed(issuance_number, kind, paper);
                }
            }
            PrinterEvent::Finished { issuance_number, pages } if self.unsettled(&issuance_number) => {
                self.settled_late(issuance_number, IssueOutcome::Printed, fx);
                self.audit(fx, RecordKind::StaleReply { what: "printer" });
                log::error!("a print job cut off earlier came out after all ({pages} pages): staff check the tray");
            }
            PrinterEvent::Failed { issuance_number, paper, .. } if self.unsettled(&issuance_number) => {
                let reason = format!("{}: {paper}", FailureCode::PrinterFault);
                self.settled_late(issuance_number, IssueOutcome::Failed { reason }, fx);
            }
            _ => self.audit(fx, RecordKind::StaleReply { what: "printer" }),
        }
    }

    fn unsettled(&self, number: &str) -> bool {
        self.k.unsettled_print.as_ref().is_some_and(|u| u.issuance_number == number)
    }

    /// The printer accounted for a job whose visit already ended: the backend learns its
    /// outcome, then the refund paid meanwhile. A job that came out after all keeps no refund
    /// report: the backend records the paper as valid, and the cash refund stays in the
    /// kiosk's money journal for the operator's totals.
    fn settled_late(&mut self, number: String, outcome: IssueOutcome, fx: &mut Vec<Effect>) {
        let Some(u) = self.k.unsettled_print.take() else { return };
        let voided = matches!(outcome, IssueOutcome::Failed { .. });
        if !voided {
            // Still to be paid: no report when it is.
            for p in self.k.payouts.iter_mut() {
                if p.refund_of.as_ref().is_some_and(|(_, n, _)| *n == number) {
                    p.refund_of = None;
                }
            }
        }
        let mut requests =
            vec![Request::Outcome { session_id: u.session_id.clone(), issuance_number: number.clone(), outcome }];
        if let (true, Some(yen)) = (voided, u.refund_paid) {
            let outcome = IssueOutcome::Refunded { yen };
            requests.push(Request::Outcome { session_id: u.session_id, issuance_number: number, outcome });
        }
        for request in requests {
            let op = self.k.next_op();
            fx.push(Effect::Backend(BackendCall { op, request }));
        }
    }

    pub(crate) fn on_payment(&mut self, event: PaymentEvent, fx: &mut Vec<Effect>) {
        match event {
            PaymentEvent::Ready(ready) => {
                self.k.cash_ready = ready;
                if let Some(mut turn) = self.turn(fx).filter(|t| !ready && t.t.phase.before_money()) {
                    turn.exit(Some(FailureCode::CashUnavailable));
                }
            }
            PaymentEvent::Inserted { total_yen } => {
                if let Some(mut turn) = self.turn(fx) {
                    turn.inserted(total_yen);
                }
            }
            PaymentEvent::PaidOut { yen } => {
                self.audit(fx, RecordKind::PaidOut { yen });
                let payouts = &mut self.k.payouts;
                let i = payouts.iter().position(|p| p.yen == yen).or(if payouts.is_empty() { None } else { Some(0) });
                let paid = i.map(|i| payouts.remove(i));
                if let Some(Payout { refund_of: Some((session_id, issuance_number, fee)), yen: owed, .. }) = paid {
                    if yen >= owed && self.unsettled(&issuance_number) {
                        // Reported once the printer has accounted for the job.
                        if let Some(u) = self.k.unsettled_print.as_mut() {
                            u.refund_paid = Some(fee);
                        }
                    } else if yen >= owed {
                        let op = self.k.next_op();
                        let outcome = IssueOutcome::Refunded { yen: fee };
                        let request = Request::Outcome { session_id, issuance_number, outcome };
                        fx.push(Effect::Backend(BackendCall { op, request }));
                    }
                }
                if self.k.cash_hung {
                    // The unit pays again: back in service (what timed out stays owed until
                    // staff settle it).
                    self.k.cash_hung = false;
                    self.k.cash_ready = true;
                }
                if let Some(Phase::Closing(c)) = self.txn.as_mut().map(|t| &mut t.phase) {
                    c.returned = c.returned.saturating_add(yen);
                }
            }
            PaymentEvent::Fault { kind, yen_not_returned } => {
                self.k.cash_ready = false;
                // The fault accounts for what the unit still held: no payout is awaited.
                self.k.payouts.clear();
                if let Some(mut turn) = self.turn(fx) {
                    turn.cash_fault(kind, yen_not_returned);
                }
            }
        }
    }
}

impl Session {
    /// Payouts the cash unit did not confirm in time are recorded as owed.
    pub(crate) fn payouts_overdue(&mut self, fx: &mut Vec<Effect>) {
        let now = self.k.mono();
        let (late, waiting): (Vec<Payout>, Vec<Payout>) =
            std::mem::take(&mut self.k.payouts).into_iter().partition(|p| now >= p.by);
        self.k.payouts = waiting;
        for p in late {
            log::error!("cash unit did not confirm a payout of {} yen in time: recorded as owed", p.yen);
            self.k.cash_ready = false;
            self.k.cash_hung = true;
            fx.push(self.k.record(Some(&p.transaction), RecordKind::PayoutTimedOut { yen: p.yen }));
            fx.push(self.k.record(Some(&p.transaction), RecordKind::MoneyOwed { yen: p.yen }));
            if let Some(Phase::Closing(c)) =
                self.txn.as_mut().filter(|t| t.reference == p.transaction).map(|t| &mut t.phase)
            {
                c.owed = c.owed.saturating_add(p.yen);
            }
        }
    }
}

impl Turn<'_> {
    pub(crate) fn start_payment(&mut self) {
        if !self.k.printer_ready {
            return self.exit(Some(FailureCode::PrinterUnavailable));
        }
        if !self.k.cash_ready {
            return self.exit(Some(FailureCode::CashUnavailable));
        }
        let Phase::Ordering { step, .. } = &self.t.phase else { return };
        let Some(chosen) = step.chosen() else { return };
        if !chosen.document.years.is_empty() && chosen.year.is_none() {
            return;
        }
        let (chosen, due) = (chosen.clone(), chosen.total_yen());
        if due == 0 {
            return self.issue(chosen, due);
        }
        let reference = self.t.reference.clone();
        self.fx.push(Effect::Payment(PaymentCommand::Collect { reference, due_yen: due }));
        self.set_step(Step::Payment { chosen, due });
    }

    fn issue(&mut self, chosen: Chosen, due: u32) {
        let Phase::Ordering { resident, .. } = &self.t.phase else { return };
        let resident = resident.clone();
        self.t.backend_attempts = 0;
        let key = format!("{}-{}", self.k.cfg.kiosk_id, &self.k.derive("issuance", self.t.number)[..32]);
        let request = IssueRequest {
            session_id: resident.session_id.clone(),
            municipality_code: chosen.municipality_code,
            document: chosen.document.kind,
            options: chosen.options,
            // The resident alone is the backend's default: sent as no persons.
            persons: if chosen.persons.len() == 1
                && chosen.document.persons.iter().any(|p| p.is_self && p.id == chosen.persons[0])
            {
                Vec::new()
            } else {
                chosen.persons
            },
            year: chosen.year,
            copies: chosen.copies,
            paid_yen: due,
            payment_reference: self.t.reference.clone(),
            idempotency_key: key.clone(),
        };
        self.audit(RecordKind::IssuanceRequested { idempotency_key: key });
        self.backend(Request::Issue(request.clone()), BackendStep::Issue);
        self.enter(Phase::Issuing { resident, request });
    }

    fn inserted(&mut self, total_yen: u32) {
        let added = total_yen.saturating_sub(self.t.inserted);
        self.t.inserted = self.t.inserted.max(total_yen);
        let inserted = self.t.inserted;
        match &mut self.t.phase {
            // Money that arrived after the end (a coin still rolling) goes straight back.
            Phase::Closing(c) if added > 0 => {
                c.to_return += added;
                let by = self.k.now.map_or(Duration::ZERO, |n| n.mono) + self.k.cfg.timeouts.payout;
                self.k.payouts.push(Payout { transaction: self.t.reference.clone(), yen: added, by, refund_of: None });
                self.fx.push(Effect::Payment(PaymentCommand::Refund { yen: added }));
            }
            Phase::Closing(_) => {}
            Phase::Ordering { step: Step::Payment { chosen, due }, .. } if inserted >= *due => {
                let (chosen, due) = (chosen.clone(), *due);
                self.fx.push(Effect::Payment(PaymentCommand::StopAccepting));
                self.audit(RecordKind::Collected { yen: due });
                self.issue(chosen, due);
            }
            Phase::Ordering { step: Step::Payment { .. }, .. } => self.activity(),
            _ => {}
        }
    }

    fn cash_fault(&mut self, kind: CashFaultKind, yen_not_returned: u32) {
        match &mut self.t.phase {
            Phase::Closing(c) => {
                let owed = if yen_not_returned > 0 { yen_not_returned } else { c.to_return.saturating_sub(c.returned) };
                c.owed = c.owed.max(owed);
                let yen = c.owed;
                if yen > 0 {
                    self.audit(RecordKind::MoneyOwed { yen });
                }
            }
            Phase::Printing(_) | Phase::Issuing { .. } => {}
            _ => {
                let code = if kind == CashFaultKind::Jam { FailureCode::CashJam } else { FailureCode::CashUnavailable };
                self.exit(Some(code));
                if yen_not_returned > 0 {
                    if let Phase::Closing(c) = &mut self.t.phase {
                        c.owed = yen_not_returned;
                    }
                    self.audit(RecordKind::MoneyOwed { yen: yen_not_returned });
                }
            }
        }
    }

    fn printed(&mut self, issuance_number: String, pages: u32) {
        self.audit(RecordKind::Printed { issuance_number: issuance_number.clone(), pages });
        if let Phase::Printing(job) = &mut self.t.phase {
            job.print = PrintState::Done { pages };
            job.outcome_sent = true;
        }
        let session_id = self.t.backend_session.clone().unwrap_or_default();
        let op = self.k.next_op();
        self.fx.push(Effect::Backend(BackendCall {
            op,
            request: Request::Outcome { session_id, issuance_number, outcome: IssueOutcome::Printed },
        }));
        self.exit(None);
    }

    pub(crate) fn print_failed(&mut self, number: String, kind: PrinterErrorKind, paper: PaperOutcome) {
        self.audit(RecordKind::PrintFailed { issuance_number: number, kind, paper });
        if let Phase::Printing(job) = &mut self.t.phase {
            job.print = PrintState::Failed { paper };
        }
        let code = match kind {
            PrinterErrorKind::PaperOut => FailureCode::PrinterPaperOut,
            PrinterErrorKind::Jam => FailureCode::PrinterJam,
            _ => FailureCode::PrinterFault,
        };
        self.exit(Some(code));
    }
}
