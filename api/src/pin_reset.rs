//! The PIN reset at the kiosk, our protocol v1 (`reference/jpki.md`, "PIN reset at the kiosk"):
//! the one definition of the credential being reset and of the message the card-management key
//! signs, shared by the backend that signs it and the card that checks it.
//!
//! The kiosk never holds a key that can reset a card: it fetches an authorisation from the
//! backend for one card challenge and passes it on in RESET RETRY COUNTER; the card refuses an
//! authorisation for another card, another target or another challenge.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The 17 ASCII bytes that open every authorisation message (domain separation).
pub const AUTHORISATION_CONTEXT: &[u8; 17] = b"JPKI-PIN-RESET-v1";
/// Length of the card's challenge (`00 84 00 00 08`).
pub const CHALLENGE_LEN: usize = 8;
/// Length of an authorisation (an Ed25519 signature).
pub const AUTHORISATION_LEN: usize = 64;
/// Length of the message the card-management key signs: context, target, challenge, SHA-256.
pub const MESSAGE_LEN: usize = 17 + 1 + CHALLENGE_LEN + 32;

/// Which credential a PIN reset sets anew. The other one proves who the resident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ResetCredential {
    /// The 4-digit user-authentication PIN (EF 0018), reset with the signature password.
    AuthPin,
    /// The signature password (EF 001B), reset with the user-authentication PIN.
    SignPassword,
}

impl ResetCredential {
    pub const ALL: [ResetCredential; 2] = [ResetCredential::AuthPin, ResetCredential::SignPassword];

    /// The id used on the wire, in action ids (`reset:auth-pin`) and in scenario files.
    pub const fn id(self) -> &'static str {
        match self {
            ResetCredential::AuthPin => "auth-pin",
            ResetCredential::SignPassword => "sign-password",
        }
    }

    pub fn parse(id: &str) -> Option<ResetCredential> {
        ResetCredential::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The short EF identifier of the PIN being reset: the message's target byte, and the EF the
    /// kiosk selects (`00 A4 02 0C 02 00 <target>`) before GET CHALLENGE.
    pub const fn target(self) -> u8 {
        match self {
            ResetCredential::AuthPin => 0x18,
            ResetCredential::SignPassword => 0x1B,
        }
    }

    /// The target with this byte.
    pub fn from_target(target: u8) -> Option<ResetCredential> {
        ResetCredential::ALL.into_iter().find(|c| c.target() == target)
    }

    /// The credential that proves the resident for this reset (the other one).
    pub const fn proven_by(self) -> ResetCredential {
        match self {
            ResetCredential::AuthPin => ResetCredential::SignPassword,
            ResetCredential::SignPassword => ResetCredential::AuthPin,
        }
    }

    /// Tries a full counter holds after the reset (jpki.md §4).
    pub const fn max_tries(self) -> u8 {
        match self {
            ResetCredential::AuthPin => 3,
            ResetCredential::SignPassword => 5,
        }
    }
}

impl std::fmt::Display for ResetCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// `M = "JPKI-PIN-RESET-v1" ‖ target ‖ challenge ‖ SHA-256(auth certificate DER)`: what the
/// card-management key signs (protocol step 4).
pub fn authorisation_message(
    credential: ResetCredential,
    challenge: &[u8; CHALLENGE_LEN],
    auth_certificate_der: &[u8],
) -> [u8; MESSAGE_LEN] {
    let mut m = [0u8; MESSAGE_LEN];
    m[..17].copy_from_slice(AUTHORISATION_CONTEXT);
    m[17] = credential.target();
    m[18..26].copy_from_slice(challenge);
    m[26..].copy_from_slice(&Sha256::digest(auth_certificate_der));
    m
}

/// Whether `authorisation` is the card-management key's signature over the message for this
/// target, challenge and card (what the card checks in RESET RETRY COUNTER).
pub fn authorisation_valid(
    card_management_key: &[u8; 32],
    credential: ResetCredential,
    challenge: &[u8; CHALLENGE_LEN],
    auth_certificate_der: &[u8],
    authorisation: &[u8],
) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(card_management_key) else { return false };
    let Ok(sig) = <[u8; AUTHORISATION_LEN]>::try_from(authorisation) else { return false };
    let m = authorisation_message(credential, challenge, auth_certificate_der);
    key.verify(&m, &Signature::from_bytes(&sig)).is_ok()
}

/// The rule a new value must keep (jpki.md §4), checked by the kiosk before the card is touched
/// and again by the card (`6A80`).
pub fn new_value_allowed(credential: ResetCredential, value: &[u8]) -> bool {
    match credential {
        ResetCredential::AuthPin => value.len() == 4 && value.iter().all(u8::is_ascii_digit),
        ResetCredential::SignPassword => {
            (6..=16).contains(&value.len())
                && value.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && value.iter().any(u8::is_ascii_uppercase)
                && value.iter().any(u8::is_ascii_digit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn message_layout_is_the_protocols() {
        let m = authorisation_message(ResetCredential::SignPassword, &[1, 2, 3, 4, 5, 6, 7, 8], b"cert");
        assert_eq!(&m[..17], b"JPKI-PIN-RESET-v1");
        assert_eq!(m[17], 0x1B);
        assert_eq!(&m[18..26], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&m[26..], Sha256::digest(b"cert").as_slice());
        assert_eq!(m.len(), 58);
    }

    #[test]
    fn authorisation_binds_key_target_challenge_and_card() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key().to_bytes();
        let challenge = [9; 8];
        let auth = key.sign(&authorisation_message(ResetCredential::AuthPin, &challenge, b"card A")).to_bytes();
        assert!(authorisation_valid(&public, ResetCredential::AuthPin, &challenge, b"card A", &auth));
        assert!(!authorisation_valid(&public, ResetCredential::SignPassword, &challenge, b"card A", &auth));
        assert!(!authorisation_valid(&public, ResetCredential::AuthPin, &[8; 8], b"card A", &auth));
        assert!(!authorisation_valid(&public, ResetCredential::AuthPin, &challenge, b"card B", &auth));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        assert!(!authorisation_valid(&other, ResetCredential::AuthPin, &challenge, b"card A", &auth));
        let mut altered = auth;
        altered[10] ^= 1;
        assert!(!authorisation_valid(&public, ResetCredential::AuthPin, &challenge, b"card A", &altered));
        assert!(!authorisation_valid(&public, ResetCredential::AuthPin, &challenge, b"card A", &auth[..63]));
    }

    #[test]
    fn new_value_rules() {
        use ResetCredential::*;
        assert!(new_value_allowed(AuthPin, b"0420"));
        for bad in [&b"042"[..], b"04200", b"04a0", b"\xef\xbc\x90420"] {
            assert!(!new_value_allowed(AuthPin, bad));
        }
        assert!(new_value_allowed(SignPassword, b"ABC123"));
        assert!(new_value_allowed(SignPassword, b"A234567890123456"));
        for bad in [&b"ABCDEF"[..], b"123456", b"abc123", b"AB12", b"A2345678901234567", b"ABC 123"] {
            assert!(!new_value_allowed(SignPassword, bad));
        }
        assert_eq!(ResetCredential::parse("auth-pin"), Some(AuthPin));
        assert_eq!(ResetCredential::from_target(0x1B), Some(SignPassword));
        assert_eq!(AuthPin.proven_by(), SignPassword);
    }
}
