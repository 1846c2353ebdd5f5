//! See `dbward_proxy::fuzzing::mysql_packets`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dbward_proxy::fuzzing::mysql_packets(data));
