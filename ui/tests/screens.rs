//! Every screen, in every language, driven headless the way the scenario runner drives it: by
//! action id, through pointer presses at the control's position.

use madoguchi_ui::samples::{sample, variants};
use madoguchi_ui::{Choice, Language, NotTouchable, PinPad, Screen, Ui, ViewModel};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

const SIZES: [(u32, u32); 4] = [(1280, 800), (800, 1280), (1920, 1080), (1080, 1920)];

fn ui() -> (Ui, Rc<RefCell<Vec<String>>>) {
    let ui = Ui::headless(1280, 800).expect("headless ui");
    let touched = Rc::new(RefCell::new(Vec::new()));
    let t = touched.clone();
    ui.on_touch(move |a: &str| t.borrow_mut().push(a.to_owned()));
    (ui, touched)
}

/// Pixels inside `(x, y, w, h)` (logical = physical at 1280x800) that differ from the colour at
/// the box's corner: the ink of a text.
fn ink(rgb: &[u8], width: u32, x: f32, y: f32, w: f32, h: f32) -> usize {
    let (x0, y0) = (x.max(0.0) as usize, y.max(0.0) as usize);
    let (x1, y1) = ((x + w) as usize, (y + h) as usize);
    let height = rgb.len() / 3 / width as usize;
    let px = |x: usize, y: usize| {
        let i = (y * width as usize + x) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    let bg = px(x0.min(width as usize - 1), y0.min(height - 1));
    let mut n = 0;
    for yy in y0..y1.min(height) {
        for xx in x0..x1.min(width as usize) {
            let p = px(xx, yy);
            if p.iter().zip(bg.iter()).any(|(a, b)| a.abs_diff(*b) > 60) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn every_screen_renders_with_visible_text_in_every_language() {
    let (ui, _) = ui();
    for lang in Language::ALL {
        for screen in Screen::ALL {
            ui.set_view(&sample(screen, lang));
            assert_eq!(ui.screen_id(), screen.id());
            let rgb = ui.render_rgb(1280, 800).unwrap();
            let colours: BTreeSet<&[u8]> = rgb.chunks(3).step_by(7).collect();
            assert!(colours.len() > 8, "{} {screen}: the frame looks empty", lang.code());
            let texts = ui.text_boxes();
            assert!(texts.len() >= 3, "{} {screen}: only {} texts", lang.code(), texts.len());
            for t in texts {
                // every text draws something: a missing font would leave its box empty
                let n = ink(&rgb, 1280, t.x, t.y, t.width, t.height);
                assert!(n > 10, "{} {screen}: text {:?} drew no ink ({n} px)", lang.code(), t.text);
            }
        }
    }
}

#[test]
fn every_control_is_found_by_action_id_and_touching_it_reports_it() {
    let (ui, touched) = ui();
    for screen in Screen::ALL {
        let vm = sample(screen, Language::Ja);
        ui.set_view(&vm);
        let controls = ui.controls_shown();
        assert!(!controls.is_empty(), "{screen}: no controls");
        let mut seen = BTreeSet::new();
        for c in &controls {
            assert!(seen.insert(c.action.clone()), "{screen}: action {} appears twice", c.action);
            assert!(!c.label.trim().is_empty(), "{screen}: {} has no label", c.action);
            assert!(c.width >= 44.0 && c.height >= 44.0, "{screen}: {} is too small to touch: {c:?}", c.action);
        }
        for c in controls {
            let found = ui.find_action(&c.action).expect("found again");
            assert_eq!(found, c);
            assert_eq!(ui.find_label(&c.label).map(|f| f.action), Some(c.action.clone()));
            touched.borrow_mut().clear();
            let result = ui.touch(&c.action);
            if c.enabled {
                assert_eq!(result, Ok(()), "{screen}: touching {}", c.action);
                assert_eq!(touched.borrow().as_slice(), std::slice::from_ref(&c.action), "{screen}: reported");
            } else {
                assert_eq!(result, Err(NotTouchable::Disabled(c.action.clone())));
                assert!(touched.borrow().is_empty(), "{screen}: a disabled control reported a touch");
            }
            // a touch reports; it does not change the screen (the session does)
            assert_eq!(ui.screen_id(), screen.id());
        }
    }
}

#[test]
fn the_scenario_action_ids_are_where_the_scenarios_expect_them() {
    let (ui, _) = ui();
    let has = |ui: &Ui, a: &str| ui.find_action(a).is_some();
    for screen in Screen::ALL {
        ui.set_view(&sample(screen, Language::En));
        for lang in Language::ALL {
            assert!(has(&ui, &format!("language:{}", lang.code())), "{screen}: language:{} missing", lang.code());
        }
        assert!(has(&ui, "large-text") && has(&ui, "high-contrast"), "{screen}: accessibility toggles");
    }
    ui.set_view(&sample(Screen::Idle, Language::Ja));
    assert!(has(&ui, "service:certificates") && has(&ui, "service:pin-reset"));
    let mut vm = sample(Screen::Idle, Language::Ja);
    vm.services.clear();
    ui.set_view(&vm);
    assert!(has(&ui, "start"));

    ui.set_view(&sample(Screen::PinEntry, Language::Ja));
    for d in 0..10 {
        assert!(has(&ui, &format!("digit:{d}")), "digit:{d}");
    }
    for a in ["backspace", "clear", "ok", "cancel", "more-time"] {
        assert!(has(&ui, a), "pin-entry: {a}");
    }
    let mut vm = sample(Screen::PinEntry, Language::Ja);
    vm.pin = PinPad::signature(0, Some(5));
    ui.set_view(&vm);
    for c in 'A'..='Z' {
        assert!(has(&ui, &format!("key:{c}")), "key:{c}");
    }
    for d in 0..10 {
        assert!(has(&ui, &format!("digit:{d}")), "signature pad digit:{d}");
    }

    ui.set_view(&sample(Screen::ChooseMunicipality, Language::Ja));
    assert!(has(&ui, "municipality:141003") && has(&ui, "municipality:011002"));
    ui.set_view(&sample(Screen::ChooseDocument, Language::Ja));
    for kind in ["juminhyo", "kisaijiko", "inkan", "kazei", "koseki-zenbu", "koseki-kojin", "fuhyo", "fuhyo"] {
        assert!(has(&ui, &format!("document:{kind}")), "document:{kind}");
    }
    assert!(has(&ui, "back"));
    ui.set_view(&sample(Screen::DocumentOptions, Language::Ja));
    assert!(has(&ui, "option:household") && has(&ui, "option:kojin_bango") && has(&ui, "ok"));
    let years = variants(Language::Ja).into_iter().find(|(n, _)| *n == "document-options-tax-year").unwrap().1;
    ui.set_view(&years);
    assert!(has(&ui, "year:2025") && has(&ui, "year:2023"));
    ui.set_view(&sample(Screen::Copies, Language::Ja));
    assert!(has(&ui, "copies:+") && has(&ui, "copies:-") && has(&ui, "ok"));
    ui.set_view(&sample(Screen::Confirm, Language::Ja));
    assert!(has(&ui, "confirm"));
    ui.set_view(&sample(Screen::TakeDocuments, Language::Ja));
    assert!(has(&ui, "finish"));
    ui.set_view(&sample(Screen::Failure, Language::Ja));
    assert!(has(&ui, "finish"));
    ui.set_view(&sample(Screen::TimeoutWarning, Language::Ja));
    assert!(has(&ui, "more-time") && has(&ui, "cancel"));
}

#[test]
fn every_control_has_a_label_in_every_language_and_the_same_ids() {
    let (ui, _) = ui();
    for screen in Screen::ALL {
        let mut ids: Option<Vec<String>> = None;
        let mut ja_labels: Vec<String> = Vec::new();
        for lang in Language::ALL {
            ui.set_view(&sample(screen, lang));
            let controls = ui.controls_shown();
            let these: Vec<String> = controls.iter().map(|c| c.action.clone()).collect();
            match &ids {
                None => ids = Some(these),
                Some(first) => assert_eq!(first, &these, "{screen}: {} has other controls", lang.code()),
            }
            for c in &controls {
                assert!(!c.label.trim().is_empty(), "{screen} {}: {} has no label", lang.code(), c.action);
            }
            let labels: Vec<String> = controls.iter().map(|c| c.label.clone()).collect();
            if lang == Language::Ja {
                ja_labels = labels;
            } else {
                // translated: a word-bearing control reads differently from Japanese
                for (c, ja) in controls.iter().zip(&ja_labels) {
                    let wordy = !ja.is_ascii();
                    let proper = c.action.starts_with("municipality:") || c.action.starts_with("language:");
                    if wordy && !proper {
                        assert_ne!(&c.label, ja, "{screen} {}: {} is not translated", lang.code(), c.action);
                    }
                }
            }
        }
    }
}

#[test]
fn hidden_and_disabled_controls_cannot_be_touched() {
    let (ui, touched) = ui();
    let mut vm = sample(Screen::PinEntry, Language::Ja);
    vm.pin = PinPad::auth(0, Some(3));
    ui.set_view(&vm);
    assert_eq!(ui.touch("backspace"), Err(NotTouchable::Disabled("backspace".into())));
    assert_eq!(ui.touch("clear"), Err(NotTouchable::Disabled("clear".into())));
    assert_eq!(ui.touch("ok"), Err(NotTouchable::Disabled("ok".into())));
    // controls of other screens do not exist here
    for a in ["confirm", "document:juminhyo", "finish", "copies:+", "service:certificates", "start"] {
        assert_eq!(ui.touch(a), Err(NotTouchable::NotFound(a.into())));
    }
    // a full PIN disables the keys
    vm.pin = PinPad::auth(4, Some(3));
    ui.set_view(&vm);
    assert_eq!(ui.touch("digit:5"), Err(NotTouchable::Disabled("digit:5".into())));
    assert_eq!(ui.touch("ok"), Ok(()));
    // no back on the PIN screen unless the session allows it
    assert_eq!(ui.touch("back"), Err(NotTouchable::NotFound("back".into())));

    ui.set_view(&sample(Screen::ChooseDocument, Language::En));
    assert_eq!(ui.touch("document:koseki-zenbu"), Err(NotTouchable::Disabled("document:koseki-zenbu".into())));
    assert_eq!(ui.touch("document:juminhyo"), Ok(()));

    let mut vm = sample(Screen::Copies, Language::Ja);
    vm.order.copies = 1;
    ui.set_view(&vm);
    assert_eq!(ui.touch("copies:-"), Err(NotTouchable::Disabled("copies:-".into())));
    vm.order.copies = vm.order.max_copies;
    ui.set_view(&vm);
    assert_eq!(ui.touch("copies:+"), Err(NotTouchable::Disabled("copies:+".into())));

    // without a countdown there is no "more time"; without can_cancel no "cancel"
    let mut vm = sample(Screen::ChooseDocument, Language::Ja);
    vm.countdown = None;
    vm.can_cancel = false;
    ui.set_view(&vm);
    assert_eq!(ui.touch("more-time"), Err(NotTouchable::NotFound("more-time".into())));
    assert_eq!(ui.touch("cancel"), Err(NotTouchable::NotFound("cancel".into())));

    // a disabled choice in any list
    let mut vm = sample(Screen::ChooseMunicipality, Language::Ja);
    vm.municipalities.push(Choice::new("999999").label("閉庁市").enabled(false).note("not-now"));
    ui.set_view(&vm);
    assert_eq!(ui.touch("municipality:999999"), Err(NotTouchable::Disabled("municipality:999999".into())));

    // and none of the refused touches reported anything
    let reported: Vec<String> = touched.borrow().clone();
    assert_eq!(reported, ["ok", "document:juminhyo"]);
}

#[test]
fn touching_an_empty_spot_reports_nothing() {
    let (ui, touched) = ui();
    ui.set_view(&sample(Screen::Confirm, Language::Ja));
    // the summary panel in the middle of the screen is not a control
    assert!(ui.touch_at(640.0, 450.0).is_empty());
    assert!(touched.borrow().is_empty());
}

#[test]
fn no_layout_problems_in_any_language_size_or_text_size() {
    // includes large text at 1280x800: every control inside the window, no text spilling out
    let (ui, _) = ui();
    let mut problems = Vec::new();
    for lang in Language::ALL {
        let mut vms: Vec<(String, ViewModel)> =
            Screen::ALL.iter().map(|&s| (s.id().to_string(), sample(s, lang))).collect();
        vms.extend(variants(lang).into_iter().map(|(n, vm)| (n.to_string(), vm)));
        for (w, h) in SIZES {
            for large in [false, true] {
                for (name, vm) in &vms {
                    let mut vm = vm.clone();
                    vm.large_text = large;
                    ui.resize(w, h);
                    ui.set_view(&vm);
                    for p in ui.layout_problems() {
                        problems.push(format!(
                            "{} {w}x{h}{} {name}: {p}",
                            lang.code(),
                            if large { " large" } else { "" }
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} layout problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn large_text_makes_text_larger() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::ChooseDocument, Language::Ja);
    let height_of = |ui: &Ui, text: &str| ui.text_boxes().iter().find(|t| t.text == text).map(|t| t.height).unwrap();
    ui.set_view(&vm);
    let normal = height_of(&ui, "住民票の写し");
    vm.large_text = true;
    ui.set_view(&vm);
    let large = height_of(&ui, "住民票の写し");
    assert!(large > normal * 1.2, "large text {large} vs {normal}");
}

#[test]
fn high_contrast_changes_the_colours() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::Idle, Language::Ja);
    ui.set_view(&vm);
    let normal = ui.render_rgb(1280, 800).unwrap();
    vm.high_contrast = true;
    ui.set_view(&vm);
    let contrast = ui.render_rgb(1280, 800).unwrap();
    // the background (below the top bar) turns black
    let at = |rgb: &[u8], x: usize, y: usize| rgb[(y * 1280 + x) * 3];
    assert!(at(&normal, 640, 790) > 200 || at(&normal, 1270, 600) > 200);
    assert_eq!(&contrast[(600 * 1280 + 1270) * 3..(600 * 1280 + 1270) * 3 + 3], &[0, 0, 0]);
}

#[test]
fn language_switch_changes_every_text() {
    let (ui, touched) = ui();
    ui.set_view(&sample(Screen::Idle, Language::Ja));
    assert!(ui.visible_texts().iter().any(|t| t == "証明書をとる"));
    ui.touch("language:en").unwrap();
    assert_eq!(touched.borrow().as_slice(), ["language:en"]);
    ui.set_view(&sample(Screen::Idle, Language::En));
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "Get certificates"), "{texts:?}");
    assert!(!texts.iter().any(|t| t == "証明書をとる"));
    // the chip of the current language is marked; others are labelled in the current language
    assert_eq!(ui.find_action("language:ja").unwrap().label, "Japanese (日本語)");
    assert_eq!(ui.find_action("language:en").unwrap().label, "English");
    ui.set_view(&sample(Screen::PinEntry, Language::Vi));
    assert_eq!(ui.find_action("backspace").unwrap().label, "Xóa một");
    ui.set_view(&sample(Screen::PinEntry, Language::Ja));
    assert_eq!(ui.find_action("backspace").unwrap().label, "1字消す");
}

#[test]
fn pin_entry_shows_tries_before_the_first_digit_and_warns_at_one() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::PinEntry, Language::En);
    vm.pin = PinPad::auth(0, Some(3));
    ui.set_view(&vm);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "Tries left: 3"), "{texts:?}");
    vm.pin = PinPad::auth(0, Some(1));
    ui.set_view(&vm);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "Warning: 1 try left"), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("only your city or town office can unlock it")), "{texts:?}");
    // the count of typed digits is all the screen knows
    vm.pin = PinPad::auth(3, Some(1));
    ui.set_view(&vm);
    let texts = ui.visible_texts().join("\n");
    assert!(!texts.contains('*'));
}

