//! What the resident sees and hears: the view of the current phase and the lamps and chime.
//! Built from the state after every event and sent only when it changed, so the UI is a pure
//! rendering of the session.

use crate::transaction::{Closing, Phase, PrintState, Step, Transaction};
use crate::view_model::{Choice, Countdown, Failure, Order, Payment};
use crate::{pin, view, Effect, MoneyState, Route, ScreenId, Session, Signal, Stage, Unavailable, ViewModel};
use madoguchi_drivers::gpio::{Level, Output};
use madoguchi_drivers::jpki::TokenKind;
use std::time::Duration;

impl Session {
    fn wanted_outputs(&self) -> [Level; 3] {
        let mut out = [Level::Off; 3]; // card slot, status, chime
        let card_waiting = !self.k.cards.is_empty();
        let Some(t) = self.txn.as_ref() else {
            if self.k.availability().is_some() {
                out[1] = Level::On;
            }
            return out;
        };
        match &t.phase {
            Phase::PlaceCard => out[0] = Level::Blink,
            Phase::RemoveCard { .. } if t.card_on_reader() => {
                out[0] = Level::Blink;
                out[2] = Level::Blink;
            }
            Phase::Closing(c) => {
                if c.code.is_none() && !c.acknowledged {
                    out[1] = Level::Blink;
                    out[2] = Level::Blink;
                }
                if card_waiting {
                    out[0] = Level::Blink;
                    out[2] = Level::Blink;
                }
            }
            _ => {}
        }
        out
    }

    pub(crate) fn render(&mut self, fx: &mut Vec<Effect>) {
        let wanted = self.wanted_outputs();
        for (i, output) in Output::ALL.into_iter().enumerate() {
            if self.k.outputs[i] != wanted[i] {
                self.k.outputs[i] = wanted[i];
                fx.push(Effect::Signal(Signal { output, level: wanted[i] }));
            }
        }
        let mut view = self.build_view();
        let screen_changed = self.k.shown.as_ref().is_none_or(|v| v.screen != view.screen);
        if screen_changed || self.k.force_new_visit {
            self.k.visit += 1;
            self.k.force_new_visit = false;
        }
        view.visit = self.k.visit;
        if self.k.shown.as_ref() != Some(&view) {
            self.k.shown = Some(view.clone());
            fx.push(Effect::Show(view));
        }
    }

    pub(crate) fn build_view(&self) -> ViewModel {
        let mut v = ViewModel::new(ScreenId::Idle, view::language(&self.k.language));
        v.large_text = self.k.large_text;
        v.high_contrast = self.k.high_contrast;
        let now = self.k.mono();
        let Some(t) = self.txn.as_ref() else {
            let unavailable = self.k.availability();
            v.screen = match unavailable {
                Some(Unavailable::Hours | Unavailable::ClosedDay) => ScreenId::Closed,
                Some(Unavailable::Operator) => ScreenId::OutOfService,
                Some(_) => ScreenId::OutOfService,
                None => ScreenId::Idle,
            };
            v.services = match unavailable {
                // No certificates without printer or cash unit, but a PIN reset needs neither:
                // the out-of-service screen offers it when it is open (never with a wrong clock,
                // which cannot judge the reset hours or a certificate).
                Some(Unavailable::Printer | Unavailable::Cash | Unavailable::Clock) => match self.reset_available() {
                    Some(true) => vec![Choice::new("pin-reset")],
                    _ => Vec::new(),
                },
                // held by operator mode (a door opened without the key, say): nothing at all
                Some(Unavailable::Operator) => Vec::new(),
                _ => services(unavailable.is_none(), self.reset_available()),
            };
            v.hours = view::hours(&self.k.cfg.hours, unavailable);
            return v;
        };
        v.hours = view::hours(&self.k.cfg.hours, None);
        v.phone = matches!(t.card.as_ref().and_then(|c| c.token), Some(TokenKind::Android | TokenKind::Iphone));
        v.can_cancel = t.phase.cancellable();
        let (screen, stage) = screen_of(t);
        v.screen = screen;
        v.progress.stage = stage;
        let print = match &t.phase {
            Phase::Printing(job) => job.print,
            Phase::Closing(c) => c.print,
            _ => PrintState::NotStarted,
        };
        if let PrintState::Running { pages_done, pages_total } = print {
            v.progress.pages_done = pages_done;
            v.progress.pages_total = pages_total;
        }
        match &t.phase {
            Phase::ServiceMenu => {
                v.services = services(true, self.reset_available());
                v.can_go_back = true;
            }
            Phase::Pin(p) => {
                let typed = if p.verifying { pin::PIN_LEN as u8 } else { p.pad.len() as u8 };
                let tries = Some(p.tries_left);
                v.pin = view::pin_pad(typed, pin::PIN_LEN as u8, tries, p.tries_left == 1, p.previous_wrong);
                if p.verifying {
                    v.progress.stage = Stage::VerifyPin;
                    v.can_cancel = false;
                }
            }
            Phase::CertificateNotice { holder, .. } => {
                v.certificate_problem = holder.notice.map(view::certificate_problem);
            }
            Phase::Ordering { offers, step, .. } => fill_choices(t, offers, step, &mut v),
            Phase::Reset(f) => {
                crate::reset::reset_view(f, &mut v);
                v.resets = crate::reset::reset_choices(&self.k.cfg.pin_reset);
                v.can_cancel = f.cancellable();
            }
            _ => {}
        }
        if let Some(deadline) = t.timer.deadline {
            let end = deadline.min(t.overall_deadline);
            // "More time" cannot stretch the whole transaction's limit.
            let timeouts = &self.k.cfg.timeouts;
            let more_time =
                t.timer.more_time_used < timeouts.max_more_time && t.overall_deadline > now + timeouts.more_time;
            v.countdown = Some(Countdown { seconds_left: ceil_secs(end.saturating_sub(now)), more_time });
            if t.timer.warning {
                v.resumes = Some(v.screen);
                v.screen = ScreenId::TimeoutWarning;
                v.can_go_back = false;
            }
        }
        match &t.phase {
            Phase::Ordering { step: Step::Payment { due, .. }, .. } => payment(&mut v, *due, t.inserted, 0),
            Phase::Issuing { request, .. } => payment(&mut v, request.paid_yen, t.inserted, 0),
            Phase::Closing(c) => {
                closing_view(t, c, now, &mut v);
                if self.reset_offered_after_blocked_pin() {
                    v.services = vec![Choice::new("pin-reset")];
                }
            }
            _ => {}
        }
        v
    }
}

