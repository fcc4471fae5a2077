//! The request bodies the backend reads. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_backend::fuzzing::request_bodies(data);
});
