//! The municipal catalog behind its signature, as the kiosk verifies it. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_api::fuzzing::signed_catalog(data);
});