/// Money on the payment, printing and take-documents screens: what the cash unit collects is
/// what the payment screen asks for.
fn payment(v: &mut ViewModel, due_yen: u32, inserted_yen: u32, change_yen: u32) {
    v.payment = Payment { inserted_yen, change_yen };
    if due_yen > 0 {
        v.order.total_yen = due_yen;
    }
}

/// The screen of a phase and the progress stage it shows.
fn screen_of(t: &Transaction) -> (ScreenId, Stage) {
    match &t.phase {
        Phase::ServiceMenu => (ScreenId::ServiceMenu, Stage::None),
        Phase::PlaceCard => (ScreenId::PlaceCard, Stage::None),
        Phase::ReadingToken | Phase::ReadingCertificate => (ScreenId::ReadingCard, Stage::ReadCertificate),
        Phase::PinStatus { .. } => (ScreenId::ReadingCard, Stage::CheckCertificate),
        Phase::CertificateNotice { .. } => (ScreenId::CertificateProblem, Stage::None),
        // A wrong PIN comes back to this same screen with the new count: no dialog.
        Phase::Pin(_) => (ScreenId::PinEntry, Stage::None),
        Phase::Authenticating { step: crate::transaction::AuthStep::Signing { .. }, .. } => {
            (ScreenId::Authenticating, Stage::Sign)
        }
        Phase::Authenticating { .. } => (ScreenId::Authenticating, Stage::Backend),
        Phase::RemoveCard { .. } if t.card_on_reader() => (ScreenId::RemoveCard, Stage::None),
        Phase::RemoveCard { .. } => (ScreenId::Authenticating, Stage::Backend),
        Phase::Ordering { step, .. } => match step {
            Step::Municipality => (ScreenId::ChooseMunicipality, Stage::None),
            Step::Document { .. } => (ScreenId::ChooseDocument, Stage::None),
            Step::Options(_) => (ScreenId::DocumentOptions, Stage::None),
            Step::Copies(_) => (ScreenId::Copies, Stage::None),
            Step::Confirm(_) => (ScreenId::Confirm, Stage::None),
            Step::Payment { .. } => (ScreenId::Payment, Stage::None),
        },
        Phase::Issuing { .. } => (ScreenId::Printing, Stage::Issue),
        Phase::Printing(_) => (ScreenId::Printing, Stage::Printing),
        Phase::Closing(_) => (ScreenId::Failure, Stage::None),
        // Filled in by `reset::reset_view`.
        Phase::Reset(_) => (ScreenId::PinResetChoose, Stage::None),
    }
}

fn services(certificates: bool, reset: Option<bool>) -> Vec<Choice> {
    let reset = match reset {
        Some(true) => Choice::new("pin-reset"),
        Some(false) => Choice::new("pin-reset").enabled(false).note("hours"),
        None => Choice::new("pin-reset").enabled(false).note("not-offered"),
    };
    vec![Choice::new("certificates").enabled(certificates), reset]
}

impl Session {
    /// A card's PIN was found blocked in this transaction, and this kiosk can reset it now.
    pub(crate) fn reset_offered_after_blocked_pin(&self) -> bool {
        let Some(t) = self.txn.as_ref() else { return false };
        let blocked = matches!(&t.phase, Phase::Closing(c) if c.code == Some(crate::FailureCode::PinBlocked));
        let card = t.card.as_ref().is_some_and(|c| c.on_reader && c.token == Some(TokenKind::Card));
        blocked
            && card
            && self.k.cfg.pin_reset.offers(madoguchi_api::ResetCredential::AuthPin)
            && self.reset_available() == Some(true)
    }

