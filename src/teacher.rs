//! Teachers: where embeddings and class logits come from.
//!
//! A [`TeacherEncoder`] maps a batch of [`Inputs`] to its final-layer
//! embeddings `h` (`[N, d]`) and class logits `z = W h + b` (`[N, C]`), and
//! exposes the linear head `(W, b)` when it has one (LELP's null-space
//! projection needs it). [`TeacherEncoder::encode`] runs it once over a
//! whole [`Dataset`] (the teacher is frozen: outputs are detached).
//!
//! Two implementations:
//! - [`PrecomputedTeacher`]: the inputs *are* embeddings that a teacher
//!   (typically a Python model) already computed; it applies the head. Load
//!   the head from `.npy` or safetensors.
//! - [`ModuleTeacher`]: wraps any burn [`Module`] that implements
//!   [`TeacherModule`] (an embedding function and a `nn::Linear` head);
//!   sizes and head are read off the module.
//!
//! A 1-logit (sigmoid) teacher is accepted everywhere: its logit `z` is
//! mapped to the two logits `[0, z]` (so `softmax([0, z]) = [1 - sigmoid(z),
//! sigmoid(z)]`) and its head `w` to `W = [0; w]`, `b = [0, b]`.

use std::path::Path;

use burn::prelude::*;

use burn::nn::Linear;

