//! Teachers: where embeddings and class logits come from.
//!
//! A [`TeacherEncoder`] maps a batch of inputs to its final-layer
//! embeddings `h` (`[N, d]`) and class logits `z = W h + b` (`[N, C]`), and
//! exposes the linear head `(W, b)` when it has one (LELP's null-space
//! projection needs it).
//!
//! Two implementations:
//! - [`PrecomputedTeacher`]: the inputs *are* embeddings that a teacher
//!   (typically a Python model) already computed; it applies the head. Load
//!   the head from `.npy` or safetensors.
//! - [`ModuleTeacher`]: wraps any burn [`Module`] with a function that
//!   returns `(embedding, logits)`.
//!
//! A 1-logit (sigmoid) teacher is accepted everywhere: its logit `z` is
//! mapped to the two logits `[0, z]` (so `softmax([0, z]) = [1 - sigmoid(z),
//! sigmoid(z)]`) and its head `w` to `W = [0; w]`, `b = [0, b]`.

use std::path::Path;

use burn::prelude::*;

use crate::error::{LelpError, Result};
use crate::npy::NpyArray;
use crate::util;

/// A teacher's linear classification head: logits `z = W h + b`.
///
/// # Shapes
/// - `weight`: `[C, d]`, row-major
/// - `bias`: `[C]`
#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    weight: Vec<f32>,
    bias: Vec<f32>,
    num_classes: usize,
    dim: usize,
}

impl LinearHead {
    /// A head from a row-major `[C, d]` weight and a `[C]` bias.
    ///
    /// A single row (`C = 1`) is a sigmoid head and is mapped to the two
    /// classes `[0, z]`.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the lengths disagree,
    /// [`LelpError::EmptyData`] for an empty head, [`LelpError::NonFinite`]
    /// for NaN/inf weights.
    ///
    /// # Example
    /// ```
    /// use lelp::LinearHead;
    /// let head = LinearHead::new(vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 0.5], 2)?;
    /// assert_eq!((head.num_classes(), head.dim()), (2, 2));
    /// // a sigmoid head becomes two classes [0, z]
    /// let sig = LinearHead::new(vec![2.0, -1.0], vec![0.3], 1)?;
    /// assert_eq!(sig.num_classes(), 2);
    /// assert_eq!(sig.weight(), &[0.0, 0.0, 2.0, -1.0]);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, num_classes: usize) -> Result<Self> {
        if num_classes == 0 || weight.is_empty() {
            return Err(LelpError::EmptyData { what: "linear head" });
        }
        if bias.len() != num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "head bias length vs number of classes",
                expected: num_classes,
                got: bias.len(),
            });
        }
        if !weight.len().is_multiple_of(num_classes) {
            return Err(LelpError::DimensionMismatch {
                what: "head weight length vs classes x dim",
                expected: num_classes * (weight.len() / num_classes).max(1),
                got: weight.len(),
            });
        }
        let dim = weight.len() / num_classes;
        util::check_finite_host(&weight, dim, "head weight")?;
        util::check_finite_host(&bias, num_classes, "head bias")?;
        if num_classes == 1 {
            let mut w = vec![0.0; dim];
            w.extend_from_slice(&weight);
            return Ok(LinearHead {
                weight: w,
                bias: vec![0.0, bias[0]],
                num_classes: 2,
                dim,
            });
        }
        Ok(LinearHead {
            weight,
            bias,
            num_classes,
            dim,
        })
    }

    /// Loads a head from two `.npy` files: weight `[C, d]` (or `[d]` for a
    /// sigmoid head) and bias `[C]`.
    ///
    /// # Errors
    /// File errors ([`LelpError::FileNotFound`], [`LelpError::Truncated`],
    /// [`LelpError::Corrupted`]) and those of [`LinearHead::new`].
    pub fn from_npy(weight: impl AsRef<Path>, bias: impl AsRef<Path>) -> Result<Self> {
        let w = NpyArray::read(weight)?;
        let b = NpyArray::read(bias)?;
        let classes = if w.shape.len() == 1 { 1 } else { w.shape[0] };
        Self::new(w.to_f32(), b.to_f32(), classes)
    }

    /// Loads a head from a safetensors file holding tensors `weight`
    /// (`[C, d]` or `[d]`) and `bias` (`[C]`), in f32 or f64. Other names
    /// can be given with [`LinearHead::from_safetensors_named`].
    ///
    /// # Errors
    /// As [`LinearHead::from_npy`].
    pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_safetensors_named(path, "weight", "bias")
    }

    /// Like [`LinearHead::from_safetensors`] with explicit tensor names.
    ///
    /// # Errors
    /// As [`LinearHead::from_npy`].
    pub fn from_safetensors_named(path: impl AsRef<Path>, weight: &str, bias: &str) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| LelpError::io(path, e))?;
        let st = crate::store::read_safetensors(&bytes, path)?;
        let (ws, w) = crate::store::tensor_f32(&st, weight, path)?;
        let (_, b) = crate::store::tensor_f32(&st, bias, path)?;
        let classes = if ws.len() == 1 { 1 } else { ws[0] };
        Self::new(w, b, classes)
    }

    /// Number of classes `C` (2 for a sigmoid head).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Embedding dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The weight, row-major `[C, d]`.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// The bias, `[C]`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Logits `h W^T + b` for embeddings `h` (`[N, d]` -> `[N, C]`), on
    /// `h`'s device.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `h` is not `[N, d]`.
    pub fn logits(&self, h: Tensor<2>) -> Result<Tensor<2>> {
        let [_, d] = h.dims();
        if d != self.dim {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width vs head input width",
                expected: self.dim,
                got: d,
            });
        }
        let device = h.device();
        let wt = util::matrix(self.weight.clone(), self.num_classes, self.dim, &device).transpose();
        let b = Tensor::<1>::from_data(TensorData::new(self.bias.clone(), [self.num_classes]), &device);
        Ok(h.matmul(wt) + b.unsqueeze_dim(0))
    }
}

