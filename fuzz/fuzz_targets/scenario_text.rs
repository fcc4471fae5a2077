//! A scenario file as a municipality or store chain might write it, read by the scenario
//! parser. Must never panic, and a refusal names a line the file has.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_scenario::fuzzing::scenario_text(data);
});
