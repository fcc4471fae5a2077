//! What the card signs: a challenge that says whose it is.
//!
//! The JPKI user-authentication key signs any SHA-256 hash it is handed (a DigestInfo, no
//! context of its own), so the only context a signature can carry is inside the bytes hashed.
//! A madoguchi challenge is therefore not bare randomness but
//!
//! ```text
//! "madoguchi-challenge-v1" 00 <purpose> 00 <kiosk id> 00 <32 random bytes>
//! ```
//!
//! with `purpose` `authenticate` (a resident's session) or `pin-reset` (the proof of a PIN
//! reset). The backend makes it for the kiosk the mTLS certificate names; the kiosk checks the
//! tag, the purpose and its own id before its card signs ([`check`]). So a signature made at a
//! madoguchi kiosk is recognisable as one and names the kiosk, and a madoguchi challenge cannot
//! pass for another service's bare nonce (nor for one made for another kiosk or purpose).
//! What this cannot stop, a relay of *our* challenge to a card elsewhere, is described in
//! THREAT_MODEL.md ("What the card signs").

use core::fmt;

/// The domain tag at the start of every challenge (and its version).
pub const DOMAIN_TAG: &[u8] = b"madoguchi-challenge-v1";
/// Random bytes at the end of every challenge.
pub const NONCE_LEN: usize = 32;
/// The longest kiosk id a challenge carries (the kiosk's configuration allows no longer).
pub const MAX_KIOSK_ID: usize = 64;
/// The longest challenge: tag, purpose, kiosk id, three separators and the nonce.
pub const MAX_LEN: usize = DOMAIN_TAG.len() + 1 + 12 + 1 + MAX_KIOSK_ID + 1 + NONCE_LEN;

/// What a challenge is signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `POST /v1/sessions`: the resident's card authenticates a kiosk session.
    Authenticate,
    /// `POST /v1/pin-reset/sessions`: the proving credential's key signs for a PIN reset.
    PinReset,
}

impl Purpose {
    /// The purpose as the challenge spells it.
    pub fn id(self) -> &'static str {
        match self {
            Purpose::Authenticate => "authenticate",
            Purpose::PinReset => "pin-reset",
        }
    }

    fn parse(s: &[u8]) -> Option<Purpose> {
        [Purpose::Authenticate, Purpose::PinReset].into_iter().find(|p| p.id().as_bytes() == s)
    }
}

/// Why a challenge is refused. Names no byte of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not a madoguchi challenge at all (no domain tag, or another version): it could be any
    /// service's nonce, and our card must not sign it.
    #[error("the challenge does not carry madoguchi's domain tag")]
    NotOurs,
    /// Tagged, but not in the form (purpose, kiosk id, 32 random bytes).
    #[error("the challenge is not in madoguchi's form")]
    Malformed,
    /// Made for the other purpose (a reset's challenge offered to authenticate, or back).
    #[error("the challenge was made for another purpose")]
    OtherPurpose,
    /// Made for another kiosk.
    #[error("the challenge was made for another kiosk")]
    OtherKiosk,
}

/// A parsed challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub purpose: Purpose,
    pub kiosk_id: &'a str,
    pub nonce: &'a [u8; NONCE_LEN],
}

impl fmt::Debug for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge").field("purpose", &self.purpose).field("kiosk_id", &self.kiosk_id).finish()
    }
}