use crate::data::{Dataset, Inputs};
use crate::error::{LelpError, Result};
use crate::io::npy::NpyArray;
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
    /// A head from a row-major weight of shape `[C, d]` and a `[C]` bias.
    ///
    /// The shape is explicit, so a transposed weight is an error rather
    /// than a silently wrong null space. A single row (`C = 1`) is a
    /// sigmoid head and is mapped to the two classes `[0, z]`. A burn
    /// `nn::Linear` (weight `[d, C]`) converts with [`LinearHead::from_linear`].
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the lengths disagree with
    /// `shape`, [`LelpError::EmptyData`] for an empty head,
    /// [`LelpError::NonFinite`] for NaN/inf weights.
    ///
    /// # Example
    /// ```
    /// use lelp::teacher::LinearHead;
    /// let head = LinearHead::new(vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0], vec![0.0, 0.5], [2, 3])?;
    /// assert_eq!((head.num_classes(), head.embedding_dim()), (2, 3));
    /// // the same numbers read as [3, 2] do not fit a 2-entry bias
    /// assert!(LinearHead::new(vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0], vec![0.0, 0.5], [3, 2]).is_err());
    /// // a sigmoid head becomes two classes [0, z]
    /// let sig = LinearHead::new(vec![2.0, -1.0], vec![0.3], [1, 2])?;
    /// assert_eq!(sig.num_classes(), 2);
    /// assert_eq!(sig.weight(), &[0.0, 0.0, 2.0, -1.0]);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, shape: [usize; 2]) -> Result<Self> {
        let [num_classes, dim] = shape;
        if num_classes == 0 || dim == 0 {
            return Err(LelpError::EmptyData { what: "linear head" });
        }
        if weight.len() != num_classes * dim {
            return Err(LelpError::DimensionMismatch {
                what: "head weight length vs classes x embedding dim",
                expected: num_classes * dim,
                got: weight.len(),
            });
        }
        if bias.len() != num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "head bias length vs number of classes",
                expected: num_classes,
                got: bias.len(),
            });
        }
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

    /// The head of a burn `nn::Linear` (weight `[d, C]`, transposed here to
    /// `[C, d]`; a missing bias is zero).
    ///
    /// # Errors
    /// [`LelpError::Backend`] when the weights cannot be read back, and
    /// those of [`LinearHead::new`].
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use burn::nn::LinearConfig;
    /// use lelp::teacher::LinearHead;
    /// let linear = LinearConfig::new(16, 3).init(&Device::default());
    /// let head = LinearHead::from_linear(&linear)?;
    /// assert_eq!((head.num_classes(), head.embedding_dim()), (3, 16));
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn from_linear(linear: &Linear) -> Result<Self> {
        let w = linear.weight.val(); // [d, C]
        let [d, c] = w.dims();
        let wt = util::to_host_f32(w.transpose())?; // [C, d]
        let b = match &linear.bias {
            Some(b) => util::to_host_f32(b.val())?,
            None => vec![0.0; c],
        };
        Self::new(wt, b, [c, d])
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
        let shape = head_shape(&w.shape, w.path())?;
        Self::new(w.to_f32(), b.to_f32(), shape)
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
        let bytes = crate::io::read(path)?;
        Self::from_safetensors_bytes(&bytes, path, weight, bias)
    }

    /// A head from safetensors bytes in memory (`path` names them in
    /// errors), with tensors `weight` and `bias`.
    ///
    /// # Errors
    /// As [`LinearHead::from_npy`], without the I/O errors.
    pub fn from_safetensors_bytes(bytes: &[u8], path: impl AsRef<Path>, weight: &str, bias: &str) -> Result<Self> {
        let path = path.as_ref();
        let st = crate::io::safetensors::read_safetensors(bytes, path)?;
        let (ws, w) = crate::io::safetensors::tensor_f32(&st, weight, path)?;
        let (_, b) = crate::io::safetensors::tensor_f32(&st, bias, path)?;
        Self::new(w, b, head_shape(&ws, path)?)
    }

    /// Number of classes `C` (2 for a sigmoid head).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Embedding dimension `d`.
    pub fn embedding_dim(&self) -> usize {
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

/// `[C, d]` from a stored weight's shape: `[d]` is a sigmoid head `[1, d]`.
fn head_shape(shape: &[usize], path: &Path) -> Result<[usize; 2]> {
    match *shape {
        [d] => Ok([1, d]),
        [c, d] => Ok([c, d]),
        _ => Err(LelpError::corrupted(
            path,
            format!("head weight has shape {shape:?}; expected [C, d] or [d]"),
        )),
    }
}

/// A teacher's outputs on a batch or a data set, with the head used.
///
/// # Shapes
/// - `embeddings`: `[N, d]`
/// - `logits`: `[N, C]`
#[derive(Debug, Clone)]
pub struct TeacherOutput {
    embeddings: Tensor<2>,
    logits: Tensor<2>,
    head: Option<LinearHead>,
}

impl TeacherOutput {
    /// Builds an output, mapping 1-column (sigmoid) logits to `[0, z]` and
    /// checking that the row counts agree.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the row counts differ,
    /// [`LelpError::EmptyData`] for zero classes.
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
        if c == 0 {
            return Err(LelpError::EmptyData { what: "teacher logits" });
        }
        let logits = if c == 1 {
            Tensor::cat(vec![logits.zeros_like(), logits], 1)
        } else {
            logits
        };
        Ok(Self {
            embeddings,
            logits,
            head: None,
        })
    }

    /// Attaches the linear head that produced the logits (LELP's
    /// null-space projection reads it).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the head's shape does not
    /// match the embeddings and logits.
    pub fn with_head(mut self, head: LinearHead) -> Result<Self> {
        if head.embedding_dim() != self.embedding_dim() {
            return Err(LelpError::DimensionMismatch {
                what: "head input width vs embedding width",
                expected: self.embedding_dim(),
                got: head.embedding_dim(),
            });
        }
        if head.num_classes() != self.num_classes() {
            return Err(LelpError::DimensionMismatch {
                what: "head classes vs logit width",
                expected: self.num_classes(),
                got: head.num_classes(),
            });
        }
        self.head = Some(head);
        Ok(self)
    }

    /// Final-layer embeddings `h`, `[N, d]`.
    pub fn embeddings(&self) -> &Tensor<2> {
        &self.embeddings
    }
    /// Class logits `z`, `[N, C]` (a 1-logit teacher's `[N, 1]` has been
    /// mapped to `[0, z]`).
    pub fn logits(&self) -> &Tensor<2> {
        &self.logits
    }
    /// The linear head, when known.
    pub fn head(&self) -> Option<&LinearHead> {
        self.head.as_ref()
    }
    /// Number of rows `N`.
    pub fn len(&self) -> usize {
        self.embeddings.dims()[0]
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Embedding dimension `d`.
    pub fn embedding_dim(&self) -> usize {
        self.embeddings.dims()[1]
    }
    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.logits.dims()[1]
    }
    /// The teacher's predicted class per row (argmax of the logits).
    ///
    /// # Errors
    /// [`LelpError::Backend`] when the logits cannot be read back.
    pub fn predictions(&self) -> Result<Vec<usize>> {
        util::argmax_rows(&self.logits)
    }
    /// Checks that embeddings and logits are finite.
    ///
    /// # Errors
    /// [`LelpError::NonFinite`] naming the first bad entry.
    pub fn check_finite(&self) -> Result<()> {
        util::check_finite(&self.embeddings, "teacher embeddings", 0)?;
        util::check_finite(&self.logits, "teacher logits", 0)
    }
}

