//! Progress on standard error: one line rewritten in place on a terminal,
//! a line every few seconds otherwise (logs stay short).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use lelp::deploy::Progress;

pub struct Reporter {
    on: bool,
    tty: bool,
    start: Instant,
    last: Option<Instant>,
    open_line: bool,
}

impl Reporter {
    pub fn new(on: bool) -> Self {
        Self {
            on,
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            last: None,
            open_line: false,
        }
    }

    /// A line of its own.
    pub fn line(&mut self, text: &str) {
        if !self.on {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.open_line {
            let _ = writeln!(err);
            self.open_line = false;
        }
        let _ = writeln!(err, "[{:>6.1}s] {text}", self.start.elapsed().as_secs_f64());
    }

    /// A counter: rewritten in place on a terminal, else every 5 seconds.
    fn counter(&mut self, what: &str, done: usize, total: usize) {
        if !self.on {
            return;
        }
        let due = self
            .last
            .is_none_or(|t| t.elapsed().as_secs_f64() > if self.tty { 0.1 } else { 5.0 });
        if !due && done < total {
            return;
        }
        self.last = Some(Instant::now());
        let pct = 100.0 * done as f64 / total.max(1) as f64;
        let text = format!("{what} {done}/{total} ({pct:.0}%)");
        if self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r[{:>6.1}s] {text}\x1b[K", self.start.elapsed().as_secs_f64());
            let _ = err.flush();
            self.open_line = done < total;
            if done >= total {
                let _ = writeln!(err);
            }
        } else {
            self.line(&text);
        }
    }

    pub fn progress(&mut self, p: &Progress<'_>) {
        match p {
            Progress::Encoding { done, total } => self.counter("texts", *done, *total),
            Progress::TeacherTune { rows, epochs } => self.line(&format!(
                "fine-tuning the teacher's encoder on {rows} rows, {epochs} epochs (read from the cache when made before)"
            )),
            Progress::Teacher { test_accuracy } => {
                self.line(&format!("teacher ready: test accuracy {:.2}%", 100.0 * test_accuracy))
            }
            Progress::Candidate { candidate, done, total } => {
                let outcome = match (candidate.validation_accuracy, &candidate.error) {
                    (Some(a), _) => format!(
                        "validation accuracy {:.2}%, agreement with the teacher {:.2}%",
                        100.0 * a,
                        100.0 * candidate.validation_agreement.unwrap_or(f64::NAN)
                    ),
                    (None, Some(e)) => format!("failed: {e}"),
                    _ => String::new(),
                };
                self.line(&format!("candidate {done}/{total} {}: {outcome}", candidate.name));
            }
            Progress::Round {
                round,
                rounds,
                candidates,
                epochs,
            } => self.line(&format!(
                "student search round {round}/{rounds}: {candidates} candidates, {epochs:.2} epochs each"
            )),
            Progress::Student { candidate, done, total } => {
                let outcome = match (candidate.validation_agreement, &candidate.outcome) {
                    (_, lelp::deploy::Outcome::Failed(e)) => format!("failed: {e}"),
                    (Some(a), _) => format!("validation agreement with the teacher {:.2}%", 100.0 * a),
                    _ => String::new(),
                };
                self.line(&format!(
                    "  {done}/{total} {} {}: {outcome}",
                    candidate.kind, candidate.method
                ));
            }
            Progress::Final { method, rows } => {
                self.line(&format!("training the student with {} on {rows} rows", method.name()))
            }
            _ => {}
        }
    }
}
