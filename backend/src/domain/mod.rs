//! The sans-IO core, by concern: the registry's records (`residents`), what is offered to whom
//! and when (`offers`), issuance planning (`issuance`) and the document payload (`payload`).
//! Plain functions over plain data; the clock is a parameter. The contract types they work on
//! (configuration, `/v1` bodies, `DocumentKind`, `DocumentPayload`) are `madoguchi_api`'s, so
//! the kiosk reads exactly what is built here. HTTP and the database live elsewhere.

mod issuance;
mod offers;
mod payload;
mod residents;

#[cfg(test)]
mod tests;

pub use issuance::{check_request_shape, plan_issuance, Plan};
pub use offers::{compute_offers, refuse_unprintable, Offers};
pub use payload::{build_payload, era_date};
pub use residents::{
    Household, Koseki, Municipality, MunicipalityView, Resident, ResidentDetails, ResidentStatus, ResidentView,
    SealRegistration,
};

use time::Time;

/// `HH:MM` of a JST time, for messages.
pub fn hhmm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}
