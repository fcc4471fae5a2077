//! Workers (ARCHITECTURE.md §2): each owns one device or connection, turns the session's
//! effects into I/O and the I/O's results into [`Event`]s. They run on their own threads and
//! talk to the kiosk loop through channels only; the session never blocks on them.

pub mod backend;
pub mod card;
pub mod printer;

use madoguchi_session::Event;
use std::sync::mpsc::Sender;

/// Where a worker sends what happened. Sending fails only when the kiosk loop has ended, and
/// then the worker stops.
pub type EventSink = Sender<Event>;