#[test]
fn pin_entry_on_a_phone_says_it_is_the_phones_own_pin() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::PinEntry, Language::En);
    vm.pin = PinPad::auth(0, Some(3));
    ui.set_view(&vm);
    assert!(!ui.visible_texts().iter().any(|t| t.contains("not your card's PIN")));
    vm.phone = true;
    ui.set_view(&vm);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t.contains("the certificate on your phone, not your card's PIN")), "{texts:?}");
    assert!(texts.iter().any(|t| t == "Tries left: 3"), "{texts:?}");
}

#[test]
fn payment_and_failure_say_what_happened_to_the_money() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::Payment, Language::En));
    let texts = ui.visible_texts();
    for t in ["¥400", "¥100", "¥300", "Still to pay"] {
        assert!(texts.iter().any(|x| x == t), "payment: {t} in {texts:?}");
    }
    ui.set_view(&sample(Screen::Failure, Language::En));
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "Your ¥400 has been returned."), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("K0042-20250601-0007")));
    let kept = variants(Language::En).into_iter().find(|(n, _)| *n == "failure-money-kept").unwrap().1;
    ui.set_view(&kept);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "¥500 could not be returned."), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("tell the store staff the reference number")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("K0042-20250601-0008")), "{texts:?}");
    let free = variants(Language::Ja).into_iter().find(|(n, _)| *n == "failure-not-charged").unwrap().1;
    ui.set_view(&free);
    assert!(ui.visible_texts().iter().any(|t| t == "お金はいただいていません。"));
}

