//! [`CcTalkCashUnit`]: a ccTalk coin acceptor and its hoppers as the kiosk's [`CashUnit`].
//!
//! Coins are credited as they drop (ccTalk acceptors have no escrow): the "escrow" of the
//! trait is bookkeeping here, and a refund is paid from the hoppers like change. Any doubt about
//! money (events lost, the acceptor reset mid-payment, a hopper that stops answering mid-payout)
//! latches the unit out of service with what it knows, so the kiosk records it and stops taking
//! money until staff have counted.

use super::coin::{self, classify, inhibited_position, CoinErrorKind, CoinEvent, CreditBuffer, CreditRead};
use super::header as h;
use super::hopper::{next_counter, HopperFlags, HopperStatus};
use super::link::{Bus, LinkError, Port, Timing};
use crate::payment::{CashCounters, CashError, CashErrorKind, CashEvent, CashUnit};
use std::time::{Duration, Instant};

/// Where the devices sit on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcTalkConfig {
    /// The coin acceptor's address (2 by ccTalk convention).
    pub acceptor: u8,
    /// Hoppers: (address, the yen value of the coin it holds). 3.. by convention.
    pub hoppers: Vec<(u8, u32)>,
    /// The smallest coin the kiosk takes (smaller ones are inhibited and returned).
    pub min_coin_yen: u32,
    pub timing: Timing,
    /// Longest a hopper may take per coin before the payout counts as hung.
    pub per_coin: Duration,
}

impl Default for CcTalkConfig {
    fn default() -> CcTalkConfig {
        CcTalkConfig {
            acceptor: 2,
            hoppers: vec![(3, 500), (4, 100), (5, 50), (6, 10)],
            min_coin_yen: 10,
            timing: Timing::default(),
            per_coin: Duration::from_millis(1500),
        }
    }
}

/// Opening the unit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("address {address}: {error}")]
    Link { address: u8, error: LinkError },
    #[error("address {address} is a {found:?}, not a {expected}")]
    Category { address: u8, found: String, expected: &'static str },
    #[error("the coin acceptor knows no yen coin the kiosk takes")]
    NoCoins,
}

/// How often ready() really asks the devices (it is called in every loop of the worker).
const HEALTH_EVERY: Duration = Duration::from_secs(1);
/// Between hopper status reads during a payout.
const PAYOUT_POLL: Duration = Duration::from_millis(40);

/// The acceptor and hoppers on one ccTalk bus.
pub struct CcTalkCashUnit<P: Port> {
    bus: Bus<P>,
    cfg: CcTalkConfig,
    /// Yen value per coin position (1-based position = index + 1).
    coins: [Option<u32>; coin::POSITIONS],
    credit: CreditBuffer,
    collecting: bool,
    /// The fee of this collection.
    due: u32,
    /// Inserted in this collection.
    total: u32,
    /// Hoppers that ran dry in a payout (a hopper tells only that, not how many coins it has),
    /// until staff clear the unit.
    empty: Vec<u8>,
    /// The per-coin inhibit mask last sent.
    mask: Option<[u8; 2]>,
    /// Inserted and not yet kept or paid back: the resident's money if something fails.
    held: u32,
    accepted_yen: u64,
    paid_out_yen: u64,
    /// Set when money is in doubt or a device is stuck; only a new start clears it.
    latched: Option<CashError>,
    last_health: Option<(Instant, Result<(), CashError>)>,
    /// Fraud attempts the acceptor reported (for the operator).
    pub fraud_attempts: u32,
}

fn offline(held: u32, e: impl std::fmt::Display) -> CashError {
    CashError::new(CashErrorKind::Offline, held, e.to_string())
}

