//! `madoguchi-sim cash`: a ccTalk coin acceptor (address 2) and four hoppers (500, 100, 50 and
//! 10 yen at addresses 3-6) on one bus, as a pure model ([`CcTalkDevices`]: request frames in,
//! reply bytes out) and on a pseudo-terminal ([`run`]) or in memory ([`MemoryLine`]).
//!
//! The bus echoes: like a real single-wire ccTalk bus, every byte the host sends comes back to
//! it before the reply (`--no-echo` plays a two-wire adapter). The pty is paced to the line rate
//! of `--baud` (8N1, 10 bits a byte), which a pty does not enforce by itself.
//!
//! Commands, from `--do` (repeatable, at start) or as lines on the `--control` FIFO:
//!
//! | line | what happens |
//! |---|---|
//! | `insert YEN` | a resident drops a coin (credited if enabled, else returned as inhibited) |
//! | `jam` | the credit sensor is blocked (error 14) |
//! | `fraud` | a coin on a string (error 20): no credit |
//! | `hopper-empty [YEN]` | that hopper (all without YEN) has no coins left |
//! | `lost` | six 100-yen coins are credited between two polls: one event falls out of the buffer |
//! | `reset` | the acceptor restarts (power cut): its event counter returns to 0 |
//! | `silence` | no device answers any more (until `clear`) |
//! | `silence@payout` | the hoppers stop answering right after taking the next dispense |
//! | `checksum N` | the next N replies have a wrong checksum |
//! | `wrong-address N` | the next N replies come from address 9 |
//! | `clear` | silence and reply faults end |
//! | `wait-accepting` | (`--control` only) later lines wait until the host has enabled the acceptor, as a resident's hand waits for the slot's lamp |

use madoguchi_drivers::cctalk::frame::{decode, Frame, HOST};
use madoguchi_drivers::cctalk::header as h;
use madoguchi_drivers::cctalk::link::Port;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Coin ids at positions 1..=6; the rest are empty.
const COIN_IDS: [&[u8; 6]; 6] = [b"JP001A", b"JP005A", b"JP010A", b"JP050A", b"JP100A", b"JP500A"];

#[derive(Debug, Clone)]
struct Hopper {
    address: u8,
    yen: u32,
    coins: u32,
    counter: u8,
    enabled: bool,
    /// The running dispense: (coins asked, paid so far, started at).
    job: Option<(u8, u8, Duration)>,
    last: (u8, u8),
    flags: u8,
}

/// The devices on the bus and what has happened at them.
#[derive(Debug, Clone)]
pub struct CcTalkDevices {
    pub acceptor: u8,
    hoppers: Vec<Hopper>,
    mask: u16,
    master: bool,
    counter: u8,
    /// Newest first, at most 5.
    buffer: VecDeque<(u8, u8)>,
    silent: bool,
    silence_at_payout: bool,
    corrupt: u32,
    misaddress: u32,
    /// How long a hopper takes per coin.
    pub per_coin: Duration,
    /// Money credited and paid, for tests and the bench.
    pub credited_yen: u64,
    pub paid_yen: u64,
}

impl Default for CcTalkDevices {
    fn default() -> Self {
        CcTalkDevices::new(50)
    }
}

impl CcTalkDevices {
    /// Hoppers filled with `coins` coins each.
    pub fn new(coins: u32) -> CcTalkDevices {
        let hoppers = [(3, 500), (4, 100), (5, 50), (6, 10)]
            .into_iter()
            .map(|(address, yen)| Hopper {
                address,
                yen,
                coins,
                counter: 0,
                enabled: false,
                job: None,
                last: (0, 0),
                flags: 0,
            })
            .collect();
        CcTalkDevices {
            acceptor: 2,
            hoppers,
            mask: 0,
            master: false,
            counter: 0,
            buffer: VecDeque::new(),
            silent: false,
            silence_at_payout: false,
            corrupt: 0,
            misaddress: 0,
            per_coin: Duration::ZERO,
            credited_yen: 0,
            paid_yen: 0,
        }
    }

