//! Sample view models for every screen: the gallery, the tests, and an example for the session
//! of what each screen expects.

use madoguchi_session::view_model::*;

/// A plausible view model for `screen` in `language`, with every field the screen uses filled.
pub fn sample(screen: Screen, language: Language) -> ViewModel {
    let mut vm = ViewModel::new(screen, language);
    vm.can_cancel = !matches!(
        screen,
        Screen::Idle
            | Screen::Language
            | Screen::Closed
            | Screen::OutOfService
            | Screen::TakeDocuments
            | Screen::Failure
            | Screen::Printing
            | Screen::PinResetDone
    );
    vm.can_go_back = matches!(
        screen,
        Screen::Language
            | Screen::ServiceMenu
            | Screen::ChooseDocument
            | Screen::DocumentOptions
            | Screen::Copies
            | Screen::Confirm
            | Screen::PinResetChoose
    );
    vm.services = vec![Choice::new("certificates"), Choice::new("pin-reset")];
    vm.order = Order {
        municipality: "横浜市".into(),
        document: "juminhyo".into(),
        document_label: String::new(),
        options: vec!["household".into(), "setainushi".into()],
        year: None,
        copies: 2,
        max_copies: 10,
        fee_per_copy_yen: 200,
        total_yen: 400,
    };
    match screen {
        Screen::Idle | Screen::Language | Screen::ServiceMenu => {}
        Screen::PlaceCard => vm.countdown = Some(Countdown::extendable(88)),
        Screen::ReadingCard => {
            vm.progress = Progress { stage: Stage::ReadCertificate, step: 2, steps: 3, ..Progress::default() };
        }
        Screen::PinEntry => {
            vm.pin = PinPad::auth(2, Some(3));
            vm.countdown = Some(Countdown::extendable(57));
        }
        Screen::CertificateProblem => {
            vm.certificate_problem = Some(CertificateProblem::Expired(Date { year: 2025, month: 3, day: 31 }));
            vm.failure = Some(Failure {
                code: FailureCode::CertificateExpired,
                money: MoneyState::NotCharged,
                reference: "K0042-20250601-0006".into(),
                pages_printed: 0,
            });
        }
        Screen::Authenticating => {
            vm.progress = Progress { stage: Stage::Backend, step: 2, steps: 3, ..Progress::default() };
        }
        Screen::RemoveCard => {}
        Screen::ChooseMunicipality => {
            vm.countdown = Some(Countdown::extendable(110));
            vm.municipalities = vec![
                Choice::new("141003").label("横浜市").detail("Yokohama").note("residence"),
                Choice::new("011002").label("札幌市").detail("Sapporo").note("honseki"),
            ];
        }
        Screen::ChooseDocument => {
            vm.countdown = Some(Countdown::extendable(110));
            vm.documents = vec![
                Choice::new("juminhyo").fee(200),
                Choice::new("kisaijiko").fee(200),
                Choice::new("inkan").fee(200),
                Choice::new("kazei").fee(200),
                Choice::new("koseki-zenbu").fee(350).enabled(false).note("not-now"),
                Choice::new("koseki-kojin").fee(350).enabled(false).note("not-now"),
                Choice::new("fuhyo").fee(200),
            ];
        }
        Screen::DocumentOptions => {
            vm.countdown = Some(Countdown::extendable(110));
            vm.options = vec![
                Choice::new("household").selected(true),
                Choice::new("setainushi").selected(true),
                Choice::new("honseki"),
                Choice::new("kojin_bango"),
            ];
        }
        Screen::Copies => vm.countdown = Some(Countdown::extendable(110)),
        Screen::Confirm => vm.countdown = Some(Countdown::extendable(110)),
        Screen::Payment => {
            vm.countdown = Some(Countdown::extendable(170));
            vm.payment = Payment { inserted_yen: 100, change_yen: 0 };
        }
        Screen::Printing => {
            vm.progress = Progress { stage: Stage::Printing, step: 0, steps: 0, pages_done: 1, pages_total: 2 };
        }
        Screen::TakeDocuments => vm.payment = Payment { inserted_yen: 500, change_yen: 100 },
        Screen::TakeCard => {}
        Screen::Failure => {
            vm.countdown = Some(Countdown::fixed(58));
            vm.failure = Some(Failure {
                code: FailureCode::PrinterJam,
                money: MoneyState::Returned { yen: 400 },
                reference: "K0042-20250601-0007".into(),
                pages_printed: 1,
            });
        }
        Screen::Closed => vm.hours = Hours { reason: Reason::Hours, ..Hours::default() },
        Screen::OutOfService => {
            vm.hours = Hours { reason: Reason::Paper, ..Hours::default() };
            // as the session offers it: no certificates without paper, the PIN reset still
            vm.services = vec![Choice::new("pin-reset")];
        }
        Screen::TimeoutWarning => {
            vm.countdown = Some(Countdown::extendable(14));
            vm.resumes = Some(Screen::Payment);
            vm.payment = Payment { inserted_yen: 100, change_yen: 0 };
        }
        Screen::PinResetChoose => {
            vm.countdown = Some(Countdown::extendable(110));
            vm.resets = vec![Choice::new("auth-pin"), Choice::new("sign-password")];
        }
        Screen::PasswordEntry => {
            vm.reset_target = Some(ResetTarget::AuthPin);
            vm.pin = PinPad::signature(0, Some(5));
            vm.countdown = Some(Countdown::extendable(57));
        }
        Screen::NewPinEntry => {
            vm.reset_target = Some(ResetTarget::AuthPin);
            vm.pin = new_value_pad(PinPurpose::NewAuth, 2);
            vm.countdown = Some(Countdown::extendable(57));
        }
        Screen::NewPinConfirm => {
            vm.reset_target = Some(ResetTarget::AuthPin);
            vm.pin = new_value_pad(PinPurpose::NewAuth, 0);
            vm.countdown = Some(Countdown::extendable(57));
        }
        Screen::PinResetDone => {
            vm.reset_target = Some(ResetTarget::AuthPin);
            vm.countdown = Some(Countdown::fixed(58));
        }
    }
    vm
}