/// A frozen teacher: embeddings and logits for a batch of inputs.
///
/// # Shapes
/// - input: [`Inputs`] (`[N, F]` dense features, or token ids)
/// - output: [`TeacherOutput`] with `[N, d]` embeddings and `[N, C]` logits
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Inputs;
/// use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder};
/// let device = Device::default();
/// // a teacher over 3-dim precomputed embeddings with a 2-class head
/// let head = LinearHead::new(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], vec![0.0, 0.0], [2, 3])?;
/// let teacher = PrecomputedTeacher::new(head);
/// let h = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &device);
/// let out = teacher.forward(Inputs::Dense(h))?;
/// assert_eq!(out.logits().dims(), [2, 2]);
/// assert_eq!(teacher.head().unwrap().num_classes(), 2);
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub trait TeacherEncoder {
    /// Number of classes `C` (2 for a sigmoid teacher).
    fn num_classes(&self) -> usize;
    /// Embedding dimension `d`.
    fn embedding_dim(&self) -> usize;
    /// Embeddings and logits for a batch (detached: the teacher is frozen).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] for inputs of the wrong width,
    /// [`LelpError::InputKind`] for inputs of the wrong kind.
    fn forward(&self, inputs: Inputs) -> Result<TeacherOutput>;
    /// The linear head `(W, b)`, when the teacher has one.
    fn head(&self) -> Option<LinearHead>;

    /// Runs the teacher over every row of `data` in batches of
    /// `batch_size` on `device` and concatenates the results, with the
    /// head attached: the frozen teacher's outputs, computed once.
    ///
    /// # Errors
    /// As [`TeacherEncoder::forward`]; [`LelpError::NonFinite`] when the
    /// teacher produced NaN/inf.
    fn encode(&self, data: &Dataset, batch_size: usize, device: &Device) -> Result<TeacherOutput> {
        let n = data.len();
        let bs = batch_size.max(1);
        let mut embs = Vec::new();
        let mut logits = Vec::new();
        let rows: Vec<usize> = (0..n).collect();
        for chunk in rows.chunks(bs) {
            let out = self.forward(data.inputs(chunk, device)?)?;
            embs.push(out.embeddings.detach());
            logits.push(out.logits.detach());
        }
        let mut out = TeacherOutput::new(Tensor::cat(embs, 0), Tensor::cat(logits, 0))?;
        out.check_finite()?;
        if let Some(h) = self.head() {
            out = out.with_head(h)?;
        }
        Ok(out)
    }
}