impl<P: Port> CcTalkCashUnit<P> {
    /// Polls every configured address, checks what answers there, reads the coin ids and the
    /// credit buffer's baseline, and leaves the acceptor inhibited.
    pub fn open(port: P, cfg: CcTalkConfig) -> Result<CcTalkCashUnit<P>, OpenError> {
        let mut bus = Bus::new(port, cfg.timing);
        let link = |address| move |error| OpenError::Link { address, error };
        let category = |bus: &mut Bus<P>, address: u8, expected: &'static str| -> Result<(), OpenError> {
            bus.call(address, h::SIMPLE_POLL, &[], true).map_err(link(address))?;
            let c = bus.call(address, h::EQUIPMENT_CATEGORY, &[], true).map_err(link(address))?;
            let found = String::from_utf8_lossy(&c).trim().to_string();
            if !found.eq_ignore_ascii_case(expected) {
                return Err(OpenError::Category { address, found, expected });
            }
            Ok(())
        };
        category(&mut bus, cfg.acceptor, "Coin Acceptor")?;
        for &(a, _) in &cfg.hoppers {
            category(&mut bus, a, "Payout")?;
        }
        let mut coins = [None; coin::POSITIONS];
        for (i, c) in coins.iter_mut().enumerate() {
            let id = bus.call(cfg.acceptor, h::COIN_ID, &[i as u8 + 1], true).map_err(link(cfg.acceptor))?;
            *c = coin::yen_of_coin_id(&id);
        }
        if !coins.iter().flatten().any(|&y| y >= cfg.min_coin_yen) {
            return Err(OpenError::NoCoins);
        }
        bus.call(cfg.acceptor, h::MODIFY_MASTER_INHIBIT, &[0], true).map_err(link(cfg.acceptor))?;
        let mut credit = CreditBuffer::default();
        let r = bus.call(cfg.acceptor, h::READ_CREDIT_BUFFER, &[], true).map_err(link(cfg.acceptor))?;
        credit.read(&r).map_err(|e| OpenError::Link { address: cfg.acceptor, error: LinkError::Io(e.to_string()) })?;
        log::info!(
            "ccTalk: acceptor at {} takes {:?}; hoppers {:?}",
            cfg.acceptor,
            coins.iter().flatten().collect::<Vec<_>>(),
            cfg.hoppers
        );
        Ok(CcTalkCashUnit {
            bus,
            cfg,
            coins,
            credit,
            collecting: false,
            due: 0,
            total: 0,
            empty: Vec::new(),
            mask: None,
            held: 0,
            accepted_yen: 0,
            paid_out_yen: 0,
            latched: None,
            last_health: None,
            fraud_attempts: 0,
        })
    }

    pub fn bus(&self) -> &Bus<P> {
        &self.bus
    }

    /// Money inserted and not yet kept or paid back.
    pub fn held(&self) -> u32 {
        self.held
    }

    fn latch(&mut self, e: CashError) -> CashError {
        log::error!("ccTalk cash unit out of service: {e}");
        self.collecting = false;
        // Stop taking coins if the acceptor still listens (best effort: it may be the one gone).
        let _ = self.bus.call(self.cfg.acceptor, h::MODIFY_MASTER_INHIBIT, &[0], true);
        self.latched = Some(e.clone());
        e
    }

    /// The acceptor stopped answering sensibly. Taking coins, it may have credited coins the
    /// kiosk never read: money in doubt, for staff to count. Idle, it is only offline.
    fn acceptor_lost(&mut self, e: impl std::fmt::Display) -> CashError {
        let e = if self.collecting {
            CashError::new(
                CashErrorKind::CoinsLost,
                self.held,
                format!(
                    "coin acceptor stopped answering while taking coins ({e}): coins after the last read are unknown"
                ),
            )
        } else {
            offline(self.held, format!("coin acceptor: {e}"))
        };
        self.latch(e)
    }

    fn read_credit(&mut self) -> Result<Vec<CashEvent>, CashError> {
        let acceptor = self.cfg.acceptor;
        // A read that failed all its attempts is tried once more after a pause (a burst of
        // noise, a reply from a device with a clashing address): the event counter makes a
        // repeated read harmless, and what it says is exact.
        let reply = match self.bus.call(acceptor, h::READ_CREDIT_BUFFER, &[], true) {
            Ok(r) => r,
            Err(first) => {
                log::warn!("ccTalk: coin acceptor: {first}; recovering");
                std::thread::sleep(self.cfg.timing.reply_timeout);
                match self.bus.call(acceptor, h::READ_CREDIT_BUFFER, &[], true) {
                    Ok(r) => r,
                    Err(e) => return Err(self.acceptor_lost(e)),
                }
            }
        };
        let read = match self.credit.read(&reply) {
            Ok(r) => r,
            Err(e) => return Err(self.acceptor_lost(e)),
        };
        let (events, lost) = match read {
            CreditRead::Events(e) => (e, None),
            CreditRead::Lost { lost, events } => (events, Some(lost)),
            CreditRead::Reset => (Vec::new(), Some(0)),
        };
        let mut out = Vec::new();
        for ev in events {
            match ev {
                CoinEvent::Credit { position, .. } => {
                    match self.coins.get(usize::from(position).wrapping_sub(1)).copied().flatten() {
                        Some(yen) => {
                            self.total += yen;
                            self.held += yen;
                            self.accepted_yen += u64::from(yen);
                            out.push(CashEvent::Accepted { yen, total_yen: self.total });
                        }
                        // A credit for a position the kiosk never read an id for: money of an
                        // unknown value went into the box.
                        None => {
                            let e = CashError::new(
                                CashErrorKind::CoinsLost,
                                self.held,
                                format!("credit at coin position {position}, which has no yen value"),
                            );
                            return Err(self.latch(e));
                        }
                    }
                }
                CoinEvent::Error(code) => match classify(code) {
                    CoinErrorKind::Returned | CoinErrorKind::ReturnLever => {
                        let yen = inhibited_position(code).and_then(|p| self.coins[p - 1]);
                        out.push(CashEvent::Rejected { yen });
                    }
                    CoinErrorKind::Fraud => {
                        self.fraud_attempts += 1;
                        log::warn!("ccTalk: coin acceptor reports a fraud attempt (error code {code}); no credit");
                        out.push(CashEvent::Rejected { yen: None });
                    }
                    CoinErrorKind::Jam => {
                        let e = CashError::new(
                            CashErrorKind::Jam,
                            self.held,
                            format!("coin acceptor jammed (error code {code})"),
                        );
                        return Err(self.latch(e));
                    }
                },
            }
        }
        if let Some(lost) = lost {
            let what = if lost == 0 {
                "the coin acceptor was reset: coins since the last read are unknown".to_string()
            } else {
                format!("{lost} coin events lost (the event counter jumped): coins of unknown value were taken")
            };
            // What was credited before (and in this read) is known and stays held.
            let e = CashError::new(CashErrorKind::CoinsLost, self.held, what);
            return Err(self.latch(e));
        }
        if self.collecting && !out.is_empty() {
            if let Err(e) = self.update_mask() {
                return Err(self.acceptor_lost(e));
            }
        }
        Ok(out)
    }

    /// Whether the hoppers not known to be empty can pay `yen` (yen coin values divide the
    /// larger ones, so taking the largest coin first decides it).
    fn can_pay(&self, yen: u32) -> bool {
        let mut values: Vec<u32> =
            self.cfg.hoppers.iter().filter(|(a, _)| !self.empty.contains(a)).map(|&(_, v)| v).collect();
        values.sort_unstable_by(|a, b| b.cmp(a));
        values.into_iter().fold(yen, |left, v| left % v) == 0
    }

    /// The coins the acceptor may take now: those the kiosk takes at all, and of those only
    /// the ones whose excess over what is still due the hoppers can pay back. The kiosk never
    /// takes money it cannot change.
    fn accept_mask(&self) -> [u8; 2] {
        let (min, due) = (self.cfg.min_coin_yen, self.due.saturating_sub(self.total));
        coin::inhibit_mask(&self.coins, |y| y >= min && (y <= due || self.can_pay(y - due)))
    }

    /// Sends the per-coin mask when what may be taken changed (after each credit).
    fn update_mask(&mut self) -> Result<(), LinkError> {
        let mask = self.accept_mask();
        if self.mask != Some(mask) {
            self.bus.call(self.cfg.acceptor, h::MODIFY_INHIBIT, &mask, true)?;
            self.mask = Some(mask);
        }
        Ok(())
    }

    fn set_accepting(&mut self, on: bool) -> Result<(), LinkError> {
        if on {
            self.mask = None;
            self.update_mask()?;
        }
        self.bus.call(self.cfg.acceptor, h::MODIFY_MASTER_INHIBIT, &[u8::from(on)], true).map(|_| ())
    }

    fn hopper_status(&mut self, address: u8) -> Result<HopperStatus, LinkError> {
        let r = self.bus.call(address, h::HOPPER_STATUS, &[], true)?;
        HopperStatus::parse(&r).ok_or(LinkError::Garbled(address))
    }

    /// Pays `count` coins from the hopper at `address`; how many it paid. Errors carry the
    /// coins whose fate is unknown.
    fn dispense(&mut self, address: u8, count: u8) -> Result<u8, (CashErrorKind, u8, String)> {
        let before = self.hopper_status(address).map_err(|e| (CashErrorKind::Offline, count, e.to_string()))?;
        self.bus
            .call(address, h::ENABLE_HOPPER, &[165], true)
            .map_err(|e| (CashErrorKind::Offline, count, e.to_string()))?;
        let expected = next_counter(before.event_counter);
        if let Err(e) = self.bus.call(address, h::DISPENSE, &[count], false) {
            // Was it taken? The counter says; a dispense is never sent twice on a guess.
            match self.hopper_status(address) {
                Ok(s) if s.event_counter == expected => {}
                Ok(_) if e.transient() => {
                    log::warn!("ccTalk: hopper {address}: dispense not taken ({e}); sending it again");
                    self.bus
                        .call(address, h::DISPENSE, &[count], false)
                        .map_err(|e| (CashErrorKind::Offline, count, e.to_string()))?;
                }
                Ok(_) => return Err((CashErrorKind::CannotDispense, count, e.to_string())),
                Err(e) => return Err((CashErrorKind::Offline, count, e.to_string())),
            }
        }
        let deadline = Instant::now() + self.cfg.per_coin * u32::from(count) + Duration::from_secs(2);
        loop {
            std::thread::sleep(PAYOUT_POLL);
            match self.hopper_status(address) {
                Ok(s) if s.event_counter == expected && s.remaining == 0 => {
                    if s.unpaid > 0 {
                        let flags = self
                            .bus
                            .call(address, h::TEST_HOPPER, &[], true)
                            .ok()
                            .and_then(|f| f.first().copied())
                            .map(HopperFlags)
                            .unwrap_or_default();
                        if flags.jammed() {
                            return Err((CashErrorKind::Jam, s.unpaid, format!("hopper {address} jammed")));
                        }
                        log::warn!("ccTalk: hopper {address} paid {} of {count}: empty", s.paid);
                    }
                    return Ok(s.paid);
                }
                Ok(_) => {}
                // Stopped answering mid-payout: how many coins came out is unknown.
                Err(e) if Instant::now() >= deadline => {
                    return Err((CashErrorKind::Offline, count, format!("hopper {address} stopped answering: {e}")));
                }
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                let _ = self.bus.call(address, h::EMERGENCY_STOP, &[], true);
                return Err((CashErrorKind::Jam, count, format!("hopper {address} did not finish in time")));
            }
        }
    }

    fn health(&mut self) -> Result<(), CashError> {
        let mut addresses = vec![self.cfg.acceptor];
        addresses.extend(self.cfg.hoppers.iter().map(|h| h.0));
        for a in addresses {
            self.bus.call(a, h::SIMPLE_POLL, &[], true).map_err(|e| offline(0, format!("address {a}: {e}")))?;
        }
        Ok(())
    }
}