/// Embeddings and logits of one batch.
///
/// # Shapes
/// - `embeddings`: `[N, d]`
/// - `logits`: `[N, C]`
#[derive(Debug, Clone)]
pub struct TeacherOutput {
    /// Final-layer embeddings `h`, `[N, d]`.
    pub embeddings: Tensor<2>,
    /// Class logits `z`, `[N, C]` (a 1-logit teacher's `[N, 1]` has been
    /// mapped to `[0, z]`).
    pub logits: Tensor<2>,
}

impl TeacherOutput {
    /// Builds an output, mapping 1-column (sigmoid) logits to `[0, z]` and
    /// checking that the row counts agree.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the row counts differ.
    pub fn new(embeddings: Tensor<2>, logits: Tensor<2>) -> Result<Self> {
        let [n, _] = embeddings.dims();
        let [m, c] = logits.dims();
        if n != m {
            return Err(LelpError::DimensionMismatch {
                what: "embedding rows vs logit rows",
                expected: n,
                got: m,
            });
        }
        let logits = if c == 1 {
            Tensor::cat(vec![logits.zeros_like(), logits], 1)
        } else {
            logits
        };
        Ok(Self { embeddings, logits })
    }

    /// Number of rows `N`.
    pub fn len(&self) -> usize {
        self.embeddings.dims()[0]
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A (frozen) teacher: embeddings and logits for a batch of inputs.
///
/// # Shapes
/// - input: `[N, F]` (features; images are flattened row-major)
/// - output: [`TeacherOutput`] with `[N, d]` embeddings and `[N, C]` logits
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::{LinearHead, PrecomputedTeacher, TeacherEncoder};
/// let device = Device::default();
/// // a teacher over 3-dim precomputed embeddings with a 2-class head
/// let head = LinearHead::new(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], vec![0.0, 0.0], 2)?;
/// let teacher = PrecomputedTeacher::new(head);
/// let h = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &device);
/// let out = teacher.forward(h)?;
/// assert_eq!(out.logits.dims(), [2, 2]);
/// assert_eq!(teacher.head().unwrap().num_classes(), 2);
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub trait TeacherEncoder {
    /// Number of classes `C` (2 for a sigmoid teacher).
    fn num_classes(&self) -> usize;
    /// Embedding dimension `d`.
    fn embedding_dim(&self) -> usize;
    /// Embeddings and logits for a batch.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] for inputs of the wrong width.
    fn forward(&self, inputs: Tensor<2>) -> Result<TeacherOutput>;
    /// The linear head `(W, b)`, when the teacher has one.
    fn head(&self) -> Option<LinearHead>;

    /// Runs the teacher over `inputs` in batches of `batch_size` and
    /// concatenates the results: the frozen teacher's outputs, computed once.
    ///
    /// # Errors
    /// As [`TeacherEncoder::forward`]; [`LelpError::EmptyData`] for no rows,
    /// [`LelpError::NonFinite`] when the teacher produced NaN/inf.
    fn forward_all(&self, inputs: Tensor<2>, batch_size: usize) -> Result<TeacherOutput> {
        let [n, _] = inputs.dims();
        if n == 0 {
            return Err(LelpError::EmptyData { what: "teacher inputs" });
        }
        let bs = batch_size.max(1);
        let mut embs = Vec::new();
        let mut logits = Vec::new();
        let mut start = 0;
        while start < n {
            let end = (start + bs).min(n);
            let out = self.forward(inputs.clone().narrow(0, start, end - start))?;
            embs.push(out.embeddings);
            logits.push(out.logits);
            start = end;
        }
        let out = TeacherOutput::new(Tensor::cat(embs, 0), Tensor::cat(logits, 0))?;
        util::check_finite(&out.embeddings, "teacher embeddings", 0)?;
        util::check_finite(&out.logits, "teacher logits", 0)?;
        Ok(out)
    }
}

/// A teacher over precomputed embeddings: its inputs are the embeddings
/// `h` themselves (`[N, d]`), and it applies its linear head.
///
/// This is how a user hands over a Python teacher: save the embeddings of
/// the transfer set and the head's `weight`/`bias` with numpy or
/// safetensors, then load them here.
#[derive(Debug, Clone)]
pub struct PrecomputedTeacher {
    head: LinearHead,
}

impl PrecomputedTeacher {
    /// A teacher applying `head` to precomputed embeddings.
    pub fn new(head: LinearHead) -> Self {
        Self { head }
    }

    /// Loads the head from `.npy` files (see [`LinearHead::from_npy`]).
    ///
    /// # Errors
    /// As [`LinearHead::from_npy`].
    pub fn from_npy(weight: impl AsRef<Path>, bias: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(LinearHead::from_npy(weight, bias)?))
    }

    /// Loads the head from safetensors (see [`LinearHead::from_safetensors`]).
    ///
    /// # Errors
    /// As [`LinearHead::from_safetensors`].
    pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(LinearHead::from_safetensors(path)?))
    }
}

