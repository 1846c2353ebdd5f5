//! The statement classifier on arbitrary text (first byte: the dialect), with the decision
//! cache checked against the uncached classification.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dbward_core::policy::fuzzing::classify(data));