impl<P: Port> CashUnit for CcTalkCashUnit<P> {
    fn ready(&mut self) -> Result<(), CashError> {
        if let Some(e) = &self.latched {
            return Err(e.clone());
        }
        if let Some((at, r)) = &self.last_health {
            if at.elapsed() < HEALTH_EVERY {
                return r.clone();
            }
        }
        let r = self.health();
        self.last_health = Some((Instant::now(), r.clone()));
        r
    }

    fn begin(&mut self, due_yen: u32) -> Result<(), CashError> {
        if let Some(e) = &self.latched {
            return Err(e.clone());
        }
        if self.held != 0 {
            return Err(CashError::new(CashErrorKind::State, 0, "money of an earlier transaction not settled"));
        }
        // Events before this collection (a coin pushed while inhibited was returned) are not
        // this resident's: read them away first.
        self.read_credit()?;
        self.total = 0;
        self.held = 0;
        self.due = due_yen;
        if let Err(e) = self.set_accepting(true) {
            return Err(self.latch(offline(0, format!("coin acceptor: {e}"))));
        }
        self.collecting = true;
        log::debug!("ccTalk: collecting {due_yen} yen");
        Ok(())
    }

    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
        if let Some(e) = &self.latched {
            return Err(e.clone());
        }
        // Between collections nothing is credited (the acceptor is inhibited); the buffer is
        // still read so errors (fraud, a jam) and coins that slipped in are seen.
        self.read_credit()
    }

    fn stop(&mut self) -> Result<u32, CashError> {
        if self.collecting {
            self.collecting = false;
            if let Err(e) = self.set_accepting(false) {
                return Err(self.latch(offline(self.held, format!("coin acceptor: {e}"))));
            }
        }
        Ok(self.total)
    }

    fn keep(&mut self, yen: u32) -> Result<(), CashError> {
        if yen > self.held {
            return Err(CashError::new(CashErrorKind::State, 0, "keeping more than was inserted"));
        }
        self.held -= yen;
        Ok(())
    }

    fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
        if yen == 0 {
            return Ok(());
        }
        if let Some(e) = &self.latched {
            return Err(CashError { yen_not_returned: yen, ..e.clone() });
        }
        let mut hoppers = self.cfg.hoppers.clone();
        hoppers.sort_by_key(|h| std::cmp::Reverse(h.1));
        let mut left = yen;
        for (address, value) in hoppers {
            while left >= value {
                let n = (left / value).min(255) as u8;
                match self.dispense(address, n) {
                    Ok(paid) => {
                        let paid_yen = u32::from(paid) * value;
                        left -= paid_yen;
                        self.paid_out_yen += u64::from(paid_yen);
                        self.held = self.held.saturating_sub(paid_yen);
                        if paid < n {
                            // Empty: the smaller hoppers make up the rest, and coins whose
                            // change would need this hopper are refused from now on.
                            self.empty.push(address);
                            break;
                        }
                    }
                    Err((kind, _unsure, detail)) => {
                        let e = CashError::new(kind, left, detail);
                        return Err(self.latch(e));
                    }
                }
            }
        }
        if left > 0 {
            return Err(CashError::new(
                CashErrorKind::CannotDispense,
                left,
                format!("the hoppers could pay {} of {yen} yen", yen - left),
            ));
        }
        Ok(())
    }

    fn counters(&mut self) -> Result<CashCounters, CashError> {
        // ccTalk acceptors keep no money totals and hoppers report only high/low levels: these
        // are the credits and payouts this driver saw confirmed since it opened the bus.
        Ok(CashCounters { accepted_yen: self.accepted_yen, paid_out_yen: self.paid_out_yen, hopper_coins: None })
    }

    /// After staff counted the money in doubt: every device must answer again, the acceptor is
    /// inhibited and its event counter read as the new baseline (what happened while the unit
    /// was latched is in the staff's count, not the kiosk's), and nothing is held any more.
    fn clear_fault(&mut self) -> Result<(), CashError> {
        self.last_health = None;
        self.health()?;
        let acceptor = self.cfg.acceptor;
        let baseline = self
            .bus
            .call(acceptor, h::MODIFY_MASTER_INHIBIT, &[0], true)
            .and_then(|_| self.bus.call(acceptor, h::READ_CREDIT_BUFFER, &[], true))
            .map_err(|e| offline(0, format!("coin acceptor: {e}")))?;
        let mut credit = CreditBuffer::default();
        credit.read(&baseline).map_err(|e| offline(0, format!("coin acceptor: {e}")))?;
        if let Some(e) = self.latched.take() {
            log::warn!("ccTalk: staff cleared the fault ({e}); {} yen held is settled by their count", self.held);
        }
        self.credit = credit;
        self.collecting = false;
        self.total = 0;
        self.held = 0;
        // Staff have been inside: the hoppers are refilled or will show empty again.
        self.empty.clear();
        Ok(())
    }
}

/// Opens the ccTalk bus on a serial line: 8 data bits, no parity, one stop bit, no handshake.
#[cfg(feature = "serial")]
pub fn open_serial(path: &str, cfg: CcTalkConfig) -> Result<CcTalkCashUnit<Box<dyn serialport::SerialPort>>, String> {
    let port = serialport::new(path, cfg.timing.baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(Duration::from_millis(5))
        .open()
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    CcTalkCashUnit::open(port, cfg).map_err(|e| format!("{path}: ccTalk {e}"))
}
