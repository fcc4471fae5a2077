//! Per-resident random choices (PINs, passwords, My Numbers) from the seed.

use madoguchi_certs::testpki::derive_rng;
use rand_core::RngCore;

/// Per-resident random choices, each from its own stream so adding a resident changes nobody
/// else.
pub(super) struct Dice(pub(super) rand_chacha::ChaCha20Rng);

impl Dice {
    pub(super) fn new(seed: u64, label: &str) -> Self {
        Dice(derive_rng(seed, label))
    }

    pub(super) fn below(&mut self, n: u32) -> u32 {
        // Rejection sampling keeps the distribution exact (and the code obviously correct).
        let zone = u32::MAX - u32::MAX % n;
        loop {
            let v = self.0.next_u32();
            if v < zone {
                return v % n;
            }
        }
    }

    pub(super) fn digit(&mut self) -> char {
        char::from(b'0' + self.below(10) as u8)
    }

    /// 4 digits, never starting with 0 or 9 (scenarios type 0000 / 9999 as surely wrong).
    pub(super) fn pin(&mut self) -> String {
        let mut s = String::new();
        s.push(char::from(b'1' + self.below(8) as u8));
        for _ in 0..3 {
            s.push(self.digit());
        }
        s
    }

    /// 6–16 of A–Z0–9 with at least one letter and one digit (jpki.md §4); we use 8–10.
    pub(super) fn password(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        loop {
            let len = 8 + self.below(3) as usize;
            let s: String =
                (0..len).map(|_| char::from(ALPHABET[self.below(ALPHABET.len() as u32) as usize])).collect();
            if s.chars().any(|c| c.is_ascii_alphabetic()) && s.chars().any(|c| c.is_ascii_digit()) {
                return s;
            }
        }
    }

    pub(super) fn upper(&mut self) -> char {
        char::from(b'A' + self.below(26) as u8)
    }

    pub(super) fn hex(&mut self) -> char {
        char::from(b"0123456789ABCDEF"[self.below(16) as usize])
    }
}

/// A valid 12-digit 個人番号: 11 digits and the check digit of the official algorithm
/// (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条).
pub fn my_number_check_digit(first11: &[u8; 11]) -> u8 {
    // P_n counts from the rightmost of the 11 digits; Q_n = n + 1 (n ≤ 6), n − 5 (n ≥ 7).
    let sum: u32 = first11
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &p)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(p) * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        (11 - r) as u8
    }
}

pub fn is_valid_my_number(s: &str) -> bool {
    let digits: Vec<u8> = s.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if digits.len() != 12 || digits.iter().any(|&d| d > 9) {
        return false;
    }
    let mut first = [0u8; 11];
    first.copy_from_slice(&digits[..11]);
    my_number_check_digit(&first) == digits[11]
}

pub(super) fn my_number(dice: &mut Dice) -> String {
    let mut d = [0u8; 11];
    for (i, x) in d.iter_mut().enumerate() {
        *x = if i == 0 { 1 + dice.below(9) as u8 } else { dice.below(10) as u8 };
    }
    let mut s: String = d.iter().map(|&x| char::from(b'0' + x)).collect();
    s.push(char::from(b'0' + my_number_check_digit(&d)));
    s
}
