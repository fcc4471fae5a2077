//! The cash unit (coins and notes) behind a trait. Real units are vendor devices with their own
//! protocols; `sim/src/cash.rs` simulates one for the demo and the tests.
//!
//! The unit holds the money of one transaction in escrow until the kiosk says what to do with
//! it, so every failure can be answered with "your money is returned" or, if the unit cannot,
//! with an exact amount owed.

use std::fmt;

/// Japanese yen coins and notes, smallest first.
pub const DENOMINATIONS: [u32; 10] = [1, 5, 10, 50, 100, 500, 1000, 2000, 5000, 10000];

/// What the unit reports since the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CashEvent {
    /// A coin or note was accepted; `total_yen` is everything inserted in this collection.
    Accepted { yen: u32, total_yen: u32 },
    /// A coin or note was returned to the resident (foreign, damaged, not accepted now).
    Rejected { yen: Option<u32> },
}

/// The coarse classes of cash unit failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashErrorKind {
    /// A coin or note is stuck: the unit stops taking or paying money.
    Jam,
    /// Not enough coins to pay this amount out.
    CannotDispense,
    /// The unit does not answer.
    Offline,
    /// Asked for something its state does not allow (a programming error in the caller).
    State,
    /// Money of unknown value went in, or may have (the unit lost events, was reset or stopped
    /// answering mid-collection): out of service until staff have counted.
    CoinsLost,
}

/// A failure, with the money the unit holds that it could not give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashError {
    pub kind: CashErrorKind,
    pub yen_not_returned: u32,
    pub detail: String,
}

impl CashError {
    pub fn new(kind: CashErrorKind, yen_not_returned: u32, detail: impl Into<String>) -> CashError {
        CashError { kind, yen_not_returned, detail: detail.into() }
    }
}

impl fmt::Display for CashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cash unit {:?}: {} ({} yen not returned)", self.kind, self.detail, self.yen_not_returned)
    }
}

impl std::error::Error for CashError {}

/// What the cash unit's own counters say, for the operator's collect/refill reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CashCounters {
    /// Money the unit accepted since it was last emptied.
    pub accepted_yen: u64,
    /// Money the unit paid out since it was last refilled.
    pub paid_out_yen: u64,
    /// Coins in the hopper per `DENOMINATIONS` entry, when the unit can count them.
    pub hopper_coins: Option<[u32; DENOMINATIONS.len()]>,
}

/// A cash unit.
pub trait CashUnit {
    /// Whether the unit can take and pay out money now.
    fn ready(&mut self) -> Result<(), CashError>;
    /// Starts taking coins and notes for a fee of `due_yen` (the unit may refuse notes it could
    /// not change).
    fn begin(&mut self, due_yen: u32) -> Result<(), CashError>;
    /// What happened since the last poll.
    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError>;
    /// Stops taking money; returns the total inserted in this collection.
    fn stop(&mut self) -> Result<u32, CashError>;
    /// Keeps `yen` of the escrow (the fee, after a delivered issuance).
    fn keep(&mut self, yen: u32) -> Result<(), CashError>;
    /// Pays `yen` back to the resident (change or refund) from escrow and the coin stock.
    fn pay_out(&mut self, yen: u32) -> Result<(), CashError>;
    /// The unit's own counters.
    fn counters(&mut self) -> Result<CashCounters, CashError>;
    /// Staff have counted the money after a fault that left it in doubt (coins lost, a payout
    /// cut off): the unit forgets what it held and serves again if it can. Units that never
    /// latch a fault have nothing to forget.
    fn clear_fault(&mut self) -> Result<(), CashError> {
        self.ready()
    }
}

/// Coins to pay `yen` from a stock (`stock[i]` coins of `DENOMINATIONS[i]`), largest first;
/// `None` if the stock cannot make the amount. Greedy is exact for yen denominations when the
/// stock suffices, and the search below backs off a coin when it does not.
pub fn make_change(yen: u32, stock: &[u32; DENOMINATIONS.len()]) -> Option<[u32; DENOMINATIONS.len()]> {
    fn go(i: usize, left: u32, stock: &[u32; 10], out: &mut [u32; 10]) -> bool {
        if left == 0 {
            return true;
        }
        if i == 0 {
            // Ones: exact or nothing.
            if left <= stock[0] {
                out[0] = left;
                return true;
            }
            return false;
        }
        let d = DENOMINATIONS[i];
        let max = (left / d).min(stock[i]);
        // Try the most of this denomination first, then fewer (bounded: at most a few tries
        // matter because smaller denominations divide larger ones in the yen series).
        for n in (max.saturating_sub(4)..=max).rev() {
            out[i] = n;
            if go(i - 1, left - n * d, stock, out) {
                return true;
            }
        }
        out[i] = 0;
        false
    }
    let mut out = [0u32; 10];
    go(DENOMINATIONS.len() - 1, yen, stock, &mut out).then_some(out)
}

/// Total value of a coin/note count array.
pub fn value(counts: &[u32; DENOMINATIONS.len()]) -> u32 {
    counts.iter().zip(DENOMINATIONS).map(|(n, d)| n * d).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_uses_large_coins_first_and_respects_stock() {
        let mut stock = [0u32; 10];
        stock[3] = 10; // 50
        stock[4] = 10; // 100
        stock[5] = 1; // 500
        let c = make_change(700, &stock).unwrap();
        assert_eq!(value(&c), 700);
        assert_eq!(c[5], 1);
        assert_eq!(c[4], 2);
        // No 10-yen coins: 30 cannot be made.
        assert_eq!(make_change(30, &stock), None);
        assert_eq!(make_change(0, &stock), Some([0; 10]));
        // 1200 with one 500: 500 + 7×100.
        let c = make_change(1200, &stock).unwrap();
        assert_eq!(value(&c), 1200);
    }

    #[test]
    fn backs_off_a_large_coin_when_small_ones_cannot_finish() {
        let mut stock = [0u32; 10];
        stock[3] = 3; // three 50s
        stock[4] = 1; // one 100
                      // 150 = 100 + 50, and 150 = 3×50 would also do.
        assert_eq!(value(&make_change(150, &stock).unwrap()), 150);
        assert_eq!(value(&make_change(250, &stock).unwrap()), 250);
        assert_eq!(make_change(300, &stock), None);
    }
}
