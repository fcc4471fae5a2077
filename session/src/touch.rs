//! The resident's touches: what each action id means on the screen it was made on. A touch
//! that means nothing where it lands (a double tap, a control of a screen that is gone) does
//! nothing, so the UI never has to know the state machine.

use crate::pin::Action;
use crate::transaction::{Chosen, Phase, Step};
use crate::{CardCommand, DocumentOffer, Effect, FailureCode, PaymentCommand, RecordKind, Session, Touch, Turn};

impl Session {
    pub(crate) fn on_touch(&mut self, touch: Touch, fx: &mut Vec<Effect>) {
        if touch.visit.is_some_and(|v| v != self.k.visit) {
            log::debug!("dropped {touch:?}: made on a screen that has gone");
            return;
        }
        let action = touch.action();
        match &action {
            Action::Language(code) => {
                if self.k.cfg.languages.iter().any(|l| l == code) {
                    self.k.language = code.clone();
                }
                return;
            }
            Action::LargeText => {
                self.k.large_text = !self.k.large_text;
                return;
            }
            Action::HighContrast => {
                self.k.high_contrast = !self.k.high_contrast;
                return;
            }
            _ => {}
        }
        if let Action::Service(s) = &action {
            if s == "pin-reset" && self.reset_offered_after_blocked_pin() {
                // The locked PIN's screen offers the reset: this transaction is over (nothing
                // was charged, the PIN never reached the backend), a reset starts with the card
                // still on the reader.
                self.txn = None;
                let mut turn = self.begin(fx);
                turn.start_reset_of(madoguchi_api::ResetCredential::AuthPin);
                turn.activity();
                return;
            }
        }
        if let Some(mut turn) = self.turn(fx) {
            return turn.on_touch(action);
        }
        // Idle: the start screen's buttons open a transaction.
        let available = self.k.availability().is_none();
        match action {
            Action::Start if available => {
                let mut turn = self.begin(fx);
                turn.enter(Phase::ServiceMenu);
                turn.activity();
            }
            Action::Service(s) if s == "certificates" && available => {
                let mut turn = self.begin(fx);
                turn.place_card();
                turn.activity();
            }
            // A reset needs neither printer nor cash unit; its own hours are checked next.
            Action::Service(s) if s == "pin-reset" && self.k.clock_plausible() => {
                let mut turn = self.begin(fx);
                turn.start_reset();
                turn.activity();
            }
            _ => {}
        }
    }
}

