//! The relay's message framing and inspected backend messages on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dbward_proxy::fuzzing::pg_frames(data));
