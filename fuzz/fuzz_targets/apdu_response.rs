//! Card answers (length-prefixed frames) through the kiosk's whole JPKI path: open, certificate
//! read, PIN status, VERIFY, sign. Must never panic nor report an impossible tries-left.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_drivers::fuzzing::drive_jpki_profile(data);
});