/// The pad for a new PIN (`NewAuth`: 4 digits) or a new signature password (`NewSign`: 6 to 16
/// of A-Z and 0-9), as the session builds it: no tries (nothing is checked against the card).
pub fn new_value_pad(purpose: PinPurpose, typed: u8) -> PinPad {
    match purpose {
        PinPurpose::NewSign | PinPurpose::Sign => PinPad { purpose, ..PinPad::signature(typed, None) },
        PinPurpose::NewAuth | PinPurpose::Auth => PinPad { purpose, ..PinPad::auth(typed, None) },
    }
}

/// The PIN-reset states worth looking at beside [`sample`]: (name, view model).
fn reset_variants(language: Language, out: &mut Vec<(&'static str, ViewModel)>) {
    let mut vm = sample(Screen::PlaceCard, language);
    vm.reset_target = Some(ResetTarget::AuthPin);
    out.push(("place-card-reset", vm));
    // A record with a character no typeface holds: the paper is refused before payment.
    let mut vm = sample(Screen::ChooseDocument, language);
    vm.documents[0] = Choice::new("juminhyo").fee(300).enabled(false).note("unprintable");
    out.push(("choose-document-unprintable", vm));
    let mut vm = sample(Screen::PinResetChoose, language);
    vm.resets[1] = Choice::new("sign-password").enabled(false).note("not-offered");
    out.push(("pin-reset-choose-one-offered", vm));
    let mut vm = sample(Screen::PinResetChoose, language);
    vm.resets = vec![
        Choice::new("auth-pin").enabled(false).note("hours"),
        Choice::new("sign-password").enabled(false).note("hours"),
    ];
    out.push(("pin-reset-choose-hours", vm));
    let mut vm = sample(Screen::PasswordEntry, language);
    vm.pin = PinPad { previous_wrong: true, ..PinPad::signature(0, Some(1)) };
    out.push(("password-entry-last-try", vm));
    let mut vm = sample(Screen::PasswordEntry, language);
    vm.pin = PinPad::signature(11, Some(4));
    out.push(("password-entry-typing", vm));
    // a signature-password reset proves the resident with the auth PIN on the ordinary pad
    let mut vm = sample(Screen::PinEntry, language);
    vm.reset_target = Some(ResetTarget::SignPassword);
    vm.pin = PinPad::auth(0, Some(3));
    out.push(("pin-entry-reset-sign", vm));
    let mut vm = sample(Screen::NewPinEntry, language);
    vm.pin = PinPad { retry: Some(NewValueRetry::Mismatch), ..new_value_pad(PinPurpose::NewAuth, 0) };
    out.push(("new-pin-entry-mismatch", vm));
    let mut vm = sample(Screen::NewPinEntry, language);
    vm.reset_target = Some(ResetTarget::SignPassword);
    vm.pin = new_value_pad(PinPurpose::NewSign, 0);
    out.push(("new-pin-entry-sign", vm));
    let mut vm = sample(Screen::NewPinEntry, language);
    vm.reset_target = Some(ResetTarget::SignPassword);
    vm.pin = PinPad { retry: Some(NewValueRetry::Rule), ..new_value_pad(PinPurpose::NewSign, 0) };
    out.push(("new-pin-entry-sign-rule", vm));
    let mut vm = sample(Screen::NewPinConfirm, language);
    vm.reset_target = Some(ResetTarget::SignPassword);
    vm.pin = new_value_pad(PinPurpose::NewSign, 8);
    out.push(("new-pin-confirm-sign", vm));
    let mut vm = sample(Screen::PinResetDone, language);
    vm.reset_target = Some(ResetTarget::SignPassword);
    out.push(("pin-reset-done-sign", vm));
    for (name, code) in [
        ("failure-reset-interrupted", FailureCode::ResetInterrupted),
        ("failure-reset-not-reserved", FailureCode::ResetNotReserved),
        ("failure-reset-phone", FailureCode::ResetPhone),
        ("failure-reset-card-refused", FailureCode::ResetCardRefused),
        ("failure-unprintable-character", FailureCode::UnprintableCharacter),
    ] {
        let mut vm = sample(Screen::Failure, language);
        vm.failure = Some(Failure {
            code,
            money: MoneyState::NotCharged,
            reference: "K0042-20250601-0010".into(),
            pages_printed: 0,
        });
        out.push((name, vm));
    }
}

/// Extra states worth looking at beside [`sample`]: (name, view model).
pub fn variants(language: Language) -> Vec<(&'static str, ViewModel)> {
    let mut out = Vec::new();
    let mut vm = sample(Screen::PinEntry, language);
    vm.pin = PinPad::auth(0, Some(1));
    out.push(("pin-entry-last-try", vm));
    let mut vm = sample(Screen::PinEntry, language);
    vm.pin = PinPad::auth(1, Some(3));
    vm.phone = true;
    out.push(("pin-entry-android", vm));
    let mut vm = sample(Screen::PinEntry, language);
    vm.pin = PinPad::signature(7, Some(5));
    out.push(("pin-entry-signature", vm));
    let mut vm = sample(Screen::PinEntry, language);
    vm.pin = PinPad { previous_wrong: true, ..PinPad::auth(0, Some(2)) };
    out.push(("pin-entry-wrong", vm));
    let mut vm = sample(Screen::CertificateProblem, language);
    vm.certificate_problem =
        Some(CertificateProblem::ExpiringSoon { last_day: Date { year: 2025, month: 8, day: 20 }, days_left: 79 });
    vm.countdown = Some(Countdown::extendable(55));
    out.push(("certificate-problem-expiring-soon", vm));
    for (name, problem) in [
        ("certificate-problem-suspended", CertificateProblem::Suspended),
        ("certificate-problem-pin-blocked", CertificateProblem::PinBlocked),
        ("certificate-problem-revoked", CertificateProblem::Revoked),
        ("certificate-problem-not-yet-valid", CertificateProblem::NotYetValid),
    ] {
        let mut vm = sample(Screen::CertificateProblem, language);
        vm.certificate_problem = Some(problem);
        vm.failure = problem.failure_code().map(|code| Failure {
            code,
            money: MoneyState::NotCharged,
            reference: "K0042-20250601-0009".into(),
            pages_printed: 0,
        });
        out.push((name, vm));
    }
    let mut vm = sample(Screen::DocumentOptions, language);
    vm.options.clear();
    vm.years = vec![Choice::new("2025").selected(true), Choice::new("2024"), Choice::new("2023")];
    out.push(("document-options-tax-year", vm));
    let mut vm = sample(Screen::Failure, language);
    vm.failure = Some(Failure {
        code: FailureCode::CashJam,
        money: MoneyState::Owed { yen: 500 },
        reference: "K0042-20250601-0008".into(),
        pages_printed: 0,
    });
    out.push(("failure-money-kept", vm));
    let mut vm = sample(Screen::Failure, language);
    vm.failure = Some(Failure {
        code: FailureCode::BackendUnavailable,
        money: MoneyState::NotCharged,
        reference: String::new(),
        pages_printed: 0,
    });
    out.push(("failure-not-charged", vm));
    let mut vm = sample(Screen::Closed, language);
    vm.hours.reason = Reason::ClosedDay;
    out.push(("closed-day", vm));
    let mut vm = sample(Screen::TimeoutWarning, language);
    vm.countdown = Some(Countdown::fixed(9));
    vm.resumes = Some(Screen::ChooseDocument);
    out.push(("timeout-warning-last", vm));
    let mut vm = sample(Screen::Idle, language);
    vm.services.clear();
    out.push(("idle-start", vm));
    let mut vm = sample(Screen::OutOfService, language);
    vm.hours.reason = Reason::Cash;
    vm.services.clear();
    out.push(("out-of-service-no-reset", vm));
    let mut vm = sample(Screen::Confirm, language);
    vm.order.document = "kazei".into();
    vm.order.options.clear();
    vm.order.year = Some(2025);
    vm.order.copies = 1;
    vm.order.total_yen = 200;
    out.push(("confirm-tax", vm));
    let mut vm = sample(Screen::RemoveCard, language);
    vm.phone = true;
    out.push(("remove-card-phone", vm));
    reset_variants(language, &mut out);
    out
}
