//! The kiosk side of ccTalk, the open serial protocol of coin validators and hoppers, as a
//! [`CashUnit`](crate::payment::CashUnit).
//!
//! - [`frame`]: the frame codec and its 8-bit checksum (pure);
//! - [`link`]: one command and its reply (echo of the single-wire bus, address check, NAK,
//!   BUSY), and the [`link::Bus`] edge with timeouts and retries over any [`link::Port`]
//!   (a `serialport` line with feature `serial`);
//! - [`coin`]: coin ids, the inhibit mask, the credit buffer with its event counter and lost
//!   events (pure);
//! - [`hopper`]: hopper status and test flags (pure);
//! - [`unit`]: [`unit::CcTalkCashUnit`], an acceptor plus one hopper per coin value.
//!
//! A store whose note validator speaks another protocol (ID-003, MDB) would get its own driver
//! behind the same `CashUnit` trait; this build has coins only.

pub mod coin;
pub mod frame;
pub mod hopper;
pub mod link;
pub mod unit;

/// The headers (commands) used, from the ccTalk generic specification.
pub mod header {
    pub const SIMPLE_POLL: u8 = 254;
    pub const EQUIPMENT_CATEGORY: u8 = 245;
    pub const RESET: u8 = 1;
    pub const READ_CREDIT_BUFFER: u8 = 229;
    pub const MODIFY_INHIBIT: u8 = 231;
    pub const MODIFY_MASTER_INHIBIT: u8 = 228;
    pub const COIN_ID: u8 = 209;
    pub const DISPENSE: u8 = 167;
    pub const HOPPER_STATUS: u8 = 166;
    pub const ENABLE_HOPPER: u8 = 164;
    pub const TEST_HOPPER: u8 = 163;
    pub const EMERGENCY_STOP: u8 = 172;
}
