//! The kiosk's edge of operator mode: making the operator PIN's hash for `kiosk.toml`
//! (`madoguchi operator-pin-hash`). The rules themselves live in `madoguchi_session::operator`.

use std::io::BufRead;

use madoguchi_session::operator::{hash_pin, PinHashError};
use zeroize::Zeroizing;

/// Reads one PIN line from `input` (the operator types it, or pipes it from a password manager)
/// and returns the salted Argon2id PHC string for `kiosk.toml`. The PIN lives only in zeroizing
/// buffers; the salt is 16 bytes from the operating system.
pub fn pin_hash_from(mut input: impl BufRead) -> Result<String, PinHashError> {
    let mut line = Zeroizing::new(String::new());
    if input.read_line(&mut line).is_err() {
        return hash_pin(&Zeroizing::new(String::new()), &[0; 16]);
    }
    let pin = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    let mut salt = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    hash_pin(&pin, &salt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_session::operator::{Operator, OperatorConfig, OperatorEffect, OperatorEvent, SCREEN_MENU};
    use std::time::Duration;

    #[test]
    fn the_printed_hash_opens_operator_mode_with_that_pin_and_is_salted_afresh() {
        let a = pin_hash_from(&b"7351\n"[..]).unwrap();
        let b = pin_hash_from(&b"7351\n"[..]).unwrap();
        assert_ne!(a, b, "a fresh salt each time");
        assert!(!a.contains("7351"));
        let mut op = Operator::new(OperatorConfig { pin_hash: a, max_failures: 3, lockout: Duration::from_secs(60) });
        op.handle(OperatorEvent::Key { on: true }, Duration::ZERO);
        let fx = op.handle(OperatorEvent::Pin(Zeroizing::new("7351".into())), Duration::ZERO);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_MENU)), "{fx:?}");
    }

    #[test]
    fn an_empty_or_non_digit_pin_is_refused() {
        assert!(pin_hash_from(&b"\n"[..]).is_err());
        assert!(pin_hash_from(&b"abcd\n"[..]).is_err());
        assert!(pin_hash_from(&b""[..]).is_err());
    }
}
