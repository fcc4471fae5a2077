use super::*;

#[test]
fn the_memory_scan_finds_a_verify_command_and_nothing_else() {
    // A PIN no other test uses, assembled at run time so the binary never holds it whole.
    let pin: Vec<u8> = "8".repeat(2).bytes().chain("36".bytes()).collect();
    assert!(!memory_holds_verify(&pin));
    let mut apdu = vec![0x00, 0x20, 0x00, 0x98, 4];
    apdu.extend_from_slice(&pin);
    let apdu = std::hint::black_box(apdu);
    assert!(memory_holds_verify(&pin));
    drop(apdu);
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
