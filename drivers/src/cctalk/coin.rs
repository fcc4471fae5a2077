//! The coin acceptor's side: coin ids, the buffered credit and error codes (header 229) with
//! their event counter, and what the error codes mean for the kiosk. Pure code.

/// Coin positions a ccTalk acceptor has (inhibit mask of 16 bits).
pub const POSITIONS: usize = 16;

/// The yen value of a coin id as header 209 returns it (`JP100A`: country, value, issue), or
/// `None` for an empty position (`......`) and anything that is not a yen coin.
pub fn yen_of_coin_id(id: &[u8]) -> Option<u32> {
    if id.len() != 6 || &id[..2] != b"JP" || !id[2..5].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u32 = std::str::from_utf8(&id[2..5]).ok()?.parse().ok()?;
    matches!(v, 1 | 5 | 10 | 50 | 100 | 500).then_some(v)
}

/// The 16-bit inhibit mask (header 231: low byte first; a set bit lets the coin in) for the
/// positions whose value `accept` allows.
pub fn inhibit_mask(coins: &[Option<u32>; POSITIONS], accept: impl Fn(u32) -> bool) -> [u8; 2] {
    let mut mask = 0u16;
    for (i, c) in coins.iter().enumerate() {
        if c.is_some_and(&accept) {
            mask |= 1 << i;
        }
    }
    mask.to_le_bytes()
}

/// What an error code of the credit buffer means for the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoinErrorKind {
    /// The coin went back to the resident (not recognised, inhibited, too slow…): harmless.
    Returned,
    /// A coin or sensor is blocked: the acceptor cannot take coins until cleared.
    Jam,
    /// Someone tried to cheat the acceptor (coin on a string, coin going backwards): no credit.
    Fraud,
    /// The reject lever or flight deck was operated: harmless.
    ReturnLever,
}

/// The class of a ccTalk coin acceptor error code (the spec's table; unknown codes are counted
/// as a coin returned, which credits nothing and stops nothing).
pub fn classify(code: u8) -> CoinErrorKind {
    match code {
        // Accept gate / credit sensor / sorter not ready, reject coin not cleared, validation
        // sensor not ready, credit sensor blocked, sorter opto blocked.
        9..=15 => CoinErrorKind::Jam,
        // Credit sequence error, coin going backwards, coin too fast, C.O.S. (coin on string),
        // DCE opto not seen, credit sensor reached too early.
        16 | 17 | 18 | 20 | 22 | 23 => CoinErrorKind::Fraud,
        254 => CoinErrorKind::ReturnLever,
        _ => CoinErrorKind::Returned,
    }
}

/// The inhibited-coin codes 128..=159 name the coin position (1-based) that was refused.
pub fn inhibited_position(code: u8) -> Option<usize> {
    (128..=159).contains(&code).then(|| usize::from(code - 128) + 1)
}

/// One buffered event, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoinEvent {
    /// A coin credited at `position` (1-based), sent down `sorter_path`.
    Credit { position: u8, sorter_path: u8 },
    /// An error code.
    Error(u8),
}

/// What a read of the credit buffer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditRead {
    /// New events since the last read, oldest first (none: nothing happened).
    Events(Vec<CoinEvent>),
    /// More events happened than the buffer holds: `lost` of them (credits among them,
    /// perhaps) are gone. `events` are the ones still buffered.
    Lost { lost: u32, events: Vec<CoinEvent> },
    /// The counter went back to zero: the acceptor was reset (power cut); whatever happened
    /// since the last read is unknown.
    Reset,
}

/// The reply of header 229 is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("credit buffer reply of {0} bytes (11 expected)")]
pub struct BadCreditReply(pub usize);

/// The event counter as last read: new events are told apart from old ones by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditBuffer {
    last: Option<u8>,
}

/// Events the acceptor buffers.
const BUFFERED: u32 = 5;

impl CreditBuffer {
    /// The counter last seen (none before the first read).
    pub fn counter(&self) -> Option<u8> {
        self.last
    }

