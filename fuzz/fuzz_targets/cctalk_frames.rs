//! What comes back on the ccTalk bus (echo, replies, garbage), read by the kiosk's frame
//! decoder and reply reader. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_drivers::fuzzing::cctalk_frames(data);
});
