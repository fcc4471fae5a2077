//! The payout hopper's side: its status (header 166) and its test flags (header 163). Pure code.
//!
//! Payout uses the plain dispense (header 167 with the coin count only, no 8-byte cipher): the
//! cipher of the encrypted variant is the vendor's secret and not published, so a kiosk built
//! on open specifications cannot implement it; the hopper sits inside the locked cabinet, where
//! a bus injection needs the key to the cabinet anyway. A lost reply to 167 is never simply sent
//! again: the hopper's event counter (166) says whether the dispense was taken, so a coin is
//! never paid twice.

/// Header 166 "request hopper status".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopperStatus {
    /// Counts dispense commands taken (1..=255, wraps to 1; 0 after a reset).
    pub event_counter: u8,
    /// Coins still to pay of the current dispense.
    pub remaining: u8,
    /// Coins paid by the last dispense.
    pub paid: u8,
    /// Coins the last dispense could not pay (empty or jammed).
    pub unpaid: u8,
}

impl HopperStatus {
    pub fn parse(reply: &[u8]) -> Option<HopperStatus> {
        match *reply {
            [event_counter, remaining, paid, unpaid] => Some(HopperStatus { event_counter, remaining, paid, unpaid }),
            _ => None,
        }
    }
}

/// The event counter after one more dispense.
pub fn next_counter(c: u8) -> u8 {
    if c == 255 {
        1
    } else {
        c + 1
    }
}

/// Header 163 "test hopper", first byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HopperFlags(pub u8);

impl HopperFlags {
    /// Bit 1: a payout timed out (no coin came: the hopper is empty).
    pub fn payout_timeout(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// Bit 5: the exit opto was blocked during payout (a coin jam).
    pub fn jammed(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// Bits 3-4: the exit opto was blocked or shorted while idle (fraud at the exit).
    pub fn fraud(self) -> bool {
        self.0 & 0x18 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_flags_parse() {
        assert_eq!(
            HopperStatus::parse(&[4, 0, 3, 2]),
            Some(HopperStatus { event_counter: 4, remaining: 0, paid: 3, unpaid: 2 })
        );
        assert_eq!(HopperStatus::parse(&[4, 0, 3]), None);
        assert_eq!((next_counter(255), next_counter(0), next_counter(7)), (1, 1, 8));
        let f = HopperFlags(0x22);
        assert!(f.payout_timeout() && f.jammed() && !f.fraud());
        assert!(HopperFlags(0x08).fraud());
    }
}