impl TeacherEncoder for PrecomputedTeacher {
    fn num_classes(&self) -> usize {
        self.head.num_classes()
    }
    fn embedding_dim(&self) -> usize {
        self.head.dim()
    }
    fn forward(&self, inputs: Tensor<2>) -> Result<TeacherOutput> {
        let logits = self.head.logits(inputs.clone())?;
        TeacherOutput::new(inputs, logits)
    }
    fn head(&self) -> Option<LinearHead> {
        Some(self.head.clone())
    }
}

/// Loads precomputed embeddings (`[N, d]`, f32/f64/u8 `.npy`) onto `device`.
///
/// # Errors
/// File errors, [`LelpError::NonFinite`] for NaN/inf values,
/// [`LelpError::EmptyData`] for zero rows.
pub fn load_embeddings_npy(path: impl AsRef<Path>, device: &Device) -> Result<Tensor<2>> {
    let a = NpyArray::read(path)?;
    let [n, d] = a.matrix_shape()?;
    if n == 0 || d == 0 {
        return Err(LelpError::EmptyData {
            what: "embeddings file",
        });
    }
    let v = a.to_f32();
    util::check_finite_host(&v, d, "embeddings")?;
    Ok(util::matrix(v, n, d, device))
}

/// Adapts any burn [`Module`] into a [`TeacherEncoder`], given a function
/// returning `(embedding [N, d], logits [N, C])`.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use burn::nn::{Linear, LinearConfig};
/// use lelp::{ModuleTeacher, TeacherEncoder};
/// let device = Device::default();
/// let head = LinearConfig::new(4, 3).init(&device);
/// // the "encoder" is the identity here; the module is the head
/// let teacher = ModuleTeacher::new(head, 3, 4, |m: &Linear, x: Tensor<2>| {
///     (x.clone(), m.forward(x))
/// });
/// let out = teacher.forward(Tensor::zeros([5, 4], &device))?;
/// assert_eq!(out.logits.dims(), [5, 3]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Clone)]
pub struct ModuleTeacher<M, F> {
    module: M,
    forward: F,
    num_classes: usize,
    dim: usize,
    head: Option<LinearHead>,
}