    fn event(&mut self, a: u8, b: u8) {
        self.counter = if self.counter == 255 { 1 } else { self.counter + 1 };
        self.buffer.push_front((a, b));
        self.buffer.truncate(5);
    }

    /// A resident drops a coin; whether it was credited.
    pub fn insert(&mut self, yen: u32) -> bool {
        let Some(i) = COIN_IDS.iter().position(|id| std::str::from_utf8(&id[2..5]).ok() == Some(&format!("{yen:03}")))
        else {
            self.event(0, 1); // reject coin: not a coin it knows
            return false;
        };
        if !self.master || self.mask & (1 << i) == 0 {
            self.event(0, 128 + i as u8);
            return false;
        }
        self.event(i as u8 + 1, 1);
        self.credited_yen += u64::from(yen);
        true
    }

    /// Whether the host has the acceptor taking coins (master inhibit off, some coin enabled).
    pub fn accepting(&self) -> bool {
        self.master && self.mask != 0
    }

    /// One command line (see the module table).
    pub fn command(&mut self, line: &str) -> Result<(), String> {
        let mut words = line.split_whitespace();
        let (cmd, arg) = (words.next().unwrap_or(""), words.next());
        let num = |d: u32| arg.map_or(Ok(d), |a| a.parse::<u32>().map_err(|_| format!("{line:?}: not a number")));
        match cmd {
            "insert" => {
                let yen = num(0)?;
                let taken = self.insert(yen);
                log::info!("cash sim: {yen} yen {}", if taken { "credited" } else { "returned" });
            }
            "jam" => self.event(0, 14),
            "fraud" => self.event(0, 20),
            "hopper-empty" => {
                let yen = arg.map(|_| num(0)).transpose()?;
                for hp in self.hoppers.iter_mut().filter(|hp| yen.is_none_or(|y| y == hp.yen)) {
                    hp.coins = 0;
                }
            }
            "lost" => {
                let was = self.master;
                self.master = true;
                for _ in 0..6 {
                    self.insert(100);
                }
                self.master = was;
            }
            "reset" => {
                self.counter = 0;
                self.buffer.clear();
                self.master = false;
            }
            "silence" => self.silent = true,
            "silence@payout" => self.silence_at_payout = true,
            "checksum" => self.corrupt = num(1)?,
            "wrong-address" => self.misaddress = num(1)?,
            "clear" => {
                self.silent = false;
                self.silence_at_payout = false;
                self.corrupt = 0;
                self.misaddress = 0;
            }
            "" => {}
            other => return Err(format!("unknown command {other:?}")),
        }
        Ok(())
    }

    /// The reply to one request at time `now` (since the bus started), or none (not for a
    /// device here, or silent).
    pub fn handle(&mut self, req: &Frame, now: Duration) -> Option<Vec<u8>> {
        if self.silent || req.src != HOST {
            return None;
        }
        let data = if req.dest == self.acceptor {
            self.acceptor_command(req)?
        } else {
            let i = self.hoppers.iter().position(|hp| hp.address == req.dest)?;
            self.hopper_command(i, req, now)?
        };
        let src = if self.misaddress > 0 {
            self.misaddress -= 1;
            9
        } else {
            req.dest
        };
        let mut bytes = Frame { dest: HOST, src, header: 0, data }.encode();
        if self.corrupt > 0 {
            self.corrupt -= 1;
            let last = bytes.len() - 1;
            bytes[last] ^= 0x5A;
        }
        Some(bytes)
    }

