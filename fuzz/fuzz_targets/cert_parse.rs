//! Certificates, certificate EFs with filler, CRLs and bare subjectAltNames from untrusted bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    madoguchi_certs::fuzzing::parse_any(data);
});
