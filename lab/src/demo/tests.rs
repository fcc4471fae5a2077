use super::*;

/// The memory scans read the whole process: one at a time, or one scan's buffer (holding
/// copies of what it read) is in the other's way.
static SCAN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_memory_scan_finds_verify_and_reset_commands_and_nothing_else() {
    let _one = SCAN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Values no other test uses, assembled at run time so the binary never holds them whole.
    let pin: Vec<u8> = "8".repeat(2).bytes().chain("36".bytes()).collect();
    let new_pin: Vec<u8> = "7".repeat(3).bytes().chain("2".bytes()).collect();
    let password: Vec<u8> = "QX".repeat(3).bytes().chain("51".bytes()).collect();
    let all = [pin.as_slice(), new_pin.as_slice(), password.as_slice()];
    assert_eq!(memory_holds_card_commands(&all), [false, false, false]);
    // The auth PIN by SFI, and the signature password after SELECT of its EF.
    let mut verify = vec![0x00, 0x20, 0x00, 0x98, 4];
    verify.extend_from_slice(&pin);
    let mut verify_selected = vec![0x00, 0x20, 0x00, 0x80, password.len() as u8];
    verify_selected.extend_from_slice(&password);
    let verify = std::hint::black_box(verify);
    let verify_selected = std::hint::black_box(verify_selected);
    assert_eq!(memory_holds_card_commands(&all), [true, false, true]);
    // RESET RETRY COUNTER: the new PIN after the 64-byte authorisation.
    let mut reset = vec![0x00, 0x2C, 0x00, 0x80, 64 + 4];
    reset.extend_from_slice(&[0x5A; 64]);
    reset.extend_from_slice(&new_pin);
    let reset = std::hint::black_box(reset);
    assert_eq!(memory_holds_card_commands(&all), [true, true, true]);
    drop((verify, verify_selected, reset));
}

#[test]
fn the_memory_scan_finds_a_pin_as_text_and_as_touches_but_not_the_runners_own_copy() {
    let _one = SCAN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Values no other test uses, assembled at run time so the binary never holds them whole.
    let logged: Vec<u8> = "6".repeat(2).bytes().chain("41".bytes()).collect();
    let listed: Vec<u8> = "5".repeat(2).bytes().chain("82".bytes()).collect();
    let ascii: Vec<u8> = "4".repeat(2).bytes().chain("19".bytes()).collect();
    let in_font: Vec<u8> = "3".repeat(2).bytes().chain("07".bytes()).collect();
    let all = [logged.as_slice(), listed.as_slice(), ascii.as_slice(), in_font.as_slice()];
    let own: Vec<(usize, usize)> = all.iter().map(|s| (s.as_ptr() as usize, s.len())).collect();
    let forms = |found: &[Held]| -> Vec<(usize, &'static str)> {
        let mut v: Vec<_> = found.iter().map(|h| (h.secret, h.form)).collect();
        v.sort();
        v
    };
    assert_eq!(forms(&memory_holds_secret_text(&all, &own, &[])), [], "the runner's own copies are skipped");
    // The touches of one PIN in a line of text, of another as a list of strings (as the UI's
    // touch history once was), a third PIN as ASCII, a fourth inside a font's bytes.
    let id = |d: u8| ["digit:", std::str::from_utf8(&[d]).unwrap()].concat();
    let line: String = logged.iter().map(|&d| id(d) + " ").collect();
    let list: Vec<String> = listed.iter().map(|&d| id(d)).collect();
    let text: Vec<u8> = b"pin=".iter().chain(ascii.iter()).chain(b";").copied().collect();
    // A font's tables: structured, far from random.
    let mut font: Vec<u8> = (0..64u8).map(|b| (b % 8) | 0x80).collect();
    font.extend_from_slice(&in_font);
    font.extend((0..64u8).map(|b| (b % 5) | 0x40));
    let kept = std::hint::black_box((line, list, text, font));
    let found = memory_holds_secret_text(&all, &own, &[]);
    assert_eq!(
        forms(&found),
        [(0, "as digit:N touches"), (1, "as digit:N touches"), (2, "as ASCII"), (3, "as ASCII")],
        "{found:?}"
    );
    assert!(found.iter().any(|h| h.place.starts_with("a list of strings at 0x")), "{found:?}");
    let found = memory_holds_secret_text(&all, &own, &[kept.3.as_slice()]);
    assert!(!found.iter().any(|h| h.secret == 3), "a font's bytes are the font's: {found:?}");
    drop(kept);
}