/// A kiosk id a challenge can carry: 1 to 64 printable ASCII characters, no spaces.
pub fn kiosk_id_allowed(id: &str) -> bool {
    (1..=MAX_KIOSK_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The challenge for `kiosk_id` with these random bytes; `None` for a kiosk id no challenge
/// can carry.
pub fn encode(purpose: Purpose, kiosk_id: &str, nonce: &[u8; NONCE_LEN]) -> Option<Vec<u8>> {
    if !kiosk_id_allowed(kiosk_id) {
        return None;
    }
    let mut c = Vec::with_capacity(MAX_LEN);
    c.extend_from_slice(DOMAIN_TAG);
    c.push(0);
    c.extend_from_slice(purpose.id().as_bytes());
    c.push(0);
    c.extend_from_slice(kiosk_id.as_bytes());
    c.push(0);
    c.extend_from_slice(nonce);
    Some(c)
}

/// Reads a challenge's form (any purpose, any kiosk).
pub fn parse(bytes: &[u8]) -> Result<Challenge<'_>, ChallengeError> {
    let rest = bytes.strip_prefix(DOMAIN_TAG).and_then(|r| r.strip_prefix(&[0])).ok_or(ChallengeError::NotOurs)?;
    if bytes.len() > MAX_LEN || rest.len() < NONCE_LEN {
        return Err(ChallengeError::Malformed);
    }
    let (head, nonce) = rest.split_at(rest.len() - NONCE_LEN);
    let head = head.strip_suffix(&[0]).ok_or(ChallengeError::Malformed)?;
    let mut fields = head.splitn(2, |&b| b == 0);
    let purpose = fields.next().and_then(Purpose::parse).ok_or(ChallengeError::Malformed)?;
    let kiosk_id = fields
        .next()
        .and_then(|k| core::str::from_utf8(k).ok())
        .filter(|k| kiosk_id_allowed(k))
        .ok_or(ChallengeError::Malformed)?;
    let nonce = <&[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| ChallengeError::Malformed)?;
    Ok(Challenge { purpose, kiosk_id, nonce })
}

/// What a kiosk checks before its card signs `bytes`: madoguchi's form, made for `purpose`,
/// for this kiosk (`kiosk_id`, exactly).
pub fn check(bytes: &[u8], purpose: Purpose, kiosk_id: &str) -> Result<(), ChallengeError> {
    let c = parse(bytes)?;
    if c.purpose != purpose {
        return Err(ChallengeError::OtherPurpose);
    }
    if c.kiosk_id != kiosk_id {
        return Err(ChallengeError::OtherKiosk);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_names_its_purpose_and_kiosk() {
        let nonce = [7u8; NONCE_LEN];
        let c = encode(Purpose::Authenticate, "KIOSK-0001", &nonce).unwrap();
        assert!(c.starts_with(b"madoguchi-challenge-v1\0authenticate\0KIOSK-0001\0"));
        let p = parse(&c).unwrap();
        assert_eq!((p.purpose, p.kiosk_id, p.nonce), (Purpose::Authenticate, "KIOSK-0001", &nonce));
        assert_eq!(check(&c, Purpose::Authenticate, "KIOSK-0001"), Ok(()));
        assert_eq!(check(&c, Purpose::Authenticate, "KIOSK-0002"), Err(ChallengeError::OtherKiosk));
        assert_eq!(check(&c, Purpose::Authenticate, "KIOSK-000"), Err(ChallengeError::OtherKiosk));
        assert_eq!(check(&c, Purpose::PinReset, "KIOSK-0001"), Err(ChallengeError::OtherPurpose));
        let r = encode(Purpose::PinReset, &"K".repeat(MAX_KIOSK_ID), &nonce).unwrap();
        assert_eq!(r.len(), MAX_LEN - "authenticate".len() + "pin-reset".len());
        assert_eq!(check(&r, Purpose::PinReset, &"K".repeat(MAX_KIOSK_ID)), Ok(()));
        assert!(!format!("{p:?}").contains("7, 7"), "Debug shows no nonce");
    }

    #[test]
    fn bare_nonces_and_broken_forms_are_refused() {
        // The old form: 32 random bytes, which any service could have asked for.
        assert_eq!(parse(&[7u8; 32]), Err(ChallengeError::NotOurs));
        assert_eq!(parse(b"madoguchi-challenge-v2\0authenticate\0K1\0"), Err(ChallengeError::NotOurs));
        let good = encode(Purpose::Authenticate, "K1", &[1; NONCE_LEN]).unwrap();
        for bad in [
            &good[..good.len() - 1],         // nonce too short
            &[&good[..], &[0]].concat()[..], // nonce too long
            &good.iter().map(|&b| if b == b'K' { b' ' } else { b }).collect::<Vec<_>>()[..], // space in the id
        ] {
            assert_eq!(parse(bad), Err(ChallengeError::Malformed), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut no_kiosk = b"madoguchi-challenge-v1\0authenticate\0\0".to_vec();
        no_kiosk.extend_from_slice(&[1; NONCE_LEN]);
        assert_eq!(parse(&no_kiosk), Err(ChallengeError::Malformed));
        let mut other_purpose = b"madoguchi-challenge-v1\0login\0K1\0".to_vec();
        other_purpose.extend_from_slice(&[1; NONCE_LEN]);
        assert_eq!(parse(&other_purpose), Err(ChallengeError::Malformed));
        assert!(encode(Purpose::Authenticate, "", &[0; NONCE_LEN]).is_none());
        assert!(encode(Purpose::Authenticate, &"K".repeat(MAX_KIOSK_ID + 1), &[0; NONCE_LEN]).is_none());
        assert!(encode(Purpose::Authenticate, "K 1", &[0; NONCE_LEN]).is_none());
    }
}