impl Turn<'_> {
    fn on_touch(&mut self, action: Action) {
        if self.t.timer.warning {
            match action {
                Action::MoreTime => self.more_time(),
                Action::Cancel => self.exit(Some(FailureCode::Cancelled)),
                _ => {}
            }
            return;
        }
        if self.touch_in_phase(action) {
            self.activity();
        }
    }

    /// Returns whether the touch meant something here.
    fn touch_in_phase(&mut self, action: Action) -> bool {
        use Action as A;
        match (&mut self.t.phase, action) {
            (_, A::MoreTime) => {
                if self.t.timer.deadline.is_some() {
                    self.more_time();
                }
                false
            }
            (Phase::ServiceMenu, A::Service(s)) if s == "certificates" => {
                self.place_card();
                true
            }
            (Phase::ServiceMenu, A::Service(s)) if s == "pin-reset" => {
                self.start_reset();
                true
            }
            (Phase::Reset(f), A::Cancel) if f.cancellable() => {
                self.exit(Some(FailureCode::Cancelled));
                true
            }
            (Phase::Reset(_), action) => self.reset_touch(action),
            (Phase::ServiceMenu | Phase::PlaceCard, A::Back) => {
                self.exit(Some(FailureCode::Cancelled));
                true
            }
            (Phase::CertificateNotice { holder, then }, A::Ok) => {
                let (holder, then) = (holder.clone(), *then);
                self.after_certificate(then, holder);
                true
            }
            (Phase::Pin(p), A::Digit(d)) if !p.verifying => {
                p.pad.push(d);
                p.previous_wrong = false;
                true
            }
            (Phase::Pin(p), A::Backspace) if !p.verifying => {
                p.pad.backspace();
                true
            }
            (Phase::Pin(p), A::Clear) if !p.verifying => {
                p.pad.clear();
                true
            }
            (Phase::Pin(p), A::Ok) if !p.verifying => {
                if !p.pad.is_complete() {
                    return false;
                }
                match p.pad.take() {
                    Some(pin) => {
                        p.verifying = true;
                        self.card(CardCommand::Verify(pin));
                        self.restart_timer();
                    }
                    None => self.audit(RecordKind::PinFormatRefused),
                }
                true
            }
            (Phase::Ordering { offers, step: Step::Municipality, .. }, A::Municipality(code)) => {
                let Some(i) = offers.municipalities.iter().position(|m| m.code == code) else { return false };
                self.set_step(Step::Document { municipality: i });
                true
            }
            (Phase::Ordering { offers, step: Step::Document { municipality }, .. }, A::Document(kind)) => {
                let Some(m) = offers.municipalities.get(*municipality) else { return false };
                let Some(doc) = m.documents.iter().find(|d| d.kind == kind && d.max_copies > 0) else {
                    return false;
                };
                let chosen = Chosen {
                    place: *municipality,
                    municipality_code: m.code.clone(),
                    municipality_name: m.name.clone(),
                    document: doc.clone(),
                    options: Vec::new(),
                    persons: doc.persons.iter().filter(|p| p.is_self).map(|p| p.id.clone()).collect(),
                    year: doc.years.first().copied(),
                    copies: 1,
                };
                let next = if has_choices(doc) { Step::Options(chosen) } else { Step::Copies(chosen) };
                self.set_step(next);
                true
            }
            (Phase::Ordering { offers, step: Step::Document { .. }, .. }, A::Back)
                if offers.municipalities.len() > 1 =>
            {
                self.set_step(Step::Municipality);
                true
            }
            (Phase::Ordering { step: Step::Options(c), .. }, A::Option(name)) => {
                let offered = c.document.options.contains(&name);
                if offered {
                    if let Some(i) = c.options.iter().position(|o| *o == name) {
                        c.options.remove(i);
                    } else {
                        c.options.push(name);
                    }
                }
                offered
            }
            (Phase::Ordering { step: Step::Options(c), .. }, A::Person(id)) => {
                if !c.document.persons.iter().any(|p| p.id == id) {
                    return false;
                }
                if let Some(i) = c.persons.iter().position(|p| *p == id) {
                    // At least one person stays on the document.
                    if c.persons.len() == 1 {
                        return false;
                    }
                    c.persons.remove(i);
                } else {
                    c.persons.push(id);
                }
                true
            }
            (Phase::Ordering { step: Step::Options(c), .. }, A::Persons(scope)) => {
                let everyone = c.document.persons.iter();
                c.persons = match scope.as_str() {
                    "self" => everyone.filter(|p| p.is_self).map(|p| p.id.clone()).collect(),
                    "household" => everyone.map(|p| p.id.clone()).collect(),
                    _ => return false,
                };
                true
            }
            (Phase::Ordering { step: Step::Options(c), .. }, A::Year(y)) => {
                let offered = c.document.years.contains(&y);
                if offered {
                    c.year = Some(y);
                }
                offered
            }
            (Phase::Ordering { step: Step::Options(c), .. }, A::Ok) => {
                let next = Step::Copies(c.clone());
                self.set_step(next);
                true
            }
            (Phase::Ordering { step: Step::Options(c), .. }, A::Back) => {
                let next = Step::Document { municipality: c.place };
                self.set_step(next);
                true
            }
            (Phase::Ordering { step: Step::Copies(c), .. }, A::Back) => {
                let next = if has_choices(&c.document) {
                    Step::Options(c.clone())
                } else {
                    Step::Document { municipality: c.place }
                };
                self.set_step(next);
                true
            }
            (Phase::Ordering { step: Step::Copies(c), .. }, direction @ (A::CopiesUp | A::CopiesDown)) => {
                let max = c.document.max_copies.max(1);
                match direction {
                    A::CopiesUp if c.copies < max => c.copies += 1,
                    A::CopiesDown if c.copies > 1 => c.copies -= 1,
                    _ => return false,
                }
                true
            }
            (Phase::Ordering { step: Step::Copies(c), .. }, A::Ok) => {
                let next = Step::Confirm(c.clone());
                self.set_step(next);
                true
            }
            (Phase::Ordering { step: Step::Options(_) | Step::Copies(_) | Step::Confirm(_), .. }, A::Confirm)
            | (Phase::Ordering { step: Step::Confirm(_), .. }, A::Ok) => {
                self.start_payment();
                true
            }
            (Phase::Ordering { step: Step::Confirm(c), .. }, A::Back) => {
                let next = Step::Copies(c.clone());
                self.set_step(next);
                true
            }
            (Phase::Ordering { step: Step::Payment { chosen, .. }, .. }, A::Back) if self.t.inserted == 0 => {
                let next = Step::Confirm(chosen.clone());
                self.fx.push(Effect::Payment(PaymentCommand::StopAccepting));
                self.set_step(next);
                true
            }
            (Phase::Closing(c), A::Ok | A::Finish) => {
                c.acknowledged = true;
                c.deadline = None;
                true
            }
            (phase, A::Cancel) if phase.cancellable() => {
                self.exit(Some(FailureCode::Cancelled));
                true
            }
            // Anything else (a double tap, a control of a screen that is gone) does nothing.
            _ => false,
        }
    }

    /// Moves to another screen of choosing and paying.
    pub(crate) fn set_step(&mut self, next: Step) {
        if let Phase::Ordering { step, .. } = &mut self.t.phase {
            *step = next;
        }
        self.restart_timer();
    }
}

/// The document has options or years to choose before the copies.
pub(crate) fn has_choices(d: &DocumentOffer) -> bool {
    !d.options.is_empty() || !d.years.is_empty() || d.persons.len() > 1
}
