//! A simulated cash unit (coins and notes) for the demo and the tests: the simulator panel or a
//! scenario inserts money, jams the slot or empties the change stock; the kiosk drives it
//! through [`CashUnit`] exactly like a real one.

pub mod bench;
pub mod cctalk;
pub mod pty;

use madoguchi_drivers::payment::{
    make_change, value, CashCounters, CashError, CashErrorKind, CashEvent, CashUnit, DENOMINATIONS,
};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the simulated unit holds and is doing.
#[derive(Debug, Clone)]
pub struct SimCashUnit {
    /// Coins and notes for change, per denomination (`DENOMINATIONS` order).
    stock: [u32; DENOMINATIONS.len()],
    /// This collection's money, held apart until kept or paid back.
    escrow: [u32; DENOMINATIONS.len()],
    accepting: bool,
    due: u32,
    events: Vec<CashEvent>,
    jammed: bool,
    offline: bool,
    /// Money paid out so far (what the resident took home), for test assertions.
    pub paid_out_total: u32,
    /// Money kept as fees.
    pub kept_total: u32,
    /// Money accepted since the operator last emptied the unit (its own counter).
    accepted_since_emptied: u64,
    /// Money paid out since the operator last refilled the hopper (its own counter).
    paid_out_since_refilled: u64,
}

impl Default for SimCashUnit {
    /// A unit with 20 of each coin and 10 of each 1000-yen note for change.
    fn default() -> Self {
        let mut stock = [20; DENOMINATIONS.len()];
        stock[6..].copy_from_slice(&[10, 0, 0, 0]);
        SimCashUnit::with_stock(stock)
    }
}

impl SimCashUnit {
    pub fn with_stock(stock: [u32; DENOMINATIONS.len()]) -> SimCashUnit {
        SimCashUnit {
            stock,
            escrow: [0; DENOMINATIONS.len()],
            accepting: false,
            due: 0,
            events: Vec::new(),
            jammed: false,
            offline: false,
            paid_out_total: 0,
            kept_total: 0,
            accepted_since_emptied: 0,
            paid_out_since_refilled: 0,
        }
    }

    /// A resident inserts a coin or note. Returns whether it was taken (the unit refuses money
    /// when it is not collecting, when jammed, and anything that is not yen).
    pub fn insert(&mut self, yen: u32) -> bool {
        let Some(i) = DENOMINATIONS.iter().position(|&d| d == yen) else {
            self.events.push(CashEvent::Rejected { yen: None });
            return false;
        };
        if !self.accepting || self.jammed || self.offline || yen < 10 {
            self.events.push(CashEvent::Rejected { yen: Some(yen) });
            return false;
        }
        self.escrow[i] += 1;
        self.accepted_since_emptied += u64::from(yen);
        self.events.push(CashEvent::Accepted { yen, total_yen: value(&self.escrow) });
        true
    }

    /// The next coin jams the slot (and whatever is in escrow stays stuck).
    pub fn jam(&mut self) {
        self.jammed = true;
    }

    /// The operator emptied the cash box: the accepted counter starts again.
    pub fn emptied(&mut self) {
        self.accepted_since_emptied = 0;
    }

    /// The operator refilled the hopper with these coins: the paid-out counter starts again.
    pub fn refilled(&mut self, coins: [u32; DENOMINATIONS.len()]) {
        for (s, c) in self.stock.iter_mut().zip(coins) {
            *s += c;
        }
        self.paid_out_since_refilled = 0;
    }

    /// Staff cleared the jam.
    pub fn clear_jam(&mut self) {
        self.jammed = false;
    }

    pub fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    pub fn escrow_yen(&self) -> u32 {
        value(&self.escrow)
    }

    fn check(&self, held: u32) -> Result<(), CashError> {
        if self.offline {
            return Err(CashError::new(CashErrorKind::Offline, held, "no answer"));
        }
        if self.jammed {
            return Err(CashError::new(CashErrorKind::Jam, held, "coin path jammed"));
        }
        Ok(())
    }
}

impl CashUnit for SimCashUnit {
    fn ready(&mut self) -> Result<(), CashError> {
        self.check(0)
    }

    fn begin(&mut self, due_yen: u32) -> Result<(), CashError> {
        self.check(0)?;
        if self.escrow_yen() != 0 {
            return Err(CashError::new(CashErrorKind::State, 0, "escrow of an earlier transaction not settled"));
        }
        self.accepting = true;
        self.due = due_yen;
        Ok(())
    }

    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
        self.check(self.escrow_yen())?;
        Ok(std::mem::take(&mut self.events))
    }

    fn stop(&mut self) -> Result<u32, CashError> {
        self.accepting = false;
        Ok(self.escrow_yen())
    }

    fn keep(&mut self, yen: u32) -> Result<(), CashError> {
        // The escrow goes into the stock; the fee is the unit's now and change comes from stock.
        let held = self.escrow_yen();
        if yen > held {
            return Err(CashError::new(CashErrorKind::State, 0, "keeping more than was inserted"));
        }
        for (s, e) in self.stock.iter_mut().zip(self.escrow.iter_mut()) {
            *s += *e;
            *e = 0;
        }
        self.kept_total += yen;
        // What was inserted beyond the fee is still the resident's: owed until paid out.
        self.due = held - yen;
        Ok(())
    }

    fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
        self.check(yen)?;
        if yen == 0 {
            return Ok(());
        }
        // A refund of the whole escrow gives back the very coins inserted.
        if yen == self.escrow_yen() {
            self.escrow = [0; DENOMINATIONS.len()];
            self.paid_out_total += yen;
            self.paid_out_since_refilled += u64::from(yen);
            return Ok(());
        }
        for (s, e) in self.stock.iter_mut().zip(self.escrow.iter_mut()) {
            *s += *e;
            *e = 0;
        }
        let coins = make_change(yen, &self.stock)
            .ok_or_else(|| CashError::new(CashErrorKind::CannotDispense, yen, "not enough coins for this amount"))?;
        for (s, c) in self.stock.iter_mut().zip(coins) {
            *s -= c;
        }
        self.paid_out_total += yen;
        self.paid_out_since_refilled += u64::from(yen);
        Ok(())
    }

    fn counters(&mut self) -> Result<CashCounters, CashError> {
        self.check(0)?;
        Ok(CashCounters {
            accepted_yen: self.accepted_since_emptied,
            paid_out_yen: self.paid_out_since_refilled,
            hopper_coins: Some(self.stock),
        })
    }
}

