//! The PIN-reset screens (pin-reset-choose, password-entry, new-pin-entry, new-pin-confirm,
//! pin-reset-done), the reset wording of place-card and pin-entry, and the reset failures: what a
//! resident reads, and that every control is where the session expects it and touchable.

use madoguchi_ui::samples::{new_value_pad, sample, variants};
use madoguchi_ui::{
    FailureCode, Language, MoneyState, NewValueRetry, NotTouchable, PinPad, PinPurpose, ResetTarget, Screen, Ui,
    ViewModel,
};
use std::cell::RefCell;
use std::rc::Rc;

const RESET_SCREENS: [Screen; 5] =
    [Screen::PinResetChoose, Screen::PasswordEntry, Screen::NewPinEntry, Screen::NewPinConfirm, Screen::PinResetDone];

const RESET_CODES: [FailureCode; 10] = [
    FailureCode::ResetNotReserved,
    FailureCode::ResetReservationExpired,
    FailureCode::ResetSignatureRevoked,
    FailureCode::ResetNoSignatureCertificate,
    FailureCode::ResetCardExpired,
    FailureCode::ResetPhone,
    FailureCode::ResetBothBlocked,
    FailureCode::ResetOutsideHours,
    FailureCode::ResetInterrupted,
    FailureCode::ResetCardRefused,
];

fn ui() -> (Ui, Rc<RefCell<Vec<String>>>) {
    let ui = Ui::headless(1280, 800).expect("headless ui");
    let touched = Rc::new(RefCell::new(Vec::new()));
    let t = touched.clone();
    ui.on_touch(move |a: &str| t.borrow_mut().push(a.to_owned()));
    (ui, touched)
}

fn variant(language: Language, name: &str) -> ViewModel {
    variants(language).into_iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no variant {name}")).1
}

fn texts(ui: &Ui) -> Vec<String> {
    ui.visible_texts()
}

fn shows(ui: &Ui, text: &str) -> bool {
    ui.visible_texts().iter().any(|t| t.contains(text))
}

fn touch_ok(ui: &Ui, touched: &RefCell<Vec<String>>, action: &str) {
    touched.borrow_mut().clear();
    assert_eq!(ui.touch(action), Ok(()), "{}: touching {action}", ui.screen_id());
    assert_eq!(touched.borrow().as_slice(), [action], "{}: {action} reported", ui.screen_id());
    assert_eq!(ui.screen_id(), ui.screen().id());
}

#[test]
fn each_reset_screen_shows_its_ids_and_they_are_touchable() {
    let (ui, touched) = ui();
    for screen in RESET_SCREENS {
        ui.set_view(&sample(screen, Language::Ja));
        assert_eq!(ui.screen_id(), screen.id());
    }

    ui.set_view(&sample(Screen::PinResetChoose, Language::Ja));
    for a in ["reset:auth-pin", "reset:sign-password", "back", "cancel", "more-time"] {
        touch_ok(&ui, &touched, a);
    }

    // the signature password: the whole alphanumeric keyboard, before any key
    ui.set_view(&sample(Screen::PasswordEntry, Language::Ja));
    for c in 'A'..='Z' {
        touch_ok(&ui, &touched, &format!("key:{c}"));
    }
    for d in 0..10 {
        touch_ok(&ui, &touched, &format!("digit:{d}"));
    }
    // nothing typed yet: nothing to delete, nothing to confirm
    for a in ["delete", "clear", "ok"] {
        assert_eq!(ui.touch(a), Err(NotTouchable::Disabled(a.into())), "password-entry {a}");
    }
    // the keyboard's delete key is `delete`; the PIN pad's is `backspace`
    assert!(ui.find_action("backspace").is_none());
    ui.set_view(&variant(Language::Ja, "password-entry-typing"));
    for a in ["delete", "clear", "ok", "cancel"] {
        touch_ok(&ui, &touched, a);
    }
    // 16 characters: the keys wait, "ok" does not
    let mut vm = sample(Screen::PasswordEntry, Language::Ja);
    vm.pin = PinPad::signature(16, Some(5));
    ui.set_view(&vm);
    assert_eq!(ui.touch("key:A"), Err(NotTouchable::Disabled("key:A".into())));
    assert_eq!(ui.touch("digit:0"), Err(NotTouchable::Disabled("digit:0".into())));
    touch_ok(&ui, &touched, "ok");

    // the new 4-digit PIN, entered and confirmed
    for screen in [Screen::NewPinEntry, Screen::NewPinConfirm] {
        let mut vm = sample(screen, Language::Ja);
        vm.pin = new_value_pad(PinPurpose::NewAuth, 1);
        ui.set_view(&vm);
        for d in 0..10 {
            touch_ok(&ui, &touched, &format!("digit:{d}"));
        }
        assert!(ui.find_action("key:A").is_none(), "{screen}: digits only");
        assert_eq!(ui.touch("ok"), Err(NotTouchable::Disabled("ok".into())), "{screen}: 1 of 4 digits");
        for a in ["backspace", "clear", "cancel"] {
            touch_ok(&ui, &touched, a);
        }
        vm.pin = new_value_pad(PinPurpose::NewAuth, 4);
        ui.set_view(&vm);
        touch_ok(&ui, &touched, "ok");
    }
    // the new signature password on the same keyboard as the old one
    let vm = variant(Language::Ja, "new-pin-confirm-sign");
    ui.set_view(&vm);
    for a in ["key:Z", "digit:9", "delete", "clear", "ok"] {
        touch_ok(&ui, &touched, a);
    }

    // done: one way out, no cancelling what is already done
    ui.set_view(&sample(Screen::PinResetDone, Language::Ja));
    touch_ok(&ui, &touched, "finish");
    for a in ["cancel", "back", "ok"] {
        assert_eq!(ui.touch(a), Err(NotTouchable::NotFound(a.into())), "pin-reset-done {a}");
    }
}

