//! What a printer sends back on the serial line, read by the PJL reply reader. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_drivers::fuzzing::pjl_replies(data);
});
