//! Progress reporting: the caller chooses where it goes.

use std::io::Write;

use super::config::EpochReport;

/// Receives the training loop's progress. Every method has a default that
/// does nothing; implement the ones you need (a progress bar, a logger, a
/// metrics sink).
///
/// `on_batch` is called without reading anything back from the device, so
/// observing costs no synchronisation.
///
/// # Example
/// ```
/// use lelp::train::{EpochReport, Observer};
/// #[derive(Default)]
/// struct Losses(Vec<f64>);
/// impl Observer for Losses {
///     fn on_epoch(&mut self, report: &EpochReport, _epochs: usize) {
///         self.0.push(report.train_loss);
///     }
/// }
/// ```
pub trait Observer: Send {
    /// Batch `batch` of `batches` (1-based) of epoch `epoch` of `epochs`
    /// (1-based) is done.
    fn on_batch(&mut self, epoch: usize, epochs: usize, batch: usize, batches: usize) {
        let _ = (epoch, epochs, batch, batches);
    }
    /// An epoch is done.
    fn on_epoch(&mut self, report: &EpochReport, epochs: usize) {
        let _ = (report, epochs);
    }
    /// Training resumed from a checkpoint after epoch `epoch`.
    fn on_resume(&mut self, epoch: usize) {
        let _ = epoch;
    }
    /// Training stopped early after epoch `epoch` (no improvement for
    /// `patience` epochs).
    fn on_early_stop(&mut self, epoch: usize) {
        let _ = epoch;
    }
}

/// Prints a line per epoch to stderr, and a progress bar while an epoch
/// runs when stderr is a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrProgress;

impl Observer for StderrProgress {
    fn on_batch(&mut self, epoch: usize, epochs: usize, batch: usize, batches: usize) {
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return;
        }
        let width = 30;
        let filled = width * batch / batches.max(1);
        let mut e = std::io::stderr();
        let _ = write!(
            e,
            "\repoch {epoch:>3}/{epochs} [{}{}] {batch}/{batches}",
            "=".repeat(filled),
            " ".repeat(width - filled)
        );
        let _ = e.flush();
    }

    fn on_epoch(&mut self, r: &EpochReport, epochs: usize) {
        let valid = match (r.valid_loss, r.valid_accuracy) {
            (Some(l), Some(a)) => format!(" | valid loss {l:.4} acc {a:.4}"),
            _ => String::new(),
        };
        let _ = writeln!(
            std::io::stderr(),
            "\repoch {:>3}/{} lr {:.2e} loss {:.4} acc {:.4}{valid}",
            r.epoch,
            epochs,
            r.lr,
            r.train_loss,
            r.train_accuracy
        );
    }

    fn on_resume(&mut self, epoch: usize) {
        let _ = writeln!(std::io::stderr(), "resumed after epoch {epoch}");
    }

    fn on_early_stop(&mut self, epoch: usize) {
        let _ = writeln!(std::io::stderr(), "stopped early after epoch {epoch}");
    }
}

/// A boxed observer observes as its content does: one type for an
/// observer chosen at run time (`Box<dyn Observer>`).
impl<O: Observer + ?Sized> Observer for Box<O> {
    fn on_batch(&mut self, epoch: usize, epochs: usize, batch: usize, batches: usize) {
        (**self).on_batch(epoch, epochs, batch, batches);
    }
    fn on_epoch(&mut self, report: &EpochReport, epochs: usize) {
        (**self).on_epoch(report, epochs);
    }
    fn on_resume(&mut self, epoch: usize) {
        (**self).on_resume(epoch);
    }
    fn on_early_stop(&mut self, epoch: usize) {
        (**self).on_early_stop(epoch);
    }
}

/// The observer that ignores everything (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Counts what it hears, in a shared cell the test reads.
    struct Count(Arc<Mutex<Vec<&'static str>>>);

    impl Observer for Count {
        fn on_batch(&mut self, _: usize, _: usize, _: usize, _: usize) {
            self.0.lock().unwrap().push("batch");
        }
        fn on_resume(&mut self, _: usize) {
            self.0.lock().unwrap().push("resume");
        }
        fn on_early_stop(&mut self, _: usize) {
            self.0.lock().unwrap().push("stop");
        }
    }

    #[test]
    fn a_boxed_observer_hears_what_its_content_would() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let mut boxed: Box<dyn Observer> = Box::new(Count(heard.clone()));
        boxed.on_batch(1, 2, 3, 4);
        boxed.on_resume(1);
        boxed.on_early_stop(2);
        assert_eq!(*heard.lock().unwrap(), ["batch", "resume", "stop"]);
    }
}
