//! One command and its reply on the ccTalk bus, and the serial edge that carries them.
//!
//! ccTalk is a single wire: everything the host sends comes back to its own receiver before
//! the device answers. [`Exchange`] (pure: bytes in, a verdict out) expects that echo and drops
//! it, and also works on a link without one (a two-wire adapter): the echo is recognised as the
//! exact bytes just sent, addressed to the device, which a reply (addressed to the host) never
//! is. An echo that comes back different is a collision and fails the exchange.
//!
//! [`Bus`] is the I/O edge: it writes the request, reads until the reply or the deadline, and
//! repeats a command that may safely be repeated after a garbled, late or misaddressed reply.

use super::frame::{decode, Frame, FrameError, BUSY, HOST, NAK, REPLY};
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("no reply from address {0} in time")]
    Timeout(u8),
    #[error("reply from address {0}: {1}")]
    Checksum(u8, FrameError),
    /// Another device (or a mis-set address) answered: the reply is not used.
    #[error("reply from address {got} to a command for address {expected}")]
    WrongAddress { expected: u8, got: u8 },
    #[error("address {0} refused the command (NAK)")]
    Nak(u8),
    #[error("address {0} is busy")]
    Busy(u8),
    /// Our own bytes came back changed (two senders at once) or a frame not for the host.
    #[error("collision or stray frame on the bus at address {0}")]
    Garbled(u8),
    #[error("serial line: {0}")]
    Io(String),
}

impl LinkError {
    /// Whether asking again may help (a lost, late or garbled reply; not a refusal).
    pub fn transient(&self) -> bool {
        !matches!(self, LinkError::Nak(_) | LinkError::Io(_))
    }
}

/// What an exchange knows so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Pending,
    /// The reply's data.
    Reply(Vec<u8>),
    Failed(LinkError),
}

/// One command waiting for its reply.
#[derive(Debug)]
pub struct Exchange {
    dest: u8,
    sent: Vec<u8>,
    buf: Vec<u8>,
    echo_done: bool,
}

impl Exchange {
    /// Starts the exchange; the bytes to put on the wire.
    pub fn start(request: &Frame) -> (Exchange, Vec<u8>) {
        let sent = request.encode();
        (Exchange { dest: request.dest, sent: sent.clone(), buf: Vec::new(), echo_done: false }, sent)
    }

    /// Bytes that arrived.
    pub fn feed(&mut self, bytes: &[u8]) -> Progress {
        self.buf.extend_from_slice(bytes);
        if !self.echo_done && !self.buf.is_empty() {
            let n = self.buf.len().min(self.sent.len());
            if self.buf[..n] == self.sent[..n] {
                if n < self.sent.len() {
                    return Progress::Pending;
                }
                self.buf.drain(..n);
                self.echo_done = true;
            } else if self.buf[0] != HOST {
                // Starts like neither our echo nor a reply to us.
                return Progress::Failed(LinkError::Garbled(self.dest));
            }
        }
        match decode(&self.buf) {
            Ok(None) => Progress::Pending,
            Err(e) => Progress::Failed(LinkError::Checksum(self.dest, e)),
            Ok(Some((f, _))) if f.dest != HOST => Progress::Failed(LinkError::Garbled(self.dest)),
            Ok(Some((f, _))) if f.src != self.dest => {
                Progress::Failed(LinkError::WrongAddress { expected: self.dest, got: f.src })
            }
            Ok(Some((f, _))) => match f.header {
                REPLY => Progress::Reply(f.data),
                NAK => Progress::Failed(LinkError::Nak(self.dest)),
                BUSY => Progress::Failed(LinkError::Busy(self.dest)),
                _ => Progress::Failed(LinkError::Garbled(self.dest)),
            },
        }
    }
}

/// A serial line as the bus needs it: reads return what arrived within a short slice (or a
/// `TimedOut` error when nothing did).
pub trait Port: Read + Write + Send {
    /// Drops whatever is waiting to be read (the rest of a garbled reply).
    fn discard_input(&mut self);
}

#[cfg(feature = "serial")]
impl Port for Box<dyn serialport::SerialPort> {
    fn discard_input(&mut self) {
        let _ = self.clear(serialport::ClearBuffer::Input);
    }
}

/// How long and how often to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From the last byte sent to the complete reply.
    pub reply_timeout: Duration,
    /// Extra attempts for a command that may be repeated.
    pub retries: u32,
    /// The line rate, for the time the request itself takes on the wire.
    pub baud: u32,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing { reply_timeout: Duration::from_millis(150), retries: 2, baud: 9600 }
    }
}

/// The host end of the bus.
pub struct Bus<P: Port> {
    port: P,
    timing: Timing,
    /// Frames exchanged and failed, for diagnostics and the bench.
    pub stats: BusStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    pub exchanges: u64,
    pub retries: u64,
    pub bytes_sent: u64,
}