/// A teacher over precomputed embeddings: its inputs are the embeddings
/// `h` themselves (`[N, d]` dense rows), and it applies its linear head.
///
/// This is how a user hands over a Python teacher: save the embeddings of
/// the transfer set and the head's `weight`/`bias` with numpy or
/// safetensors, then load them here.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Dataset;
/// use lelp::io::npy;
/// use lelp::teacher::{PrecomputedTeacher, TeacherEncoder};
/// let dir = std::env::temp_dir().join(format!("lelp-doc-teacher-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// // what `np.save` of a 2-class head over 3-dim embeddings writes
/// npy::write_f32(dir.join("head_w.npy"), &[2, 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])?;
/// npy::write_f32(dir.join("head_b.npy"), &[2], &[0.0, 0.5])?;
/// let teacher = PrecomputedTeacher::from_npy(dir.join("head_w.npy"), dir.join("head_b.npy"))?;
/// // the embeddings are the data set's features
/// let emb = Dataset::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, vec![1, 1], 2)?;
/// let out = teacher.encode(&emb, 64, &Device::default())?;
/// let z: Vec<f32> = out.logits().clone().into_data().try_to_vec().unwrap();
/// assert_eq!(z, vec![1.0, 2.5, 4.0, 5.5]);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), lelp::LelpError>(())
/// ```
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
        self.head.embedding_dim()
    }
    fn forward(&self, inputs: Inputs) -> Result<TeacherOutput> {
        let h = inputs.into_dense(Some(self.head.embedding_dim()))?;
        let logits = self.head.logits(h.clone())?;
        TeacherOutput::new(h, logits)?.with_head(self.head.clone())
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

/// A burn module usable as a teacher: an encoder to the final-layer
/// embedding and a linear classification head.
///
/// Implement it for your module and wrap it in [`ModuleTeacher`]; the
/// number of classes, the embedding width and the head (for the
/// null-space projection) are read off the `nn::Linear`.
pub trait TeacherModule: Module {
    /// The final-layer embedding `h` (`[N, d]`) of a batch.
    ///
    /// # Errors
    /// [`LelpError::InputKind`] / [`LelpError::DimensionMismatch`] for
    /// inputs the module does not take.
    fn embed(&self, inputs: Inputs) -> Result<Tensor<2>>;
    /// The classification head `z = h W + b` (burn's `[d, C]` layout).
    fn classifier(&self) -> &Linear;
}

/// Adapts a burn module implementing [`TeacherModule`] into a
/// [`TeacherEncoder`]. Its outputs are detached (the teacher is frozen).
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use burn::nn::{Linear, LinearConfig};
/// use lelp::data::Inputs;
/// use lelp::teacher::{ModuleTeacher, TeacherEncoder, TeacherModule};
///
/// #[derive(Module, Debug)]
/// struct Net {
///     body: Linear,
///     head: Linear,
/// }
///
/// impl TeacherModule for Net {
///     fn embed(&self, inputs: Inputs) -> lelp::Result<Tensor<2>> {
///         Ok(self.body.forward(inputs.into_dense(Some(4))?))
///     }
///     fn classifier(&self) -> &Linear {
///         &self.head
///     }
/// }
///
/// let device = Device::default();
/// let net = Net { body: LinearConfig::new(4, 8).init(&device), head: LinearConfig::new(8, 3).init(&device) };
/// let teacher = ModuleTeacher::new(net)?;
/// assert_eq!((teacher.num_classes(), teacher.embedding_dim()), (3, 8));
/// let out = teacher.forward(Inputs::Dense(Tensor::zeros([5, 4], &device)))?;
/// assert_eq!(out.logits().dims(), [5, 3]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModuleTeacher<M> {
    module: M,
    head: LinearHead,
}

impl<M: TeacherModule> ModuleTeacher<M> {
    /// Wraps `module`, reading its head once.
    ///
    /// # Errors
    /// [`LelpError::Backend`] when the head cannot be read back;
    /// [`LelpError::NonFinite`] for NaN/inf head weights.
    pub fn new(module: M) -> Result<Self> {
        let head = LinearHead::from_linear(module.classifier())?;
        Ok(Self { module, head })
    }

    /// The wrapped module.
    pub fn module(&self) -> &M {
        &self.module
    }
}

impl<M: TeacherModule> TeacherEncoder for ModuleTeacher<M> {
    fn num_classes(&self) -> usize {
        self.head.num_classes()
    }
    fn embedding_dim(&self) -> usize {
        self.head.embedding_dim()
    }
    fn forward(&self, inputs: Inputs) -> Result<TeacherOutput> {
        let h = self.module.embed(inputs)?.detach();
        let [_, d] = h.dims();
        if d != self.head.embedding_dim() {
            return Err(LelpError::DimensionMismatch {
                what: "module embedding width vs head input width",
                expected: self.head.embedding_dim(),
                got: d,
            });
        }
        let z = self.module.classifier().forward(h.clone()).detach();
        TeacherOutput::new(h, z)?.with_head(self.head.clone())
    }
    fn head(&self) -> Option<LinearHead> {
        Some(self.head.clone())
    }
}
