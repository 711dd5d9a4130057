#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lelp::train::CheckpointInfo::parse(data, "state.json");
});