#[test]
fn four_digits_amid_random_bytes_are_chance_not_a_pin() {
    let _one = SCAN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let pin: Vec<u8> = "7".repeat(2).bytes().chain("36".bytes()).collect();
    let own = [(pin.as_ptr() as usize, pin.len())];
    // As in a TLS record or a deflated picture: digest bytes on both sides (the separators keep
    // it a whole token).
    use sha2::Digest;
    let noise = |seed: &[u8]| -> Vec<u8> {
        (0u8..3).flat_map(|i| sha2::Sha256::digest([seed, &[i]].concat()).to_vec()).collect()
    };
    let random: Vec<u8> = noise(b"before")
        .into_iter()
        .chain([b' '])
        .chain(pin.iter().copied())
        .chain([b' '])
        .chain(noise(b"after"))
        .collect();
    let kept = std::hint::black_box(random);
    assert!(looks_random(&kept[..48], &kept[kept.len() - 48..]));
    let found = memory_holds_secret_text(&[pin.as_slice()], &own, &[]);
    assert!(found.is_empty(), "{found:?}");
    // The same digits in a buffer of their own, amid zeros: the kiosk's.
    let mut buffer = vec![0u8; 48];
    buffer.extend_from_slice(&pin);
    buffer.extend([0u8; 48]);
    let kept2 = std::hint::black_box(buffer);
    assert!(!looks_random(&kept2[..48], &kept2[52..]));
    let found = memory_holds_secret_text(&[pin.as_slice()], &own, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    drop((kept, kept2));
}

#[test]
fn touches_count_in_order_and_close_together_only() {
    let pin = [b'5', b'2', b'8'];
    let id = |d: u8| [&b"digit:"[..], &[d]].concat();
    let seq = |ds: &[u8], gap: usize| -> Vec<u8> { ds.iter().flat_map(|&d| [id(d), vec![0; gap]].concat()).collect() };
    assert!(touches_from(&seq(&pin, 25), &pin));
    assert!(touches_from(&seq(b"5218", 10), &pin), "other keys between");
    assert!(!touches_from(&seq(b"258", 10), &pin), "out of order");
    assert!(!touches_from(&seq(&pin, ACTION_ID_GAP + 1), &pin), "too far apart");
}

#[test]
fn pins_are_found_as_whole_tokens_only() {
    assert!(contains_token(b"verify 5750 ok", b"5750"));
    assert!(contains_token(b"5750", b"5750"));
    assert!(!contains_token(b"T-57501", b"5750"));
    assert!(!contains_token(b"2026-11-24T15:57:50", b"5750"));
}

#[test]
fn exact_money_uses_the_fewest_coins() {
    assert_eq!(coins_for(350), vec![100, 100, 100, 50]);
    assert_eq!(coins_for(1200), vec![1000, 100, 100]);
    assert!(coins_for(0).is_empty());
}

/// Four digits that are a coordinate of a certificate's drawing (its uncompressed content, as
/// the kiosk holds it while rendering) are the drawing's; the same digits in text are a finding.
#[test]
fn a_pin_among_path_operators_is_a_coordinate() {
    let (before, after) =
        (&b"1145 71 l\n1153 71 l\n1165 32 l\n1167 27 1168 21 "[..], &b" 14 c\n1170 14 l\n1171 22 1172 29 c\n"[..]);
    assert!(checks::pdf_drawing(before, after));
    assert!(!checks::pdf_drawing(b"the resident typed the PIN ", b" and pressed OK, then waited"));
    assert!(
        !checks::pdf_drawing(b"1145 71 1153 71 1165 32 1167 27 ", b" 14 1170 14 1171 22 1172 29"),
        "no operators: a list of numbers"
    );
    assert!(!checks::pdf_drawing(b"l l", b" c"), "too little context to judge");
}