#[test]
fn the_keyboards_fit_and_keys_are_large_enough_in_both_orientations() {
    let (ui, _) = ui();
    for (w, h) in [(1280, 800), (800, 1280), (1920, 1080), (1080, 1920)] {
        ui.resize(w, h);
        for large in [false, true] {
            for name in ["password-entry-last-try", "new-pin-entry-sign-rule", "new-pin-confirm-sign"] {
                let mut vm = variant(Language::En, name);
                vm.large_text = large;
                ui.set_view(&vm);
                for c in ['A', 'M', 'Z'] {
                    let key = ui.find_action(&format!("key:{c}")).unwrap();
                    assert!(ui.inside_window(&key), "{w}x{h} {name}: {key:?}");
                    assert!(key.width >= 56.0 && key.height >= 56.0, "{w}x{h} {name}: key too small {key:?}");
                }
                assert!(ui.layout_problems().is_empty(), "{w}x{h} {name}: {:?}", ui.layout_problems());
            }
        }
    }
}

#[test]
fn a_disabled_reset_choice_says_why_and_cannot_be_touched() {
    let (ui, touched) = ui();
    ui.set_view(&variant(Language::En, "pin-reset-choose-one-offered"));
    touch_ok(&ui, &touched, "reset:auth-pin");
    touched.borrow_mut().clear();
    assert_eq!(ui.touch("reset:sign-password"), Err(NotTouchable::Disabled("reset:sign-password".into())));
    assert!(touched.borrow().is_empty(), "a disabled choice reported a touch");
    let c = ui.find_action("reset:sign-password").unwrap();
    assert!(c.label.contains("Not offered at this kiosk"), "{c:?}");

    ui.set_view(&variant(Language::En, "pin-reset-choose-hours"));
    for a in ["reset:auth-pin", "reset:sign-password"] {
        assert_eq!(ui.touch(a), Err(NotTouchable::Disabled(a.into())));
        assert!(ui.find_action(a).unwrap().label.contains("6:30–23:00"), "{a}");
    }
}

#[test]
fn the_choices_say_what_each_resets_what_it_needs_and_that_a_booking_is_needed() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::PinResetChoose, Language::Ja));
    let auth = ui.find_action("reset:auth-pin").unwrap();
    assert!(auth.label.contains("暗証番号(数字4けた)を忘れた"), "{auth:?}");
    assert!(auth.label.contains("署名用の暗証番号(英数字6〜16文字)が必要です"), "{auth:?}");
    let sign = ui.find_action("reset:sign-password").unwrap();
    assert!(sign.label.contains("署名用の暗証番号(英数字6〜16文字)を忘れた"), "{sign:?}");
    assert!(sign.label.contains("暗証番号(数字4けた)が必要です"), "{sign:?}");
    assert!(shows(&ui, "JPKI暗証番号リセット") && shows(&ui, "24時間以内"), "{:?}", texts(&ui));
    assert!(shows(&ui, "マイナポータルアプリ"), "phones go to the app: {:?}", texts(&ui));

    // every language names the app as it is called in the store (Japanese) and the 24 hours
    for lang in Language::ALL {
        ui.set_view(&sample(Screen::PinResetChoose, lang));
        assert!(shows(&ui, "JPKI暗証番号リセット") && shows(&ui, "24"), "{}: {:?}", lang.code(), texts(&ui));
    }
}

