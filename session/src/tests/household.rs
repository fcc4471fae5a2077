//! The persons on a 住民票 (the resident alone, the household, chosen members) and the
//! municipality's notices on the document screen.

use super::*;

fn household_offers() -> Offers {
    let mut o = offers();
    let m = &mut o.municipalities[0];
    m.notices = vec!["12月29日から1月3日まではご利用いただけません。".into()];
    let person = |id: &str, name: &str, rel: &str, me: bool| PersonOffer {
        id: id.into(),
        name: name.into(),
        relationship: rel.into(),
        is_self: me,
    };
    m.documents[0].persons = vec![
        person("R0001", "佐藤　健一", "世帯主", true),
        person("R0002", "佐藤　花子", "妻", false),
        person("R0003", "佐藤　翔", "子", false),
    ];
    o
}

fn reach_options(k: &mut K) {
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.reply_backend(Ok(BackendOk::Offers(deliver(household_offers()))));
    k.remove();
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
    assert_eq!(k.view().notices, ["12月29日から1月3日まではご利用いただけません。"]);
    k.touch("document:juminhyo");
    assert_eq!(k.screen(), ScreenId::DocumentOptions);
}

fn chosen(k: &K) -> Vec<(String, bool)> {
    k.view().persons.iter().map(|c| (c.id.clone(), c.selected)).collect()
}

fn issued_persons(k: &mut K) -> Vec<String> {
    k.touch("confirm");
    assert_eq!(k.screen(), ScreenId::Payment);
    k.pay(300);
    match k.backend_op().1 {
        Request::Issue(r) => r.persons,
        other => panic!("not an issuance: {other:?}"),
    }
}

#[test]
fn the_resident_alone_by_default() {
    let mut k = K::new();
    reach_options(&mut k);
    let v = k.view();
    assert_eq!(v.persons[1].label, "佐藤　花子");
    assert_eq!(v.persons[1].detail, "妻");
    assert_eq!(chosen(&k), [("R0001".into(), true), ("R0002".into(), false), ("R0003".into(), false)]);
    assert!(issued_persons(&mut k).is_empty(), "the resident alone is the backend's default");
}

#[test]
fn the_whole_household_or_chosen_members() {
    let mut k = K::new();
    reach_options(&mut k);
    k.touch("persons:household");
    assert!(chosen(&k).iter().all(|(_, s)| *s));
    k.touch("person:R0003");
    assert_eq!(chosen(&k), [("R0001".into(), true), ("R0002".into(), true), ("R0003".into(), false)]);
    // A person not offered changes nothing.
    k.touch("person:R9999");
    assert_eq!(issued_persons(&mut k), ["R0001", "R0002"]);
}

#[test]
fn at_least_one_person_stays_and_self_resets() {
    let mut k = K::new();
    reach_options(&mut k);
    k.touch("person:R0001");
    assert_eq!(chosen(&k)[0], ("R0001".into(), true), "the last person cannot be taken off");
    k.touch("person:R0002");
    k.touch("person:R0001");
    assert_eq!(chosen(&k), [("R0001".into(), false), ("R0002".into(), true), ("R0003".into(), false)]);
    k.touch("persons:self");
    assert_eq!(chosen(&k), [("R0001".into(), true), ("R0002".into(), false), ("R0003".into(), false)]);
    // Names never reach a log line through the actions.
    assert!(!k.log.iter().any(|l| l.contains("Person(R0002)")));
}
