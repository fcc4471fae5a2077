//! What the resident sees and hears: the view of the current phase and the lamps and chime.
//! Built from the state after every event and sent only when it changed, so the UI is a pure
//! rendering of the session.

use crate::transaction::{Closing, Phase, PrintState, Step, Transaction};
use crate::{
    pin, Choice, Effect, FailureView, MoneyState, OrderView, PaymentView, PinPad, Route, ScreenId, Session, Signal,
    Stage, Unavailable, View,
};
use madoguchi_drivers::gpio::{Level, Output};
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

    pub(crate) fn build_view(&self) -> View {
        let mut v = View {
            language: self.k.language.clone(),
            large_text: self.k.large_text,
            high_contrast: self.k.high_contrast,
            ..View::default()
        };
        let now = self.k.mono();
        let Some(t) = self.txn.as_ref() else {
            v.unavailable = self.k.availability();
            v.screen = match v.unavailable {
                Some(Unavailable::Hours | Unavailable::ClosedDay) => ScreenId::Closed,
                Some(_) => ScreenId::OutOfService,
                None => ScreenId::Idle,
            };
            v.services = services(v.unavailable.is_none());
            return v;
        };
        v.token = t.card.as_ref().and_then(|c| c.token);
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
                v.services = services(true);
                v.can_go_back = true;
            }
            Phase::Pin(p) => {
                let typed = if p.verifying { pin::PIN_LEN as u8 } else { p.pad.len() as u8 };
                v.pin = Some(PinPad {
                    typed,
                    length: pin::PIN_LEN as u8,
                    tries_left: Some(p.tries_left),
                    last_try_warning: p.tries_left == 1,
                    previous_wrong: p.previous_wrong,
                });
                if p.verifying {
                    v.progress.stage = crate::Stage::VerifyPin;
                    v.can_cancel = false;
                }
            }
            Phase::CertificateNotice { holder, .. } => v.certificate = holder.notice,
            Phase::Ordering { offers, step, .. } => fill_choices(t, offers, step, &mut v),
            _ => {}
        }
        if let Some(deadline) = t.timer.deadline {
            let end = deadline.min(t.overall_deadline);
            v.countdown = Some(ceil_secs(end.saturating_sub(now)));
            // "More time" cannot stretch the whole transaction's limit.
            let timeouts = &self.k.cfg.timeouts;
            v.can_more_time =
                t.timer.more_time_used < timeouts.max_more_time && t.overall_deadline > now + timeouts.more_time;
            if t.timer.warning {
                v.resumes = Some(v.screen);
                v.screen = ScreenId::TimeoutWarning;
                v.can_go_back = false;
            }
        }
        match &t.phase {
            Phase::Ordering { step: Step::Payment { due, .. }, .. } => {
                v.payment = Some(PaymentView { due_yen: *due, inserted_yen: t.inserted, change_yen: 0 });
            }
            Phase::Issuing { request, .. } => {
                v.payment = Some(PaymentView { due_yen: request.paid_yen, inserted_yen: t.inserted, change_yen: 0 });
            }
            Phase::Closing(c) => closing_view(t, c, now, &mut v),
            _ => {}
        }
        v
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
    }
}

fn services(enabled: bool) -> Vec<Choice> {
    let mut pin_reset = Choice::new("pin-reset", "");
    pin_reset.enabled = false;
    pin_reset.note = "not-offered".into();
    let mut certificates = Choice::new("certificates", "");
    certificates.enabled = enabled;
    vec![certificates, pin_reset]
}

fn closing_view(t: &Transaction, c: &Closing, now: Duration, v: &mut View) {
    v.can_cancel = false;
    v.countdown = c.deadline.map(|d| ceil_secs(d.saturating_sub(now)));
    v.screen = match (c.code, c.acknowledged) {
        (_, true) => ScreenId::TakeCard,
        (None, false) => ScreenId::TakeDocuments,
        (Some(code), false) if code.is_certificate_problem() => ScreenId::CertificateProblem,
        (Some(_), false) => ScreenId::Failure,
    };
    match c.code {
        None => v.payment = Some(PaymentView { due_yen: c.due, inserted_yen: t.inserted, change_yen: c.to_return }),
        Some(code) => {
            v.certificate = c.notice.filter(|_| code.is_certificate_problem());
            v.failure = Some(FailureView {
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

fn fill_choices(t: &Transaction, offers: &crate::Offers, step: &Step, v: &mut View) {
    match step {
        Step::Municipality => {
            v.municipalities = offers
                .municipalities
                .iter()
                .map(|m| {
                    let mut c = Choice::new(m.code.clone(), m.name.clone());
                    c.note = match m.route {
                        Route::Residence => "residence",
                        Route::Honseki => "honseki",
                    }
                    .into();
                    c.enabled = !m.documents.is_empty();
                    c
                })
                .collect();
        }
        Step::Document { municipality } => {
            v.can_go_back = offers.municipalities.len() > 1;
            if let Some(m) = offers.municipalities.get(*municipality) {
                v.documents = m
                    .documents
                    .iter()
                    .map(|d| {
                        let mut c = Choice::new(d.kind.clone(), d.title.clone());
                        c.fee_yen = Some(d.fee_yen);
                        c
                    })
                    .chain(m.unavailable.iter().map(|u| {
                        let mut c = Choice::new(u.kind.clone(), String::new());
                        c.enabled = false;
                        c.note = match u.reason.as_str() {
                            "outside_service_hours" => "not-now",
                            "closed_day" => "closed-day",
                            "not_eligible" | "restricted" => "not-eligible",
                            "no_record" => "no-record",
                            _ => "not-offered",
                        }
                        .into();
                        c
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
        v.options = d
            .options
            .iter()
            .map(|o| {
                let mut c = Choice::new(o.clone(), String::new());
                c.selected = chosen.options.contains(o);
                c
            })
            .collect();
        v.years = d
            .years
            .iter()
            .map(|y| {
                let mut c = Choice::new(y.to_string(), y.to_string());
                c.selected = chosen.year == Some(*y);
                c
            })
            .collect();
    }
    v.order = Some(OrderView {
        municipality: chosen.municipality_name.clone(),
        document: d.kind.clone(),
        document_title: d.title.clone(),
        options: chosen.options.clone(),
        year: chosen.year,
        copies: chosen.copies,
        max_copies: d.max_copies,
        fee_per_copy_yen: d.fee_yen,
        total_yen: chosen.total_yen(),
    });
}

fn ceil_secs(d: Duration) -> u32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}
