#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lelp::io::npy::NpyArray::from_bytes(data, "fuzz.npy").map(|a| (a.to_f64(), a.to_labels()));
});
