#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lelp::teacher::LinearHead::from_safetensors_bytes(data, "fuzz.safetensors", "weight", "bias");
});