impl<M, F> std::fmt::Debug for ModuleTeacher<M, F>
where
    M: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleTeacher")
            .field("module", &self.module)
            .field("num_classes", &self.num_classes)
            .field("dim", &self.dim)
            .finish()
    }
}

impl<M, F> ModuleTeacher<M, F>
where
    M: Module,
    F: Fn(&M, Tensor<2>) -> (Tensor<2>, Tensor<2>),
{
    /// Wraps `module`; `forward` gives `(embedding, logits)`. `num_classes`
    /// counts a sigmoid output as 2.
    pub fn new(module: M, num_classes: usize, dim: usize, forward: F) -> Self {
        Self {
            module,
            forward,
            num_classes,
            dim,
            head: None,
        }
    }

    /// Declares the module's linear head (for LELP's null-space projection).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the head does not match the
    /// declared classes and dimension.
    pub fn with_head(mut self, head: LinearHead) -> Result<Self> {
        if head.dim() != self.dim {
            return Err(LelpError::DimensionMismatch {
                what: "head input width vs teacher embedding dim",
                expected: self.dim,
                got: head.dim(),
            });
        }
        if head.num_classes() != self.num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "head classes vs teacher classes",
                expected: self.num_classes,
                got: head.num_classes(),
            });
        }
        self.head = Some(head);
        Ok(self)
    }

    /// The wrapped module.
    pub fn module(&self) -> &M {
        &self.module
    }
}

impl<M, F> TeacherEncoder for ModuleTeacher<M, F>
where
    M: Module,
    F: Fn(&M, Tensor<2>) -> (Tensor<2>, Tensor<2>),
{
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn embedding_dim(&self) -> usize {
        self.dim
    }
    fn forward(&self, inputs: Tensor<2>) -> Result<TeacherOutput> {
        let (h, z) = (self.forward)(&self.module, inputs);
        let out = TeacherOutput::new(h, z)?;
        let [_, d] = out.embeddings.dims();
        if d != self.dim {
            return Err(LelpError::DimensionMismatch {
                what: "module embedding width vs declared dim",
                expected: self.dim,
                got: d,
            });
        }
        let [_, c] = out.logits.dims();
        if c != self.num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "module logit width vs declared classes",
                expected: self.num_classes,
                got: c,
            });
        }
        Ok(out)
    }
    fn head(&self) -> Option<LinearHead> {
        self.head.clone()
    }
}