    fn acceptor_command(&mut self, req: &Frame) -> Option<Vec<u8>> {
        Some(match (req.header, req.data.as_slice()) {
            (h::SIMPLE_POLL, []) => vec![],
            (h::EQUIPMENT_CATEGORY, []) => b"Coin Acceptor".to_vec(),
            (h::COIN_ID, [n @ 1..=16]) => {
                COIN_IDS.get(usize::from(*n) - 1).map_or(b"......".to_vec(), |id| id.to_vec())
            }
            (h::MODIFY_INHIBIT, [lo, hi]) => {
                self.mask = u16::from_le_bytes([*lo, *hi]);
                vec![]
            }
            (h::MODIFY_MASTER_INHIBIT, [m]) => {
                self.master = m & 1 == 1;
                vec![]
            }
            (h::READ_CREDIT_BUFFER, []) => {
                let mut r = vec![self.counter];
                for i in 0..5 {
                    let (a, b) = self.buffer.get(i).copied().unwrap_or((0, 0));
                    r.extend([a, b]);
                }
                r
            }
            _ => return None,
        })
    }

    fn hopper_command(&mut self, i: usize, req: &Frame, now: Duration) -> Option<Vec<u8>> {
        let per_coin = self.per_coin;
        let silence_at_payout = self.silence_at_payout;
        let mut go_silent = false;
        let mut paid_now = 0u64;
        let hp = &mut self.hoppers[i];
        // Coins come out one per `per_coin` while there are any.
        if let Some((asked, paid, since)) = hp.job {
            let due = if per_coin.is_zero() {
                u32::from(asked)
            } else {
                ((now.saturating_sub(since)).as_nanos() / per_coin.as_nanos()).min(u128::from(asked)) as u32
            };
            let mut paid = u32::from(paid);
            while paid < due && hp.coins > 0 {
                hp.coins -= 1;
                paid += 1;
                paid_now += u64::from(hp.yen);
            }
            let empty = hp.coins == 0 && paid < u32::from(asked) && due >= paid;
            if paid == u32::from(asked) || empty {
                hp.last = (paid as u8, asked - paid as u8);
                if empty {
                    hp.flags |= 0x02;
                }
                hp.job = None;
            } else {
                hp.job = Some((asked, paid as u8, since));
            }
        }
        let reply = match (req.header, req.data.as_slice()) {
            (h::SIMPLE_POLL, []) => vec![],
            (h::EQUIPMENT_CATEGORY, []) => b"Payout".to_vec(),
            (h::ENABLE_HOPPER, [m]) => {
                hp.enabled = *m == 165;
                vec![]
            }
            (h::DISPENSE, [n]) if hp.enabled && hp.job.is_none() => {
                hp.counter = if hp.counter == 255 { 1 } else { hp.counter + 1 };
                hp.flags = 0;
                hp.last = (0, 0);
                hp.job = Some((*n, 0, now));
                hp.enabled = false;
                go_silent = silence_at_payout;
                vec![]
            }
            (h::HOPPER_STATUS, []) => {
                let remaining = hp.job.map_or(0, |(asked, paid, _)| asked - paid);
                vec![hp.counter, remaining, hp.last.0, hp.last.1]
            }
            (h::TEST_HOPPER, []) => vec![hp.flags, 0],
            (h::EMERGENCY_STOP, []) => {
                let left = hp.job.take().map_or(0, |(asked, paid, _)| asked - paid);
                vec![left]
            }
            _ => return None,
        };
        self.paid_yen += paid_now;
        if go_silent {
            // Took the dispense, then fell silent: its reply never comes.
            self.silence_at_payout = false;
            self.silent = true;
            return None;
        }
        Some(reply)
    }

    /// Coins left per hopper value.
    pub fn hopper_coins(&self, yen: u32) -> Option<u32> {
        self.hoppers.iter().find(|hp| hp.yen == yen).map(|hp| hp.coins)
    }
}

/// The devices shared between the bus and whoever plays the resident.
#[derive(Clone, Default)]
pub struct SharedDevices(Arc<Mutex<CcTalkDevices>>);

