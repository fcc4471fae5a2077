//! The one catalogue of resident-facing failure messages (ui/names.slint, translated in
//! translations/): every failure code has its own title, what happened and what to do in every
//! language, and every money state says whether money was taken.

use madoguchi_ui::{FailureCode, Language, MoneyState, Ui};
use std::collections::BTreeSet;

#[test]
fn every_code_has_every_part_in_every_language() {
    let ui = Ui::headless(1280, 800).unwrap();
    let mut ja = Vec::new();
    for lang in Language::ALL {
        let (mut titles, mut whats) = (BTreeSet::new(), BTreeSet::new());
        for (i, code) in FailureCode::ALL.into_iter().enumerate() {
            assert_eq!(FailureCode::from_id(code.id()), Some(code));
            let t = ui.failure_text(code, MoneyState::NotCharged, lang);
            let l = lang.code();
            assert!(!t.title.trim().is_empty() && !t.what.trim().is_empty() && !t.todo.trim().is_empty(), "{l} {code}");
            assert!(!t.money.trim().is_empty(), "{l} {code}: no money sentence");
            // each code its own entry (no code falls through to another's words)
            assert!(titles.insert(t.title.clone()), "{l} {code}: title {:?} is another code's", t.title);
            assert!(whats.insert(t.what.clone()), "{l} {code}: 'what' {:?} is another code's", t.what);
            if lang == Language::Ja {
                ja.push(t);
            } else {
                let j = &ja[i];
                assert_ne!(t.title, j.title, "{l} {code}: title not translated");
                assert_ne!(t.what, j.what, "{l} {code}: 'what' not translated");
                assert_ne!(t.todo, j.todo, "{l} {code}: 'todo' not translated");
            }
        }
    }
    let ids: BTreeSet<&str> = FailureCode::ALL.iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), FailureCode::ALL.len(), "ids are unique");
}

#[test]
fn money_says_whether_the_resident_was_charged_in_every_language() {
    let ui = Ui::headless(1280, 800).unwrap();
    let states = [
        MoneyState::NotCharged,
        MoneyState::Returning { yen: 300 },
        MoneyState::Returned { yen: 300 },
        MoneyState::Owed { yen: 1200 },
    ];
    for lang in Language::ALL {
        let texts: Vec<_> = states.iter().map(|&m| ui.failure_text(FailureCode::PrinterJam, m, lang)).collect();
        let distinct: BTreeSet<&str> = texts.iter().map(|t| t.money.as_str()).collect();
        assert_eq!(distinct.len(), states.len(), "{}: each money state reads differently", lang.code());
        assert!(!texts[0].money.contains("300"), "{}", lang.code());
        assert!(texts[1].money.contains("300") && texts[2].money.contains("300"), "{}", lang.code());
        assert!(texts[3].money.contains("1,200") || texts[3].money.contains("1200"), "{}: {:?}", lang.code(), texts[3]);
        assert!(!texts[2].money_detail.is_empty(), "{}: where to take it", lang.code());
        assert!(!texts[3].money_detail.is_empty(), "{}: owed money: tell staff", lang.code());
    }
    let owed = ui.failure_text(FailureCode::CashJam, MoneyState::Owed { yen: 200 }, Language::Ja);
    assert_eq!(owed.money, "200円をお返しできませんでした。");
    assert!(owed.money_detail.contains("受付番号"));
    let en = ui.failure_text(FailureCode::Cancelled, MoneyState::NotCharged, Language::En);
    assert_eq!(en.money, "You have not been charged.");
    assert!(ui
        .failure_text(FailureCode::CertificateSuspended, MoneyState::NotCharged, Language::Vi)
        .todo
        .contains("0120-95-0178"));
}
