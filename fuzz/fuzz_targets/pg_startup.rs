//! The PostgreSQL startup-phase decoder on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dbward_proxy::fuzzing::pg_startup(data));