#[test]
fn fees_are_grouped_by_thousands() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::Payment, Language::Ja);
    vm.order.total_yen = 1_234_500;
    vm.payment.inserted_yen = 1000;
    ui.set_view(&vm);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "1,234,500円"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "1,233,500円"), "{texts:?}");
}

#[test]
fn pngs_are_written_at_every_size() {
    let dir = tempfile::tempdir().unwrap();
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::PinEntry, Language::Ko));
    for (w, h) in SIZES {
        let path = dir.path().join(format!("{w}x{h}.png"));
        ui.render_png(&path, w, h).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (w, h));
        assert_eq!(ui.size(), (w, h));
        // every control fits whatever the size
        for c in ui.controls_shown() {
            assert!(ui.inside_window(&c), "{w}x{h}: {c:?}");
        }
    }
}

#[test]
fn the_pin_pad_holds_a_count_and_nothing_else() {
    // Type-level: destructuring names every field. Adding one (say, the digits) breaks this
    // test on purpose: the PIN stays in the session, the UI only learns how many were typed.
    let PinPad {
        purpose: _,
        typed,
        min_len: _,
        max_len: _,
        tries_left: _,
        alphanumeric: _,
        previous_wrong: _,
        retry: _,
    } = PinPad::auth(3, Some(2));
    let _: u8 = typed;
    let vm = ViewModel { pin: PinPad::auth(3, Some(2)), ..ViewModel::new(Screen::PinEntry, Language::Ja) };
    assert_eq!(vm.pin.typed, 3);
}

