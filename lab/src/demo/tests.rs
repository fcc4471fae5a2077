use super::*;

#[test]
fn the_memory_scan_finds_verify_and_reset_commands_and_nothing_else() {
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
