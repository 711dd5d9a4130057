//! The comparison study as library code (feature `experiment`, on by
//! default): the networks of a comparison ([`Arch`], [`Network`],
//! [`Run`]), tuning grids with the equal-budget rule and selection on a
//! validation split ([`MethodEntry`], [`check_budget`], [`select`]), the
//! JSON config ([`ExperimentConfig`]) and the loop that runs it ([`run`],
//! [`markdown_table`]). `examples/experiment.rs` is a thin front end to
//! it; the tuned tables in docs/results/ come from it.
//!
//! The protocol, per seed: a teacher trained on the training split; per
//! transfer set (a seeded sample of the training split), the teacher's
//! outputs computed once; per method, a student trained on the transfer
//! set and scored on the test split. With tuning, every method with a
//! grid gets the same number of points ([`check_budget`] refuses an
//! unequal budget); each point trains on the transfer set less a
//! stratified validation part and is scored there, never on the test
//! split; the best point is retrained on the whole transfer set. Subclass
//! Distillation trains its own teacher per seed and teacher setting.
//!
//! ```no_run
//! use lelp::experiment::{Event, ExperimentConfig, markdown_table, run};
//! let cfg = ExperimentConfig::from_file("experiments/mnist-parity.json")?;
//! let device = lelp::device::by_name("flex")?;
//! let rows = run(&cfg, &device, "flex", &mut |e| {
//!     if let Event::Row(r) = e {
//!         eprintln!("{} seed {}: {:.3}", r.method, r.seed, r.accuracy);
//!     }
//!     Ok(())
//! })?;
//! println!("{}", markdown_table(&cfg.name, &rows));
//! # Ok::<(), lelp::LelpError>(())
//! ```

mod config;
mod grid;
mod network;
mod runner;

pub use config::{DataSpec, ExperimentConfig, Grouping, NetSpec, Source, Tuning};
pub use grid::{MethodEntry, check_budget, select, with_seed};
pub use network::{Arch, Network, Run, train_network, train_network_on};
pub use runner::{Event, Row, markdown_table, run};