#[test]
fn password_entry_shows_the_rule_and_tries_before_any_key_and_alerts_at_one() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::PasswordEntry, Language::En));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t == "Enter your signature password"), "{t:?}");
    assert!(t.iter().any(|t| t == "Tries left: 5"), "{t:?}");
    assert!(t.iter().any(|t| t == "6 to 16 capital letters and digits."), "{t:?}");
    assert!(t.iter().any(|t| t.starts_with("To reset your 4-digit PIN")), "why it is asked: {t:?}");

    let warn = notice_colour(&ui, "Tries left: 5");
    ui.set_view(&variant(Language::En, "password-entry-last-try"));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t == "Warning: 1 try left"), "{t:?}");
    assert!(t.iter().any(|t| t == "That signature password is wrong."), "{t:?}");
    // the last try is the alert style (red), as for the 4-digit PIN
    let alert = notice_colour(&ui, "Warning: 1 try left");
    assert_eq!(alert, [0xa3, 0x20, 0x1a], "alert background");
    assert_ne!(alert, warn);
    let mut vm = sample(Screen::PinEntry, Language::En);
    vm.pin = PinPad::auth(0, Some(1));
    ui.set_view(&vm);
    assert_eq!(notice_colour(&ui, "Warning: 1 try left"), alert, "the same style as pin-entry");
}

/// The background just left of a notice's title: the notice's own colour.
fn notice_colour(ui: &Ui, title: &str) -> [u8; 3] {
    let rgb = ui.render_rgb(1280, 800).unwrap();
    let b = ui.text_boxes().into_iter().find(|b| b.text == title).unwrap_or_else(|| panic!("no {title:?}"));
    let (x, y) = ((b.x - 8.0) as usize, (b.y + b.height / 2.0) as usize);
    let i = (y * 1280 + x) * 3;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

#[test]
fn new_pin_screens_say_what_to_enter_and_why_it_is_asked_again() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::NewPinEntry, Language::En));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t == "Enter a new 4-digit PIN"), "{t:?}");
    assert!(!t.iter().any(|t| t.contains("Tries left")), "no tries for a new PIN: {t:?}");
    assert!(!t.iter().any(|t| t.contains("were different")), "{t:?}");

    ui.set_view(&variant(Language::En, "new-pin-entry-mismatch"));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t == "The two entries were different"), "{t:?}");
    assert!(t.iter().any(|t| t.contains("Nothing has been changed yet")), "{t:?}");

    ui.set_view(&variant(Language::En, "new-pin-entry-sign-rule"));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t == "Enter a new signature password"), "{t:?}");
    assert!(t.iter().any(|t| t == "This signature password cannot be used"), "{t:?}");
    assert!(t.iter().any(|t| t == "Use at least one letter and at least one digit."), "{t:?}");

    ui.set_view(&variant(Language::Ja, "new-pin-entry-mismatch"));
    assert!(shows(&ui, "2回の入力が一致しませんでした"), "{:?}", texts(&ui));

    // the confirmation: its own title; a retry reason belongs to the first entry only
    let mut vm = sample(Screen::NewPinConfirm, Language::Ja);
    ui.set_view(&vm);
    assert!(texts(&ui).iter().any(|t| t == "もう一度同じ暗証番号を入力してください"), "{:?}", texts(&ui));
    vm.pin.retry = Some(NewValueRetry::Mismatch);
    ui.set_view(&vm);
    assert!(!shows(&ui, "2回の入力が一致しませんでした"));
}

#[test]
fn during_a_reset_place_card_and_pin_entry_say_what_the_card_is_for() {
    let (ui, _) = ui();
    ui.set_view(&variant(Language::En, "place-card-reset"));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t.contains("whose PIN you want to reset")), "{t:?}");
    assert!(t.iter().any(|t| t.contains("Mynaportal")), "phones: {t:?}");
    ui.set_view(&sample(Screen::PlaceCard, Language::En));
    assert!(!shows(&ui, "reset"), "no reset wording outside a reset: {:?}", texts(&ui));

    // a signature-password reset proves the resident with the auth PIN on the ordinary pad
    ui.set_view(&variant(Language::En, "pin-entry-reset-sign"));
    let t = texts(&ui);
    assert!(t.iter().any(|t| t == "Enter your 4-digit PIN"), "{t:?}");
    assert!(t.iter().any(|t| t.starts_with("To reset your signature password")), "{t:?}");
    ui.set_view(&sample(Screen::PinEntry, Language::En));
    assert!(!shows(&ui, "To reset"), "{:?}", texts(&ui));
}

