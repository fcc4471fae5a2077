//! A signed document's payload as the kiosk reads it before printing. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_api::fuzzing::document_payload(data);
});
