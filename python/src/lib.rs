//! `import lelp`: a model file the `lelp` tool wrote, loaded and run from
//! Python (`lelp.Classifier`), and the tool's `distill` as a function.
//!
//! ```python
//! import lelp
//! clf = lelp.Classifier.load("model.safetensors")
//! labels, probabilities = clf.predict(["free money now", "see you at noon"])
//! # labels: numpy array of class names; probabilities: float32 [n, classes]
//! report = lelp.distill("train.jsonl", "model.safetensors", student="bag", method="auto")
//! ```

use std::path::PathBuf;

use lelp_core::LelpError;
use lelp_core::deploy::{self, ChooseBy, DistillOptions, StudentKind, TeacherOutputs};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyIOError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// lelp's typed errors as Python's: a missing file, an I/O error, a bad
/// value or bad data (ValueError), the rest (RuntimeError); the message
/// names the file, row or option as the tool's does.
fn py_err(e: LelpError) -> PyErr {
    let msg = e.to_string();
    match e {
        LelpError::FileNotFound { .. } => PyFileNotFoundError::new_err(msg),
        LelpError::Io { .. } => PyIOError::new_err(msg),
        LelpError::InvalidParameter { .. }
        | LelpError::BadRecord { .. }
        | LelpError::EmptyData { .. }
        | LelpError::LabelOutOfRange { .. }
        | LelpError::NonFinite { .. }
        | LelpError::ClassTooSmall { .. }
        | LelpError::ClassTooRare { .. }
        | LelpError::DimensionMismatch { .. }
        | LelpError::Corrupted { .. }
        | LelpError::Truncated { .. }
        | LelpError::FormatVersion { .. }
        | LelpError::ModelWeights { .. }
        | LelpError::Unsupported { .. } => PyValueError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// A trained student, read from its model file.
#[pyclass(frozen, module = "lelp")]
struct Classifier {
    inner: deploy::Classifier,
}

#[pymethods]
impl Classifier {
    /// Reads a model file (`lelp distill` writes them).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| deploy::Classifier::load(&path)).map_err(py_err)?;
        Ok(Self { inner })
    }

    /// The class names, in the order of the probabilities' columns.
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.inner.class_names().to_vec()
    }

    /// `(labels, probabilities)`: a numpy array of the predicted class
    /// names and a float32 numpy array `[len(texts), classes]`, as `lelp
    /// predict` computes them (calibration included).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray2<f32>>)> {
        let preds = py
            .detach(|| {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                self.inner.predict(&refs)
            })
            .map_err(py_err)?;
        let names = self.inner.class_names();
        let c = names.len();
        let labels: Vec<&str> = preds.iter().map(|p| names[p.label].as_str()).collect();
        let flat: Vec<f32> = preds.iter().flat_map(|p| p.probabilities.iter().copied()).collect();
        let probs = flat.into_pyarray(py).reshape([preds.len(), c])?;
        // a unicode array even when empty (numpy.array([]) would be float)
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", "str")?;
        let labels = py.import("numpy")?.call_method("array", (labels,), Some(&kwargs))?;
        Ok((labels, probs))
    }

    fn __repr__(&self) -> String {
        let m = self.inner.manifest();
        format!(
            "lelp.Classifier({} student, classes {:?})",
            m.architecture.name(),
            self.inner.class_names()
        )
    }
}

/// Distils a small classifier from a labelled file and writes its model
/// file, as `lelp distill` does (the teacher's embeddings cached under
/// lelp's cache folder, as the tool caches them); returns the summary
/// (method, test accuracy, macro-F1, agreement with the teacher, the
/// model's path). It runs without the GIL and does not stop on Ctrl-C:
/// run it in a subprocess to be able to interrupt it.
#[pyfunction]
#[pyo3(signature = (data, out, *, student = "bag", method = "auto", teacher = None, teacher_outputs = None,
    choose_by = None, tokens = 128, epochs = 10, seed = 0, subclasses = 4, class_weight = "none",
    calibrate = false, quantize = None))]
#[allow(clippy::too_many_arguments)]
fn distill<'py>(
    py: Python<'py>,
    data: PathBuf,
    out: PathBuf,
    student: &str,
    method: &str,
    teacher: Option<PathBuf>,
    teacher_outputs: Option<PathBuf>,
    choose_by: Option<&str>,
    tokens: usize,
    epochs: usize,
    seed: u64,
    subclasses: usize,
    class_weight: &str,
    calibrate: bool,
    quantize: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut opts = DistillOptions::default();
    opts.student = student.parse::<StudentKind>().map_err(py_err)?;
    opts.method = deploy::parse_method(method, subclasses, seed).map_err(py_err)?;
    opts.choose_by = choose_by.map(str::parse::<ChooseBy>).transpose().map_err(py_err)?;
    opts.class_weight = class_weight.parse().map_err(py_err)?;
    opts.quantize = quantize.map(str::parse).transpose().map_err(py_err)?;
    opts.max_tokens = tokens;
    opts.epochs = epochs;
    opts.seed = seed;
    opts.subclasses = subclasses;
    opts.calibrate = calibrate;
    opts.cache_dir = Some(lelp_core::text::default_cache_dir().join("embeddings"));
    let report = py
        .detach(|| -> lelp_core::Result<_> {
            let corpus = deploy::read_labelled(&data)?;
            opts.teacher_outputs = teacher_outputs
                .as_ref()
                .map(|p| TeacherOutputs::read(p, &data, &corpus))
                .transpose()?;
            if let Some(t) = teacher {
                opts.teacher_dir = t;
            }
            let device = lelp_core::device::by_name("flex")?;
            let report = deploy::distill(&corpus, &[], &opts, &device, &mut |_| {})?;
            report.model.save(&out)?;
            Ok(report)
        })
        .map_err(py_err)?;
    let m = &report.model.manifest;
    let d = PyDict::new(py);
    d.set_item("model", out.display().to_string())?;
    d.set_item("method", m.method.as_ref().map(|r| r.method.name()))?;
    d.set_item("test_accuracy", m.metrics.test_accuracy)?;
    d.set_item("test_agreement", m.metrics.test_agreement)?;
    d.set_item("test_macro_f1", m.metrics.test_scores.as_ref().map(|s| s.macro_f1))?;
    d.set_item("class_names", m.class_names.clone())?;
    Ok(d)
}

#[pymodule]
fn lelp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Classifier>()?;
    m.add_function(wrap_pyfunction!(distill, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