#[test]
fn more_time_only_when_the_session_offers_it() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::Confirm, Language::En);
    ui.set_view(&vm);
    assert!(ui.find_action("more-time").is_some());
    vm.countdown = Some(madoguchi_ui::Countdown::fixed(30));
    ui.set_view(&vm);
    assert!(ui.find_action("more-time").is_none(), "a countdown that cannot be extended offers no button");
    assert!(ui.visible_texts().iter().any(|t| t == "30 seconds left"));

    let mut vm = sample(Screen::TimeoutWarning, Language::En);
    ui.set_view(&vm);
    assert!(ui.find_action("more-time").is_some());
    assert!(ui.visible_texts().iter().any(|t| t == "The money you inserted will be returned."), "on payment");
    vm.countdown = Some(madoguchi_ui::Countdown::fixed(9));
    vm.resumes = Some(Screen::ChooseDocument);
    ui.set_view(&vm);
    assert!(ui.find_action("more-time").is_none());
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "No more time can be added."), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("inserted")), "no money to speak of: {texts:?}");
}

#[test]
fn a_wrong_pin_is_said_and_the_pad_waits_while_the_card_checks() {
    let (ui, _) = ui();
    let mut vm = sample(Screen::PinEntry, Language::En);
    vm.pin = PinPad { previous_wrong: true, ..PinPad::auth(0, Some(2)) };
    ui.set_view(&vm);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "That PIN is wrong."), "{texts:?}");
    assert!(texts.iter().any(|t| t == "Tries left: 2"), "{texts:?}");

    vm.pin = PinPad::auth(4, Some(3));
    vm.progress.stage = madoguchi_ui::Stage::VerifyPin;
    ui.set_view(&vm);
    assert_eq!(ui.touch("ok"), Err(NotTouchable::Disabled("ok".into())), "no second VERIFY");
    assert_eq!(ui.touch("backspace"), Err(NotTouchable::Disabled("backspace".into())));
    assert!(ui.visible_texts().iter().any(|t| t == "Checking the PIN"));
}

