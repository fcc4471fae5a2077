//! The ccTalk frame: `[destination] [data length] [source] [header] [data …] [checksum]`, with
//! the simple 8-bit checksum (all bytes of a frame sum to 0 modulo 256). Pure code: bytes in,
//! frames out.

/// The host's (the kiosk's) bus address, by ccTalk convention.
pub const HOST: u8 = 1;
/// The header of a plain reply (ACK with or without data).
pub const REPLY: u8 = 0;
/// The header a device answers with when it refuses a command.
pub const NAK: u8 = 5;
/// The header a device answers with when it cannot take a command now.
pub const BUSY: u8 = 6;
/// Bytes of a frame around its data.
pub const OVERHEAD: usize = 5;

/// One ccTalk message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub dest: u8,
    pub src: u8,
    pub header: u8,
    pub data: Vec<u8>,
}

/// Why bytes on the bus are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes do not sum to zero: line noise, a collision or a torn frame.
    #[error("checksum error (frame sums to {0:#04x}, not 0)")]
    Checksum(u8),
}

impl Frame {
    /// A command from the host to `dest`.
    pub fn request(dest: u8, header: u8, data: &[u8]) -> Frame {
        Frame { dest, src: HOST, header, data: data.to_vec() }
    }

    /// A reply from `src` to the host.
    pub fn reply(src: u8, data: &[u8]) -> Frame {
        Frame { dest: HOST, src, header: REPLY, data: data.to_vec() }
    }

    /// The bytes on the wire. Data beyond 255 bytes cannot be framed (no ccTalk command has it).
    pub fn encode(&self) -> Vec<u8> {
        assert!(self.data.len() <= 255, "ccTalk data is at most 255 bytes");
        let mut out = Vec::with_capacity(self.data.len() + OVERHEAD);
        out.extend_from_slice(&[self.dest, self.data.len() as u8, self.src, self.header]);
        out.extend_from_slice(&self.data);
        out.push(checksum(&out));
        out
    }
}

/// The byte that makes `bytes` plus itself sum to zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)))
}

/// The first frame in `buf`: `Ok(None)` while it is incomplete, else the frame and the bytes it
/// took. A frame whose checksum fails is an error (its bytes cannot be trusted, not even its
/// length, so the caller drops everything it holds and asks again).
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let total = buf[1] as usize + OVERHEAD;
    if buf.len() < total {
        return Ok(None);
    }
    let sum = buf[..total].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    if sum != 0 {
        return Err(FrameError::Checksum(sum));
    }
    let frame = Frame { dest: buf[0], src: buf[2], header: buf[3], data: buf[4..total - 1].to_vec() };
    Ok(Some((frame, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_poll_and_its_ack_have_the_spec_bytes() {
        // ccTalk spec, "simple poll" to a coin acceptor at address 2: 02 00 01 FE FF.
        assert_eq!(Frame::request(2, 254, &[]).encode(), [0x02, 0x00, 0x01, 0xFE, 0xFF]);
        // Its ACK: 01 00 02 00 FD.
        assert_eq!(Frame::reply(2, &[]).encode(), [0x01, 0x00, 0x02, 0x00, 0xFD]);
        let (f, n) = decode(&[0x01, 0x00, 0x02, 0x00, 0xFD, 0x99]).unwrap().unwrap();
        assert_eq!((f, n), (Frame::reply(2, &[]), 5));
    }

    #[test]
    fn data_frames_round_trip_and_partial_frames_wait() {
        // Modify inhibit status, coins 3..6 enabled: 02 02 01 E7 3C 00 checksum.
        let bytes = Frame::request(2, 231, &[0x3C, 0x00]).encode();
        assert_eq!(bytes, [0x02, 0x02, 0x01, 0xE7, 0x3C, 0x00, 0xD8]);
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Ok(None));
        }
        assert_eq!(decode(&bytes).unwrap().unwrap().0.data, vec![0x3C, 0x00]);
    }

    #[test]
    fn a_flipped_bit_is_a_checksum_error() {
        let mut bytes = Frame::reply(2, b"JP100A").encode();
        bytes[6] ^= 0x01;
        assert_eq!(decode(&bytes), Err(FrameError::Checksum(0xFF)), "0x31 became 0x30");
        assert_eq!(checksum(&[0x01, 0x00, 0x02, 0x00]), 0xFD);
    }
}