    /// Reads a header-229 reply: `[counter][1A][1B]…[5A][5B]`, newest pair first. The counter
    /// runs 1..=255 and wraps to 1; 0 only after a reset. The first read sets the baseline
    /// (events from before the kiosk started are not this kiosk's money).
    pub fn read(&mut self, reply: &[u8]) -> Result<CreditRead, BadCreditReply> {
        if reply.len() != 1 + 2 * BUFFERED as usize {
            return Err(BadCreditReply(reply.len()));
        }
        let counter = reply[0];
        let Some(last) = self.last.replace(counter) else { return Ok(CreditRead::Events(Vec::new())) };
        if counter == 0 {
            return Ok(if last == 0 { CreditRead::Events(Vec::new()) } else { CreditRead::Reset });
        }
        let new = if last == 0 {
            u32::from(counter)
        } else if counter >= last {
            u32::from(counter - last)
        } else {
            u32::from(counter) + 255 - u32::from(last)
        };
        let kept = new.min(BUFFERED);
        let events = (0..kept as usize)
            .rev()
            .map(|i| {
                let (a, b) = (reply[1 + 2 * i], reply[2 + 2 * i]);
                if a == 0 {
                    CoinEvent::Error(b)
                } else {
                    CoinEvent::Credit { position: a, sorter_path: b }
                }
            })
            .collect();
        Ok(if new > BUFFERED { CreditRead::Lost { lost: new - BUFFERED, events } } else { CreditRead::Events(events) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_ids_are_read_as_yen() {
        assert_eq!(yen_of_coin_id(b"JP100A"), Some(100));
        assert_eq!(yen_of_coin_id(b"JP010B"), Some(10));
        assert_eq!(yen_of_coin_id(b"JP500A"), Some(500));
        assert_eq!(yen_of_coin_id(b"......"), None);
        assert_eq!(yen_of_coin_id(b"EU100A"), None, "a euro coin is not yen");
        assert_eq!(yen_of_coin_id(b"JP200A"), None, "no 200-yen coin exists");
        assert_eq!(yen_of_coin_id(b"JP100"), None);
        let mut coins = [None; POSITIONS];
        coins[0] = Some(1);
        coins[2] = Some(10);
        coins[5] = Some(500);
        coins[9] = Some(100);
        assert_eq!(inhibit_mask(&coins, |y| y >= 10), [0b0010_0100, 0b0000_0010]);
    }

    fn reply(counter: u8, pairs: &[(u8, u8)]) -> Vec<u8> {
        let mut r = vec![counter];
        for i in 0..5 {
            let (a, b) = pairs.get(i).copied().unwrap_or((0, 0));
            r.extend([a, b]);
        }
        r
    }

    #[test]
    fn new_events_come_out_oldest_first_and_old_ones_are_not_repeated() {
        let mut b = CreditBuffer::default();
        // Baseline: what happened before start is not reported.
        assert_eq!(b.read(&reply(9, &[(3, 1)])), Ok(CreditRead::Events(vec![])));
        assert_eq!(b.read(&reply(9, &[(3, 1)])), Ok(CreditRead::Events(vec![])));
        // Two coins since: position 6 then position 3 (newest first on the wire).
        let r = b.read(&reply(11, &[(3, 1), (6, 2), (3, 1)])).unwrap();
        assert_eq!(
            r,
            CreditRead::Events(vec![
                CoinEvent::Credit { position: 6, sorter_path: 2 },
                CoinEvent::Credit { position: 3, sorter_path: 1 }
            ])
        );
        // An error code (A = 0): 20, coin on a string.
        assert_eq!(b.read(&reply(12, &[(0, 20), (3, 1)])), Ok(CreditRead::Events(vec![CoinEvent::Error(20)])));
        assert_eq!(classify(20), CoinErrorKind::Fraud);
        assert_eq!(classify(14), CoinErrorKind::Jam);
        assert_eq!(inhibited_position(130), Some(3));
    }

    #[test]
    fn the_counter_wraps_from_255_to_1() {
        let mut b = CreditBuffer::default();
        b.read(&reply(254, &[])).unwrap();
        let r = b.read(&reply(2, &[(4, 1), (4, 1), (5, 1)])).unwrap();
        // 255, 1, 2: three events.
        assert!(matches!(r, CreditRead::Events(ref e) if e.len() == 3), "{r:?}");
    }

    #[test]
    fn a_jump_beyond_the_buffer_loses_events_and_a_reset_loses_all() {
        let mut b = CreditBuffer::default();
        b.read(&reply(10, &[])).unwrap();
        let r = b.read(&reply(18, &[(4, 1), (4, 1), (4, 1), (4, 1), (4, 1)])).unwrap();
        assert!(matches!(r, CreditRead::Lost { lost: 3, ref events } if events.len() == 5), "{r:?}");
        assert_eq!(b.read(&reply(0, &[])), Ok(CreditRead::Reset));
        // After the reset, counting starts again from 0.
        assert!(matches!(b.read(&reply(1, &[(4, 1)])).unwrap(), CreditRead::Events(e) if e.len() == 1));
        assert_eq!(b.read(&[1, 2, 3]), Err(BadCreditReply(3)));
    }
}