#[test]
fn payment_names_what_is_paid_for() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::Payment, Language::Ja));
    let texts = ui.visible_texts();
    for t in [
        "住民票の写し",
        "横浜市",
        "200円 × 2通",
        "400円",
        "あと入れる金額",
        "硬貨: 10円・50円・100円・500円",
        "お札: 1,000円",
    ] {
        assert!(texts.iter().any(|x| x == t), "payment: {t} in {texts:?}");
    }
    // the coin list is one line in every language at the designed size
    for lang in Language::ALL {
        ui.set_view(&sample(Screen::Payment, lang));
        let boxes = ui.text_boxes();
        let coins = boxes.iter().find(|t| t.text.contains("500") && !t.text.contains("1,000")).unwrap();
        let line = boxes.iter().find(|t| t.text.contains("1,000")).unwrap();
        assert!(coins.height < line.height * 1.5, "{}: coins wrap: {coins:?}", lang.code());
    }
}

#[test]
fn certificate_problems_read_the_failure_catalogue() {
    let (ui, _) = ui();
    ui.set_view(&sample(Screen::CertificateProblem, Language::En));
    let text = ui.failure_text(
        madoguchi_ui::FailureCode::CertificateExpired,
        madoguchi_ui::MoneyState::NotCharged,
        Language::En,
    );
    let texts = ui.visible_texts();
    for t in [&text.title, &text.what, &text.todo, &text.money] {
        assert!(texts.contains(t), "{t:?} in {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "Expiry date: 2025/3/31"), "{texts:?}");
    // the expiring-soon notice is not a failure: no money line, its own words, days left
    let soon = variants(Language::En).into_iter().find(|(n, _)| *n == "certificate-problem-expiring-soon").unwrap().1;
    ui.set_view(&soon);
    let texts = ui.visible_texts();
    assert!(texts.iter().any(|t| t == "79 days left"), "{texts:?}");
    assert!(!texts.iter().any(|t| t == "You have not been charged."), "{texts:?}");
    assert!(ui.find_action("ok").is_some() && ui.find_action("cancel").is_some());
}