impl<P: Port> Bus<P> {
    pub fn new(port: P, timing: Timing) -> Bus<P> {
        Bus { port, timing, stats: BusStats::default() }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Sends `header` with `data` to `dest` and returns the reply's data. `repeatable`: the
    /// command changes nothing when done twice, so a failed attempt is simply repeated.
    pub fn call(&mut self, dest: u8, header: u8, data: &[u8], repeatable: bool) -> Result<Vec<u8>, LinkError> {
        let attempts = if repeatable { 1 + self.timing.retries } else { 1 };
        let mut last = LinkError::Timeout(dest);
        for attempt in 0..attempts {
            if attempt > 0 {
                self.stats.retries += 1;
                log::debug!("ccTalk: address {dest} header {header}: {last}; asking again");
            }
            match self.once(&Frame::request(dest, header, data)) {
                Ok(d) => return Ok(d),
                Err(e) if e.transient() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn once(&mut self, request: &Frame) -> Result<Vec<u8>, LinkError> {
        self.port.discard_input();
        let (mut ex, bytes) = Exchange::start(request);
        self.stats.exchanges += 1;
        self.stats.bytes_sent += bytes.len() as u64;
        self.port.write_all(&bytes).and_then(|()| self.port.flush()).map_err(|e| LinkError::Io(e.to_string()))?;
        // The request occupies the wire (and comes back as its echo) before the reply starts.
        let on_wire = Duration::from_micros(bytes.len() as u64 * 10_000_000 / u64::from(self.timing.baud.max(300)));
        let deadline = Instant::now() + on_wire * 2 + self.timing.reply_timeout;
        let mut buf = [0u8; 64];
        loop {
            match self.port.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => match ex.feed(&buf[..n]) {
                    Progress::Pending => {}
                    Progress::Reply(d) => return Ok(d),
                    Progress::Failed(e) => {
                        // Let the rest of the bad frame arrive and drop it.
                        std::thread::sleep(on_wire);
                        self.port.discard_input();
                        return Err(e);
                    }
                },
                Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LinkError::Io(e.to_string())),
            }
            if Instant::now() >= deadline {
                return Err(LinkError::Timeout(request.dest));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A bus with one scripted device: each request gets the next scripted answer (raw bytes),
    /// after the echo when `echo` is set. An empty answer is silence.
    pub(crate) struct ScriptedPort {
        pub echo: bool,
        pub answers: VecDeque<Vec<u8>>,
        pub requests: Vec<Vec<u8>>,
        pending: VecDeque<u8>,
    }

    impl ScriptedPort {
        pub fn new(echo: bool, answers: Vec<Vec<u8>>) -> ScriptedPort {
            ScriptedPort { echo, answers: answers.into(), requests: Vec::new(), pending: VecDeque::new() }
        }
    }

    impl Read for ScriptedPort {
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

    impl Write for ScriptedPort {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.requests.push(buf.to_vec());
            if self.echo {
                self.pending.extend(buf);
            }
            let answer = self.answers.pop_front().unwrap_or_default();
            self.pending.extend(answer);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Port for ScriptedPort {
        fn discard_input(&mut self) {
            self.pending.clear();
        }
    }

    fn timing() -> Timing {
        Timing { reply_timeout: Duration::from_millis(20), retries: 2, baud: 9600 }
    }

    #[test]
    fn the_echo_is_dropped_and_the_reply_taken_with_or_without_it() {
        for echo in [true, false] {
            let ack = vec![0x01, 0x00, 0x02, 0x00, 0xFD];
            let mut bus = Bus::new(ScriptedPort::new(echo, vec![ack]), timing());
            assert_eq!(bus.call(2, 254, &[], true), Ok(vec![]));
            assert_eq!(bus.port.requests, vec![vec![0x02, 0x00, 0x01, 0xFE, 0xFF]]);
        }
    }

    #[test]
    fn the_echo_and_reply_may_arrive_a_byte_at_a_time() {
        let (mut ex, sent) = Exchange::start(&Frame::request(2, 209, &[3]));
        for b in &sent {
            assert_eq!(ex.feed(&[*b]), Progress::Pending);
        }
        let reply = Frame::reply(2, b"JP100A").encode();
        let (last, head) = reply.split_last().unwrap();
        for b in head {
            assert_eq!(ex.feed(&[*b]), Progress::Pending);
        }
        assert_eq!(ex.feed(&[*last]), Progress::Reply(b"JP100A".to_vec()));
    }

    #[test]
    fn a_changed_echo_is_a_collision() {
        let (mut ex, mut sent) = Exchange::start(&Frame::request(2, 254, &[]));
        sent[3] = 0x7E;
        assert_eq!(ex.feed(&sent), Progress::Failed(LinkError::Garbled(2)));
    }

    #[test]
    fn a_checksum_error_is_retried_and_the_second_answer_used() {
        let mut bad = Frame::reply(2, &[7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).encode();
        bad[5] ^= 0x40;
        let good = Frame::reply(2, &[7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).encode();
        let mut bus = Bus::new(ScriptedPort::new(true, vec![bad, good]), timing());
        assert_eq!(bus.call(2, 229, &[], true).unwrap()[0], 7);
        assert_eq!(bus.stats.retries, 1);
    }

    #[test]
    fn a_reply_from_the_wrong_address_is_never_used() {
        let from_3 = Frame::reply(3, &[]).encode();
        let mut bus = Bus::new(ScriptedPort::new(true, vec![from_3.clone(), from_3.clone(), from_3]), timing());
        assert_eq!(bus.call(2, 254, &[], true), Err(LinkError::WrongAddress { expected: 2, got: 3 }));
        assert_eq!(bus.stats.exchanges, 3);
    }

    #[test]
    fn silence_times_out_and_a_command_that_must_not_repeat_is_sent_once() {
        let mut bus = Bus::new(ScriptedPort::new(true, vec![]), timing());
        assert_eq!(bus.call(3, 167, &[2], false), Err(LinkError::Timeout(3)));
        assert_eq!(bus.stats.exchanges, 1);
        let nak = Frame { dest: 1, src: 2, header: NAK, data: vec![] }.encode();
        let mut bus = Bus::new(ScriptedPort::new(false, vec![nak]), timing());
        assert_eq!(bus.call(2, 231, &[0xFF, 0xFF], true), Err(LinkError::Nak(2)));
        assert_eq!(bus.stats.exchanges, 1, "a refusal is not asked again");
    }
}