    /// `None`: this kiosk offers no PIN reset; else whether it is within the reset hours.
    fn reset_available(&self) -> Option<bool> {
        let offer = &self.k.cfg.pin_reset;
        if offer.credentials.is_empty() {
            return None;
        }
        Some(self.k.clock_plausible() && self.k.wall().is_some_and(|w| offer.open_at(w)))
    }
}

fn closing_view(t: &Transaction, c: &Closing, now: Duration, v: &mut ViewModel) {
    v.can_cancel = false;
    v.countdown = c.deadline.map(|d| Countdown::fixed(ceil_secs(d.saturating_sub(now))));
    v.screen = match (c.code, c.acknowledged) {
        (_, true) => ScreenId::TakeCard,
        (None, false) if t.reset_done.is_some() => ScreenId::PinResetDone,
        (None, false) => ScreenId::TakeDocuments,
        (Some(code), false) if code.is_certificate_problem() => ScreenId::CertificateProblem,
        (Some(_), false) => ScreenId::Failure,
    };
    match c.code {
        None => {
            payment(v, c.due, t.inserted, c.to_return);
            v.reset_target = t.reset_done.map(crate::reset::target);
        }
        Some(code) => {
            v.certificate_problem = c.notice.filter(|_| code.is_certificate_problem()).map(view::certificate_problem);
            v.failure = Some(Failure {
                code,
                money: money_state(c),
                pages_printed: c.print.pages_printed(),
                reference: t.reference.clone(),
            });
        }
    }
}

fn money_state(c: &Closing) -> MoneyState {
    if c.owed > 0 {
        MoneyState::Owed { yen: c.owed }
    } else if c.to_return == 0 {
        MoneyState::NotCharged
    } else if c.returned >= c.to_return {
        MoneyState::Returned { yen: c.to_return }
    } else {
        MoneyState::Returning { yen: c.to_return }
    }
}

fn fill_choices(t: &Transaction, offers: &crate::Offers, step: &Step, v: &mut ViewModel) {
    match step {
        Step::Municipality => {
            v.municipalities = offers
                .municipalities
                .iter()
                .map(|m| {
                    let note = match m.route {
                        Route::Residence => "residence",
                        Route::Honseki => "honseki",
                    };
                    Choice::new(m.code.clone()).label(m.name.clone()).note(note).enabled(!m.documents.is_empty())
                })
                .collect();
        }
        Step::Document { municipality } => {
            v.can_go_back = offers.municipalities.len() > 1;
            if let Some(m) = offers.municipalities.get(*municipality) {
                v.notices = m.notices.clone();
                v.documents = m
                    .documents
                    .iter()
                    .map(|d| Choice::new(d.kind.clone()).label(d.title.clone()).fee(d.fee_yen))
                    .chain(m.unavailable.iter().map(|u| {
                        let note = match u.reason.as_str() {
                            "outside_service_hours" => "not-now",
                            "closed_day" => "closed-day",
                            "not_eligible" | "restricted" => "not-eligible",
                            "no_record" => "no-record",
                            "unprintable" => "unprintable",
                            _ => "not-offered",
                        };
                        Choice::new(u.kind.clone()).enabled(false).note(note)
                    }))
                    .collect();
            }
        }
        Step::Options(_) | Step::Copies(_) | Step::Confirm(_) | Step::Payment { .. } => {}
    }
    let Some(chosen) = step.chosen() else { return };
    let d = &chosen.document;
    v.can_go_back = !matches!(step, Step::Payment { .. }) || t.inserted == 0;
    if let Step::Options(_) = step {
        v.options = d.options.iter().map(|o| Choice::new(o.clone()).selected(chosen.options.contains(o))).collect();
        v.years = d
            .years
            .iter()
            .map(|y| Choice::new(y.to_string()).label(y.to_string()).selected(chosen.year == Some(*y)))
            .collect();
        if d.persons.len() > 1 {
            v.persons = d
                .persons
                .iter()
                .map(|p| {
                    Choice::new(p.id.clone())
                        .label(p.name.clone())
                        .detail(p.relationship.clone())
                        .selected(chosen.persons.contains(&p.id))
                })
                .collect();
        }
    }
    v.order = Order {
        municipality: chosen.municipality_name.clone(),
        document: d.kind.clone(),
        document_label: d.title.clone(),
        options: chosen.options.clone(),
        year: chosen.year.and_then(|y| u16::try_from(y).ok()),
        copies: chosen.copies,
        max_copies: d.max_copies,
        fee_per_copy_yen: d.fee_yen,
        total_yen: chosen.total_yen(),
    };
}

fn ceil_secs(d: Duration) -> u32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}
