#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lelp::subspace::Subspaces::from_bytes(data, "fuzz.safetensors");
});
