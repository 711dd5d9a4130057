//! File formats: NumPy `.npy` ([`npy`]) and the crate's safetensors
//! helpers. Every reader returns a typed error on damaged input.

pub mod npy;
pub(crate) mod safetensors;