impl SharedDevices {
    pub fn new(d: CcTalkDevices) -> SharedDevices {
        SharedDevices(Arc::new(Mutex::new(d)))
    }
    pub fn lock(&self) -> MutexGuard<'_, CcTalkDevices> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A ccTalk bus in memory (no pty, no pacing): the driver's [`Port`] wired to the devices, with
/// the echo of a single-wire bus.
pub struct MemoryLine {
    pub devices: SharedDevices,
    pub echo: bool,
    start: std::time::Instant,
    pending: VecDeque<u8>,
    inbound: Vec<u8>,
}

impl MemoryLine {
    pub fn new(devices: SharedDevices) -> MemoryLine {
        MemoryLine {
            devices,
            echo: true,
            start: std::time::Instant::now(),
            pending: VecDeque::new(),
            inbound: Vec::new(),
        }
    }
}

impl Read for MemoryLine {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
            return Err(io::ErrorKind::TimedOut.into());
        }
        let n = buf.len().min(self.pending.len());
        for b in buf.iter_mut().take(n) {
            *b = self.pending.pop_front().unwrap_or_default();
        }
        Ok(n)
    }
}

impl Write for MemoryLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.echo {
            self.pending.extend(buf);
        }
        self.inbound.extend_from_slice(buf);
        let now = self.start.elapsed();
        for reply in serve_bytes(&mut self.inbound, &mut self.devices.lock(), now) {
            self.pending.extend(reply);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Port for MemoryLine {
    fn discard_input(&mut self) {
        self.pending.clear();
    }
}

/// Takes the complete frames out of `inbound` and returns the replies. A request with a bad
/// checksum is ignored (as a device does: the host times out and asks again).
pub fn serve_bytes(inbound: &mut Vec<u8>, devices: &mut CcTalkDevices, now: Duration) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match decode(inbound) {
            Ok(None) => break,
            Ok(Some((f, n))) => {
                inbound.drain(..n);
                out.extend(devices.handle(&f, now));
            }
            Err(_) => {
                inbound.clear();
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_drivers::cctalk::link::Timing;
    use madoguchi_drivers::cctalk::unit::{CcTalkCashUnit, CcTalkConfig};
    use madoguchi_drivers::payment::{CashErrorKind, CashEvent, CashUnit};

    fn unit(devices: &SharedDevices) -> CcTalkCashUnit<MemoryLine> {
        let cfg = CcTalkConfig {
            timing: Timing { reply_timeout: Duration::from_millis(20), retries: 2, baud: 9600 },
            ..CcTalkConfig::default()
        };
        CcTalkCashUnit::open(MemoryLine::new(devices.clone()), cfg).expect("open")
    }

    fn insert(devices: &SharedDevices, coins: &[u32]) {
        for c in coins {
            devices.lock().command(&format!("insert {c}")).unwrap();
        }
    }

    fn total(events: &[CashEvent]) -> Option<u32> {
        events.iter().rev().find_map(|e| match e {
            CashEvent::Accepted { total_yen, .. } => Some(*total_yen),
            CashEvent::Rejected { .. } => None,
        })
    }

    #[test]
    fn exact_money_is_credited_coin_by_coin_and_kept() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.ready().unwrap();
        insert(&d, &[100]);
        assert_eq!(u.poll().unwrap(), vec![CashEvent::Rejected { yen: Some(100) }], "inhibited before begin");
        u.begin(1350).unwrap();
        insert(&d, &[500, 500, 100]);
        assert_eq!(total(&u.poll().unwrap()), Some(1100));
        insert(&d, &[100, 100, 50]);
        assert_eq!(total(&u.poll().unwrap()), Some(1350));
        assert_eq!(u.stop().unwrap(), 1350);
        u.keep(1350).unwrap();
        assert_eq!(u.held(), 0);
        insert(&d, &[100]);
        assert_eq!(u.poll().unwrap(), vec![CashEvent::Rejected { yen: Some(100) }], "inhibited after stop");
        assert_eq!(u.counters().unwrap().accepted_yen, 1350);
    }

    #[test]
    fn change_and_a_refund_come_from_the_hoppers() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(300).unwrap();
        insert(&d, &[500, 1, 5]);
        let ev = u.poll().unwrap();
        assert_eq!(total(&ev), Some(500));
        assert_eq!(ev.iter().filter(|e| matches!(e, CashEvent::Rejected { .. })).count(), 2, "1 and 5 refused");
        u.stop().unwrap();
        u.keep(300).unwrap();
        u.pay_out(200).unwrap();
        {
            let dev = d.lock();
            assert_eq!((dev.paid_yen, dev.hopper_coins(100)), (200, Some(48)));
        }
        // A refund: 160 back as 100 + 50 + 10.
        u.begin(300).unwrap();
        insert(&d, &[100, 50, 10]);
        assert_eq!(total(&u.poll().unwrap()), Some(160));
        u.stop().unwrap();
        u.pay_out(160).unwrap();
        assert_eq!(u.held(), 0);
        assert_eq!(d.lock().paid_yen, 360);
        assert_eq!(u.counters().unwrap().paid_out_yen, 360);
    }

    #[test]
    fn an_empty_hopper_is_made_up_by_smaller_ones_or_reported_with_the_amount() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        d.lock().command("hopper-empty 100").unwrap();
        u.pay_out(200).unwrap();
        assert_eq!(d.lock().hopper_coins(50), Some(46));
        d.lock().command("hopper-empty").unwrap();
        let e = u.pay_out(500).unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CannotDispense, 500));
    }

    #[test]
    fn with_empty_hoppers_the_acceptor_refuses_coins_it_could_not_change() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        // A payout finds the 100, 50 and 10 hoppers dry; only 500s are left to pay with.
        for yen in [100, 50, 10] {
            d.lock().command(&format!("hopper-empty {yen}")).unwrap();
        }
        assert_eq!(u.pay_out(160).unwrap_err().kind, CashErrorKind::CannotDispense);
        u.begin(300).unwrap();
        insert(&d, &[500]);
        assert_eq!(u.poll().unwrap(), vec![CashEvent::Rejected { yen: Some(500) }], "200 change cannot be paid");
        insert(&d, &[100, 100, 50]);
        assert_eq!(total(&u.poll().unwrap()), Some(250));
        // 50 still due: a 100 would need 50 back.
        insert(&d, &[100, 50]);
        let ev = u.poll().unwrap();
        assert_eq!(ev[0], CashEvent::Rejected { yen: Some(100) });
        assert_eq!(total(&ev), Some(300));
        // Staff refilled and cleared: every coin again.
        d.lock().hoppers.iter_mut().for_each(|hp| hp.coins = 50);
        u.stop().unwrap();
        u.keep(300).unwrap();
        u.clear_fault().unwrap();
        u.begin(300).unwrap();
        insert(&d, &[500]);
        assert_eq!(total(&u.poll().unwrap()), Some(500));
    }

    #[test]
    fn a_jam_latches_with_the_money_held_and_fraud_credits_nothing() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(300).unwrap();
        insert(&d, &[100]);
        d.lock().command("fraud").unwrap();
        let ev = u.poll().unwrap();
        assert_eq!(ev.last(), Some(&CashEvent::Rejected { yen: None }));
        assert_eq!(u.fraud_attempts, 1);
        d.lock().command("jam").unwrap();
        let e = u.poll().unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::Jam, 100));
        assert_eq!(u.ready().unwrap_err().kind, CashErrorKind::Jam, "stays out of service");
    }

    #[test]
    fn a_jumped_event_counter_means_coins_lost_and_out_of_service() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(1000).unwrap();
        insert(&d, &[500]);
        assert_eq!(total(&u.poll().unwrap()), Some(500));
        d.lock().command("lost").unwrap();
        let e = u.poll().unwrap_err();
        // The five 100s still buffered are known; the sixth coin is not.
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CoinsLost, 1000), "{e}");
        assert!(e.detail.contains("1 coin events lost"), "{e}");
        assert_eq!(u.ready().unwrap_err().kind, CashErrorKind::CoinsLost);
        assert!(u.begin(300).is_err());
        // Staff counted: clearing the fault needs every device to answer…
        d.lock().command("silence").unwrap();
        assert_eq!(u.clear_fault().unwrap_err().kind, CashErrorKind::Offline);
        assert!(u.ready().is_err(), "still out of service");
        d.lock().command("clear").unwrap();
        // …and then the unit serves again from a fresh baseline, holding nothing.
        u.clear_fault().unwrap();
        assert_eq!(u.held(), 0);
        u.ready().unwrap();
        u.begin(100).unwrap();
        insert(&d, &[100]);
        assert_eq!(total(&u.poll().unwrap()), Some(100), "old events are not credited again");
    }

    #[test]
    fn bad_replies_are_retried_and_too_many_take_the_unit_offline_with_the_money_held() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(300).unwrap();
        insert(&d, &[100]);
        d.lock().command("checksum 1").unwrap();
        assert_eq!(total(&u.poll().unwrap()), Some(100), "one bad checksum: asked again");
        d.lock().command("wrong-address 2").unwrap();
        insert(&d, &[100]);
        assert_eq!(total(&u.poll().unwrap()), Some(200), "two misaddressed replies: asked again");
        d.lock().command("checksum 3").unwrap();
        insert(&d, &[50]);
        assert_eq!(total(&u.poll().unwrap()), Some(250), "three bad replies: recovered by one more read");
        d.lock().command("checksum 6").unwrap();
        let e = u.poll().unwrap_err();
        // Coins may have dropped since the last good read: money in doubt, not just offline.
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CoinsLost, 250), "{e}");
        assert!(e.detail.contains("checksum"), "{e}");
    }

    #[test]
    fn a_wrong_address_never_credits_and_silence_mid_payment_keeps_the_money_owed() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(300).unwrap();
        insert(&d, &[100]);
        d.lock().command("wrong-address 6").unwrap();
        let e = u.poll().unwrap_err();
        assert!(e.detail.contains("address 9"), "{e}");
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CoinsLost, 0), "the credit was never read: {e}");

        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(300).unwrap();
        insert(&d, &[100, 100]);
        assert_eq!(total(&u.poll().unwrap()), Some(200));
        d.lock().command("silence").unwrap();
        let e = u.poll().unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CoinsLost, 200));
        assert!(u.ready().is_err());
        // Idle (not taking coins), silence is only offline.
        let d = SharedDevices::default();
        let mut u = unit(&d);
        d.lock().command("silence").unwrap();
        assert_eq!(u.poll().unwrap_err().kind, CashErrorKind::Offline);
    }

    #[test]
    fn a_hopper_that_falls_silent_mid_payout_leaves_the_amount_owed_and_is_not_paid_twice() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        d.lock().command("silence@payout").unwrap();
        let e = u.pay_out(300).unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::Offline, 300), "{e}");
        d.lock().command("clear").unwrap();
        // The unit stays out of service: a payout is not repeated on a guess.
        assert!(u.pay_out(300).is_err());
        // The hopper took one dispense command (its coins come out as it is next asked) and no
        // second one was sent.
        d.lock().command("clear").unwrap();
        assert_eq!(d.lock().hoppers[1].counter, 1, "one dispense only");
    }

    #[test]
    fn an_acceptor_reset_mid_collection_is_money_in_doubt() {
        let d = SharedDevices::default();
        let mut u = unit(&d);
        u.begin(300).unwrap();
        insert(&d, &[100]);
        u.poll().unwrap();
        d.lock().command("reset").unwrap();
        let e = u.poll().unwrap_err();
        assert_eq!((e.kind, e.yen_not_returned), (CashErrorKind::CoinsLost, 100));
    }

    #[test]
    fn without_echo_the_driver_works_the_same() {
        let d = SharedDevices::default();
        let mut line = MemoryLine::new(d.clone());
        line.echo = false;
        let mut u = CcTalkCashUnit::open(line, CcTalkConfig::default()).unwrap();
        u.begin(100).unwrap();
        insert(&d, &[100]);
        assert_eq!(total(&u.poll().unwrap()), Some(100));
    }
}