#[test]
fn pin_reset_done_says_which_is_set_that_it_works_now_and_to_take_the_card() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::PinResetDone, Language::En));
    let t = texts(&ui);
    for s in [
        "Your 4-digit PIN has been reset",
        "You can use the new one right away.",
        "Your PIN reset booking has now been used.",
        "Take your card",
    ] {
        assert!(t.iter().any(|t| t == s), "{s:?} in {t:?}");
    }
    assert!(t.iter().any(|t| t.contains("residence record")), "a 住民票 right away: {t:?}");
    let mut vm = sample(Screen::PinResetDone, Language::Ja);
    vm.reset_target = Some(ResetTarget::SignPassword);
    ui.set_view(&vm);
    assert!(texts(&ui).iter().any(|t| t == "署名用の暗証番号を再設定しました"), "{:?}", texts(&ui));
    assert!(!shows(&ui, "住民票"), "the signature password is not what a 住民票 needs");
}

#[test]
fn reset_failures_say_where_to_go_and_that_no_money_was_taken() {
    let (ui, _) = ui();
    for lang in Language::ALL {
        let l = lang.code();
        let text = |code| ui.failure_text(code, MoneyState::NotCharged, lang);
        for code in RESET_CODES {
            let t = text(code);
            assert!(!t.title.is_empty() && !t.what.is_empty() && !t.todo.is_empty(), "{l} {code}");
        }
        assert!(text(FailureCode::ResetNotReserved).todo.contains("JPKI暗証番号リセット"), "{l}");
        assert!(text(FailureCode::ResetReservationExpired).todo.contains("JPKI暗証番号リセット"), "{l}");
        assert!(text(FailureCode::ResetNotReserved).todo.contains("24"), "{l}");
        let hours = text(FailureCode::ResetOutsideHours).todo;
        assert!(hours.contains("6:30") && hours.contains("23:00"), "{l}: {hours}");
        assert!(text(FailureCode::ResetInterrupted).todo.contains("24"), "{l}: the booking is still usable");
    }
    let en = |code| ui.failure_text(code, MoneyState::NotCharged, Language::En);
    assert!(en(FailureCode::ResetInterrupted).what.contains("NOT changed"));
    assert!(en(FailureCode::ResetInterrupted).what.contains("old PIN"));
    assert!(en(FailureCode::ResetCardRefused).what.contains("nothing was changed"));
    assert!(en(FailureCode::ResetCardRefused).what.contains("another card"));
    assert!(en(FailureCode::ResetPhone).todo.contains("Mynaportal app"));
    for code in [
        FailureCode::ResetSignatureRevoked,
        FailureCode::ResetNoSignatureCertificate,
        FailureCode::ResetCardExpired,
        FailureCode::ResetBothBlocked,
    ] {
        assert!(en(code).todo.contains("city or town office"), "{code}");
    }
    assert!(en(FailureCode::ResetBothBlocked).todo.contains("photo ID"));
    let ja = |code| ui.failure_text(code, MoneyState::NotCharged, Language::Ja);
    assert!(ja(FailureCode::ResetInterrupted).what.contains("暗証番号は変更されていません"));
    assert!(ja(FailureCode::ResetPhone).todo.contains("マイナポータルアプリ"));

    // on the failure screen: what happened, what to do, and that nothing was charged
    ui.set_view(&variant(Language::En, "failure-reset-interrupted"));
    let t = texts(&ui);
    let words = en(FailureCode::ResetInterrupted);
    for s in [&words.title, &words.what, &words.todo] {
        assert!(t.contains(s), "{s:?} in {t:?}");
    }
    assert!(t.iter().any(|t| t == "You have not been charged."), "{t:?}");
    ui.set_view(&variant(Language::Ja, "failure-reset-not-reserved"));
    assert!(shows(&ui, "お金はいただいていません。"), "{:?}", texts(&ui));
}

#[test]
fn reset_screens_are_translated_and_fit_in_every_language() {
    let (ui, _) = ui();
    let names = [
        "place-card-reset",
        "pin-reset-choose-one-offered",
        "pin-reset-choose-hours",
        "password-entry-last-try",
        "password-entry-typing",
        "pin-entry-reset-sign",
        "new-pin-entry-mismatch",
        "new-pin-entry-sign",
        "new-pin-entry-sign-rule",
        "new-pin-confirm-sign",
        "pin-reset-done-sign",
        "failure-reset-interrupted",
        "failure-reset-phone",
    ];
    let ja: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            ui.set_view(&variant(Language::Ja, n));
            texts(&ui)
        })
        .collect();
    for lang in Language::ALL {
        for (n, ja) in names.iter().zip(&ja) {
            ui.set_view(&variant(lang, n));
            assert!(ui.layout_problems().is_empty(), "{} {n}: {:?}", lang.code(), ui.layout_problems());
            if lang != Language::Ja {
                // no Japanese sentence left untranslated (the app's name is quoted inside one)
                let t = texts(&ui);
                let left: Vec<&String> = t.iter().filter(|s| s.chars().count() > 12 && ja.contains(s)).collect();
                assert!(left.is_empty(), "{} {n}: untranslated {left:?}", lang.code());
            }
        }
    }
}
