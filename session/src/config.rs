//! What the session is configured with: timeouts, service hours, languages. Kept apart from the
//! state machine so the kiosk's configuration loader depends on plain data only.

use crate::Unavailable;
use madoguchi_certs::validity::JST;
use std::time::Duration;
use time::{OffsetDateTime, Time};

/// Wall-clock steps larger than this (against the monotonic clock) are audited as jumps.
pub(crate) const CLOCK_JUMP_TOLERANCE_S: i64 = 60;

/// A wall clock before this is certainly wrong (a dead RTC battery boots in 1970 or 2000).
pub(crate) const CLOCK_FLOOR_UNIX: i64 = 1_735_657_200; // 2025-01-01 00:00 JST

/// `500ms`, `45s`, `10m`, `2h`: the durations of `kiosk.toml` and of scenario files.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" | "min" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

/// How long each thing may take. Resident screens show a countdown and offer "more time".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Choice screens (service menu, place card, municipality, document, options, copies, confirm).
    pub screen: Duration,
    pub pin_entry: Duration,
    pub payment: Duration,
    /// For taking the card off after authentication (beyond it the transaction is aborted).
    pub remove_card: Duration,
    /// "Take your documents" (chime) before returning to idle.
    pub take_documents: Duration,
    /// A failure or certificate-problem screen before it counts as read.
    pub failure: Duration,
    /// The last part of a screen's time shows the timeout-warning screen.
    pub warning: Duration,
    /// What "more time" adds.
    pub more_time: Duration,
    /// How often "more time" may be used on one screen.
    pub max_more_time: u8,
    /// The whole transaction, from the service choice to the print job (not extendable).
    pub overall: Duration,
    pub card_reply: Duration,
    pub backend_reply: Duration,
    /// From the print job to the printer's job-end (the printer worker has finer limits).
    pub printer_job: Duration,
    /// Before asking the backend again after a transient failure.
    pub retry_backoff: Duration,
    /// How long a job being stopped may take to settle (the printer idle, its counter read)
    /// before the visit ends with the paper unknown (the kiosk stays out of service).
    pub print_abort_grace: Duration,
    /// How long the cash unit may take to pay out change or a refund. A unit that hangs in a
    /// payout answers neither `PaidOut` nor `Fault`: after this the amount is recorded as owed
    /// (`MoneyOwed`) and the unit is out of service, so a debt is never left unrecorded.
    pub payout: Duration,
    /// How often a running print job renews its issuance's lease at the backend (`printing`).
    /// Must stay well inside the backend's `outcome_timeout_s` (600 s by default), after which
    /// it voids an issuance it has not heard of.
    pub lease_renew: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Timeouts {
            screen: s(60),
            pin_entry: s(60),
            payment: s(120),
            remove_card: s(30),
            take_documents: s(30),
            failure: s(60),
            warning: s(15),
            more_time: s(60),
            max_more_time: 3,
            overall: s(600),
            card_reply: s(15),
            backend_reply: s(20),
            printer_job: s(300),
            retry_backoff: s(2),
            print_abort_grace: s(120),
            payout: s(60),
            lease_renew: s(240),
        }
    }
}

/// The kiosk's service hours (Japan time); documents have their own hours at the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHours {
    pub opens: Time,
    pub closes: Time,
    /// Closed days as (month, day), e.g. 29 Dec to 3 Jan.
    pub closed_days: Vec<(u8, u8)>,
}

impl Default for ServiceHours {
    fn default() -> Self {
        ServiceHours {
            opens: Time::from_hms(6, 30, 0).unwrap_or(Time::MIDNIGHT),
            closes: Time::from_hms(23, 0, 0).unwrap_or(Time::MIDNIGHT),
            closed_days: vec![(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)],
        }
    }
}

impl ServiceHours {
    /// `None` when open at `wall`, else why not.
    pub fn closed_at(&self, wall: OffsetDateTime) -> Option<Unavailable> {
        let local = wall.to_offset(JST);
        let md = (u8::from(local.month()), local.day());
        if self.closed_days.contains(&md) {
            return Some(Unavailable::ClosedDay);
        }
        let t = local.time();
        let open = if self.opens <= self.closes {
            t >= self.opens && t < self.closes
        } else {
            t >= self.opens || t < self.closes
        };
        (!open).then_some(Unavailable::Hours)
    }
}

/// What the session is configured with (the kiosk builds it from `kiosk.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Documents must be bound to this kiosk.
    pub kiosk_id: String,
    pub timeouts: Timeouts,
    /// Repeats of a safe backend request after a transient failure.
    pub backend_retries: u8,
    /// BCP 47 codes offered, the first is the default.
    pub languages: Vec<String>,
    pub hours: ServiceHours,
    /// Which PIN resets this kiosk offers, and when.
    pub pin_reset: crate::PinResetOffer,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            kiosk_id: String::new(),
            timeouts: Timeouts::default(),
            backend_retries: 2,
            languages: ["ja", "en", "zh-Hans", "ko", "pt-BR", "es", "vi"].map(String::from).to_vec(),
            hours: ServiceHours::default(),
            pin_reset: crate::PinResetOffer::default(),
        }
    }
}
