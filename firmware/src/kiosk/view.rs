//! The session's [`View`] as the UI's [`ViewModel`], and the UI's touches as the session's
//! [`Touch`]es: the only place where the two meet.
//!
//! Both sides already share the screen list, the progress stages, the failure codes and the
//! money states (the session re-exports the UI's types), so this is a field-by-field copy plus
//! the few translations of shape: the PIN pad (a count and the tries left; the view has no digit
//! to copy), certificate notices with their dates, why the kiosk is unavailable, and the service
//! hours, which the session keeps as times and the UI shows as text.

use madoguchi_drivers::jpki::TokenKind;
use madoguchi_session::{
    CertificateNotice, Choice, FailureView, OrderView, PaymentView, PinPad, ServiceHours, Touch, Unavailable, View,
};
use madoguchi_ui as ui;

/// 29 December to 3 January: the days the service closes every year (the UI says so under the
/// hours when the kiosk keeps them).
const YEAR_END: [(u8, u8); 6] = [(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)];

/// The view model that shows `view`. `hours` are the kiosk's service hours (idle and closed
/// screens say them).
pub fn view_model(view: &View, hours: &ServiceHours) -> ui::ViewModel {
    let mut vm = ui::ViewModel::new(view.screen, language(&view.language));
    vm.large_text = view.large_text;
    vm.high_contrast = view.high_contrast;
    vm.countdown = view.countdown.map(|seconds_left| ui::Countdown { seconds_left, more_time: view.can_more_time });
    vm.can_go_back = view.can_go_back;
    vm.can_cancel = view.can_cancel;
    vm.phone = matches!(view.token, Some(TokenKind::Android | TokenKind::Iphone));
    vm.services = choices(&view.services);
    vm.progress = ui::Progress {
        stage: view.progress.stage,
        pages_done: view.progress.pages_done,
        pages_total: view.progress.pages_total,
        ..ui::Progress::default()
    };
    if let Some(pad) = view.pin {
        vm.pin = pin_pad(pad);
    }
    vm.certificate_problem = view.certificate.map(certificate_problem);
    vm.municipalities = choices(&view.municipalities);
    vm.documents = choices(&view.documents);
    vm.options = choices(&view.options);
    vm.years = choices(&view.years);
    if let Some(order) = &view.order {
        vm.order = self::order(order);
    }
    if let Some(payment) = view.payment {
        vm.payment = self::payment(payment);
        // what the cash unit collects is what the payment screen asks for
        if payment.due_yen > 0 {
            vm.order.total_yen = payment.due_yen;
        }
    }
    vm.failure = view.failure.as_ref().map(failure);
    vm.hours = ui::Hours {
        opens: clock(hours.opens),
        closes: clock(hours.closes),
        reason: reason(view.unavailable),
        year_end_closed: YEAR_END.iter().all(|d| hours.closed_days.contains(d)),
    };
    vm.resumes = view.resumes;
    vm
}

/// The session's touch for a control the UI reported, made on the screen `visit` (the
/// [`View::visit`] shown when it was touched: a touch on a screen that has gone is dropped).
pub fn touch_from_ui(action: &str, visit: u64) -> Touch {
    Touch::new(action).on(visit)
}

/// The UI language for a BCP 47 code; Japanese for one the UI does not have.
pub fn language(code: &str) -> ui::Language {
    ui::Language::from_code(code).unwrap_or(ui::Language::Ja)
}

/// `6:30`, `23:00`: as the resident reads a time in every UI language.
fn clock(t: time::Time) -> String {
    format!("{}:{:02}", t.hour(), t.minute())
}

fn choices(list: &[Choice]) -> Vec<ui::Choice> {
    list.iter()
        .map(|c| ui::Choice {
            id: c.id.clone(),
            label: c.label.clone(),
            detail: String::new(),
            note: c.note.clone(),
            fee_yen: c.fee_yen,
            enabled: c.enabled,
            selected: c.selected,
        })
        .collect()
}

/// The 4-digit user-authentication PIN pad: how many were typed and the tries left. The view
/// has no digit, so none can reach the UI.
fn pin_pad(p: PinPad) -> ui::PinPad {
    ui::PinPad {
        typed: p.typed.min(p.length),
        min_len: p.length,
        max_len: p.length,
        // one try left is the strong warning, whatever else the count says
        tries_left: if p.last_try_warning { Some(1) } else { p.tries_left },
        previous_wrong: p.previous_wrong,
        ..ui::PinPad::default()
    }
}

fn date(d: time::Date) -> ui::Date {
    ui::Date { year: d.year(), month: u8::from(d.month()), day: d.day() }
}

fn certificate_problem(n: CertificateNotice) -> ui::CertificateProblem {
    match n {
        CertificateNotice::Expired { last_day } => ui::CertificateProblem::Expired(date(last_day)),
        CertificateNotice::ExpiringSoon { last_day, days_left } => ui::CertificateProblem::ExpiringSoon {
            last_day: date(last_day),
            days_left: u32::try_from(days_left.max(0)).unwrap_or(u32::MAX),
        },
        CertificateNotice::Revoked => ui::CertificateProblem::Revoked,
        CertificateNotice::Suspended => ui::CertificateProblem::Suspended,
        CertificateNotice::PinBlocked => ui::CertificateProblem::PinBlocked,
        CertificateNotice::NotYetValid => ui::CertificateProblem::NotYetValid,
    }
}

fn order(o: &OrderView) -> ui::Order {
    ui::Order {
        municipality: o.municipality.clone(),
        document: o.document.clone(),
        document_label: o.document_title.clone(),
        options: o.options.clone(),
        year: o.year.and_then(|y| u16::try_from(y).ok()),
        copies: o.copies,
        max_copies: o.max_copies,
        fee_per_copy_yen: o.fee_per_copy_yen,
        total_yen: o.total_yen,
    }
}

fn payment(p: PaymentView) -> ui::Payment {
    ui::Payment { inserted_yen: p.inserted_yen, change_yen: p.change_yen }
}

fn failure(f: &FailureView) -> ui::Failure {
    ui::Failure { code: f.code, money: f.money, reference: f.reference.clone(), pages_printed: f.pages_printed }
}

fn reason(u: Option<Unavailable>) -> ui::Reason {
    match u {
        None => ui::Reason::None,
        Some(Unavailable::Hours) => ui::Reason::Hours,
        Some(Unavailable::ClosedDay) => ui::Reason::ClosedDay,
        Some(Unavailable::Printer) => ui::Reason::Printer,
        Some(Unavailable::Cash) => ui::Reason::Cash,
        Some(Unavailable::Clock) => ui::Reason::Clock,
    }
}

/// The texts the UI shows for `view` (headless, on this thread's UI): for tests that check what
/// a resident reads.
#[cfg(test)]
pub(crate) fn shown_texts(view: &View) -> Vec<String> {
    thread_local! {
        static UI: ui::Ui = ui::Ui::headless(1280, 800).expect("headless UI");
    }
    UI.with(|u| {
        u.set_view(&view_model(view, &ServiceHours::default()));
        u.visible_texts()
    })
}

#[cfg(test)]
mod read;
#[cfg(test)]
mod tests;
