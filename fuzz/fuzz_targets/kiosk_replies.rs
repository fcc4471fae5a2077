//! The backend's replies as the kiosk checks them. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_api::fuzzing::kiosk_replies(data);
});