/// The simulated cash unit shared between the kiosk's cash worker (which owns a clone as its
/// [`CashUnit`]) and whoever plays the resident (the demo panel, a scenario), through
/// [`SharedSimCash::slot`].
#[derive(Clone, Default)]
pub struct SharedSimCash(Arc<Mutex<SimCashUnit>>);

impl SharedSimCash {
    /// The unit itself, to insert money or make it fail.
    pub fn slot(&self) -> MutexGuard<'_, SimCashUnit> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl CashUnit for SharedSimCash {
    fn ready(&mut self) -> Result<(), CashError> {
        self.slot().ready()
    }
    fn begin(&mut self, due_yen: u32) -> Result<(), CashError> {
        self.slot().begin(due_yen)
    }
    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
        self.slot().poll()
    }
    fn stop(&mut self) -> Result<u32, CashError> {
        self.slot().stop()
    }
    fn keep(&mut self, yen: u32) -> Result<(), CashError> {
        self.slot().keep(yen)
    }
    fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
        self.slot().pay_out(yen)
    }
    fn counters(&mut self) -> Result<CashCounters, CashError> {
        self.slot().counters()
    }
    fn clear_fault(&mut self) -> Result<(), CashError> {
        self.slot().clear_fault()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_accepted_and_paid_out_money_until_emptied_or_refilled() {
        let mut u = SimCashUnit::default();
        u.begin(300).unwrap();
        assert!(u.insert(500));
        u.stop().unwrap();
        u.keep(300).unwrap();
        u.pay_out(200).unwrap();
        let c = u.counters().unwrap();
        assert_eq!((c.accepted_yen, c.paid_out_yen), (500, 200));
        let hopper = c.hopper_coins.unwrap();
        assert_eq!(hopper[5], 21, "the 500-yen coin went into the stock");
        u.emptied();
        u.refilled([0, 0, 0, 0, 10, 0, 0, 0, 0, 0]);
        let c = u.counters().unwrap();
        assert_eq!((c.accepted_yen, c.paid_out_yen), (0, 0));
        assert_eq!(c.hopper_coins.unwrap()[4], hopper[4] + 10);
        u.set_offline(true);
        assert!(u.counters().is_err(), "an offline unit has no counters to give");
    }

    #[test]
    fn collects_keeps_the_fee_and_pays_change() {
        let mut u = SimCashUnit::default();
        assert!(!u.insert(100), "not collecting yet");
        u.begin(300).unwrap();
        assert!(u.insert(500));
        assert!(!u.insert(1), "1-yen coins are refused");
        let ev = u.poll().unwrap();
        assert!(ev.contains(&CashEvent::Accepted { yen: 500, total_yen: 500 }));
        assert_eq!(u.stop().unwrap(), 500);
        u.keep(300).unwrap();
        u.pay_out(200).unwrap();
        assert_eq!((u.kept_total, u.paid_out_total), (300, 200));
        let c = u.counters().unwrap();
        assert_eq!((c.accepted_yen, c.paid_out_yen), (500, 200));
        // 20 coins of each kind at start, one 500 in, 200 out as two 100s.
        let coins = c.hopper_coins.unwrap();
        assert_eq!((coins[5], coins[4]), (21, 18));
        u.begin(200).unwrap();
    }

    #[test]
    fn a_refund_returns_the_inserted_money() {
        let mut u = SimCashUnit::with_stock([0; 10]);
        u.begin(300).unwrap();
        u.insert(100);
        u.insert(100);
        u.stop().unwrap();
        u.pay_out(200).unwrap();
        assert_eq!(u.escrow_yen(), 0);
        assert_eq!(u.paid_out_total, 200);
    }

    #[test]
    fn a_jam_stops_everything_and_says_what_is_held() {
        let mut u = SimCashUnit::default();
        u.begin(300).unwrap();
        u.insert(100);
        u.jam();
        assert!(!u.insert(100));
        let e = u.poll().unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::Jam, 100));
        let e = u.pay_out(100).unwrap_err();
        assert_eq!(e.yen_not_returned, 100);
        u.clear_jam();
        u.pay_out(100).unwrap();
    }

    #[test]
    fn change_it_cannot_make_is_reported() {
        let mut u = SimCashUnit::with_stock([0; 10]);
        u.begin(300).unwrap();
        u.insert(1000);
        u.stop().unwrap();
        u.keep(300).unwrap();
        let e = u.pay_out(700).unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CannotDispense, 700));
    }
}
