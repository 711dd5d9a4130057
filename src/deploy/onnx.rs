//! ONNX export of the token students (bag, static, CNN): the network from
//! token ids to probabilities as an ONNX graph (opset 13), written by a
//! small protobuf encoder of the few ONNX messages it needs (no protobuf
//! dependency). The featuriser stays outside the graph: the manifest (its
//! settings, the class names, the calibration) rides in the file's
//! metadata under `lelp.manifest`, and [`Classifier::token_ids`](super::Classifier::token_ids)
//! gives the ids the graph takes.
//!
//! The graph's inputs are `ids` (int64, `[batch, tokens]`, padded with any
//! valid id) and `mask` (float32, `[batch, tokens]`, 1 for a real token, 0
//! for padding); its outputs `logits` (float32, `[batch, C * S]`, the
//! student's raw outputs) and `probabilities` (float32, `[batch, C]`, what
//! [`Classifier::predict`](super::Classifier::predict) returns, the
//! calibration's temperature included). The featuriser never gives an
//! empty sequence (a hashed text without words is `[0]`; WordPiece adds
//! `[CLS]` and `[SEP]`); a row of padding alone gets a zero mean (bag) or
//! zero features (CNN).

use super::manifest::{Featurizer, Quantization};
use super::model_file::{ModelFile, int8_rows};
use super::net::Dense;
use crate::error::{LelpError, Result};

/// ONNX's tensor element types used here.
const FLOAT: i64 = 1;
const INT8: i64 = 3;
const INT64: i64 = 7;
const FLOAT16: i64 = 10;
/// The operator set the graph is written for, and the IR version that goes
/// with it.
const OPSET: i64 = 13;
const IR_VERSION: i64 = 7;

/// A protobuf message under construction (wire format: varints and
/// length-delimited fields, all ONNX's messages need).
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u64, wire: u64) {
        self.varint((field << 3) | wire);
    }
    fn int(&mut self, field: u64, v: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    fn bytes(&mut self, field: u64, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn string(&mut self, field: u64, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn message(&mut self, field: u64, m: &Pb) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

/// A node attribute.
enum Attr {
    Int(&'static str, i64),
    Ints(&'static str, Vec<i64>),
}

impl Attr {
    /// AttributeProto: name 1, i 3, ints 8, type 20 (INT 2, INTS 7).
    fn proto(&self) -> Pb {
        let mut a = Pb::default();
        match self {
            Attr::Int(name, v) => {
                a.string(1, name).int(3, *v).int(20, 2);
            }
            Attr::Ints(name, vs) => {
                a.string(1, name);
                for &v in vs {
                    a.int(8, v);
                }
                a.int(20, 7);
            }
        }
        a
    }
}

/// A TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian).
fn tensor(name: &str, dims: &[usize], data_type: i64, raw: &[u8]) -> Pb {
    let mut t = Pb::default();
    for &d in dims {
        t.int(1, d as i64);
    }
    t.int(2, data_type).string(8, name).bytes(9, raw);
    t
}

/// A ValueInfoProto of a tensor whose dimensions are named (`batch`) or
/// fixed.
fn value_info(name: &str, elem_type: i64, dims: &[Dim]) -> Pb {
    let mut shape = Pb::default();
    for d in dims {
        let mut dim = Pb::default();
        match d {
            Dim::Named(n) => dim.string(2, n),
            Dim::Fixed(v) => dim.int(1, *v as i64),
        };
        shape.message(1, &dim);
    }
    let mut tensor_type = Pb::default();
    tensor_type.int(1, elem_type).message(2, &shape);
    let mut ty = Pb::default();
    ty.message(1, &tensor_type);
    let mut v = Pb::default();
    v.string(1, name).message(2, &ty);
    v
}

enum Dim {
    Named(&'static str),
    Fixed(usize),
}

/// The graph under construction: nodes in topological order, initialisers,
/// and a counter for fresh value names.
#[derive(Default)]
struct Graph {
    nodes: Vec<Pb>,
    initializers: Vec<Pb>,
    fresh: usize,
}

impl Graph {
    /// Adds a node whose single output is named `out` (a fresh name when
    /// `None`) and returns that name.
    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: &[Attr], out: Option<&str>) -> String {
        let out = match out {
            Some(o) => o.to_string(),
            None => {
                self.fresh += 1;
                format!("{}_{}", op.to_lowercase(), self.fresh)
            }
        };
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
        let mut n = Pb::default();
        for i in inputs {
            n.string(1, i);
        }
        n.string(2, &out).string(3, &out).string(4, op);
        for a in attrs {
            n.message(5, &a.proto());
        }
        self.nodes.push(n);
        out
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[Attr]) -> String {
        self.node_to(op, inputs, attrs, None)
    }

    fn init_f32(&mut self, name: &str, dims: &[usize], v: &[f32]) -> String {
        let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.initializers.push(tensor(name, dims, FLOAT, &raw));
        name.to_string()
    }

    fn init_i64(&mut self, name: &str, v: &[i64]) -> String {
        let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.initializers.push(tensor(name, &[v.len()], INT64, &raw));
        name.to_string()
    }

    /// `x W + b`, named `out` when given.
    fn dense(&mut self, x: &str, d: &Dense, name: &str, out: Option<&str>) -> String {
        let (w, b) = d.parts();
        let w = self.init_f32(&format!("{name}.weight"), &[d.d_in(), d.d_out()], w);
        let b = self.init_f32(&format!("{name}.bias"), &[d.d_out()], b);
        let xw = self.node("MatMul", &[x, &w], &[]);
        self.node_to("Add", &[&xw, &b], &[], out)
    }

    /// The embedding rows of `ids` as float32 `[batch, tokens, dim]`, from
    /// the table stored as the model file stores it.
    fn embedding(&mut self, table: &[f32], dim: usize, q: Option<Quantization>) -> String {
        let rows = table.len() / dim.max(1);
        match q {
            None => {
                let t = self.init_f32("embed.weight", &[rows, dim], table);
                self.node("Gather", &[&t, "ids"], &[Attr::Int("axis", 0)])
            }
            Some(Quantization::F16) => {
                let raw: Vec<u8> = table
                    .iter()
                    .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                    .collect();
                self.initializers
                    .push(tensor("embed.weight", &[rows, dim], FLOAT16, &raw));
                let g = self.node("Gather", &["embed.weight", "ids"], &[Attr::Int("axis", 0)]);
                self.node("Cast", &[&g], &[Attr::Int("to", FLOAT)])
            }
            Some(Quantization::Int8) => {
                let (codes, scales) = int8_rows(table, dim);
                let raw: Vec<u8> = codes.iter().map(|&c| c as u8).collect();
                self.initializers.push(tensor("embed.weight", &[rows, dim], INT8, &raw));
                let s = self.init_f32("embed.weight.int8_scale", &[rows, 1], &scales);
                let g = self.node("Gather", &["embed.weight", "ids"], &[Attr::Int("axis", 0)]);
                let f = self.node("Cast", &[&g], &[Attr::Int("to", FLOAT)]);
                let gs = self.node("Gather", &[&s, "ids"], &[Attr::Int("axis", 0)]);
                self.node("Mul", &[&f, &gs], &[])
            }
        }
    }
}

/// Why a model cannot be exported, or `None` when it can.
fn refusal(model: &ModelFile) -> Option<&'static str> {
    match (&model.manifest.featurizer, model.network.embedding_table()) {
        (Featurizer::SentenceEncoder { .. }, _) | (_, None) => Some(
            "ONNX export covers the token students (bag, static, cnn); an MLP or transformer student \
             runs a BERT encoder, which Hugging Face's own exporters (optimum) write",
        ),
        _ => None,
    }
}

impl ModelFile {
    /// The student as an ONNX model (opset 13): from token ids and their
    /// mask to logits and class probabilities, the calibration's
    /// temperature included; the manifest in its metadata
    /// (`lelp.manifest`). An int8 or float16 model keeps its table so
    /// (int8 codes with a float32 scale a row; float16), cast to float32
    /// in the graph. Deterministic: the same model gives the same bytes.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a student the graph cannot
    /// express (an MLP over sentence embeddings, a transformer student, a
    /// multi-label student).
    ///
    /// ```
    /// use lelp::data::HashedNgrams;
    /// use lelp::deploy::{Featurizer, ModelFile};
    /// use lelp::train::BagConfig;
    /// let bag = BagConfig::new(1024, 2).with_dim(8).init(&burn::prelude::Device::default())?;
    /// let model = ModelFile::new(&bag, Featurizer::hashed(&HashedNgrams::new(1024)), vec!["a".into(), "b".into()])?;
    /// let onnx = model.to_onnx()?;
    /// assert!(onnx.len() > 1024 * 8 * 4); // the table, in float32
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn to_onnx(&self) -> Result<Vec<u8>> {
        if let Some(reason) = refusal(self) {
            return Err(LelpError::InvalidParameter {
                name: "export --onnx",
                value: format!("a {} student", self.network.architecture().name()),
                reason,
            });
        }
        if self.manifest.multi_label.is_some() {
            return Err(LelpError::InvalidParameter {
                name: "export --onnx",
                value: "a multi-label student".into(),
                reason: "the graph ends in a softmax over the classes; a multi-label student's sigmoids are not \
                         exported yet",
            });
        }
        // protobuf messages stop at 2 GiB (ONNX keeps larger tensors in
        // external files, which this export does not write)
        if self.network.num_params() > (1 << 31) / 4 - (1 << 20) {
            return Err(LelpError::InvalidParameter {
                name: "export --onnx",
                value: format!("{} parameters", self.network.num_params()),
                reason: "over ONNX's 2 GiB protobuf limit for one file",
            });
        }
        let classes = self.manifest.class_names.len();
        let outputs = self.network.architecture().outputs();
        let mut g = Graph::default();
        let logits = self.network.onnx_logits(&mut Ops(&mut g), self.manifest.quantization);
        // the calibration, then the class logit (logsumexp over each class's
        // S outputs) and the softmax over the classes
        let t = self.manifest.calibration.as_ref().map_or(1.0, |c| c.temperature as f32);
        let scaled = if t == 1.0 {
            logits
        } else {
            let tt = g.init_f32("temperature", &[], &[t]);
            g.node("Div", &[&logits, &tt], &[])
        };
        let shape = g.init_i64("class_shape", &[0, classes as i64, (outputs / classes.max(1)) as i64]);
        let r = g.node("Reshape", &[&scaled, &shape], &[]);
        let lse = g.node(
            "ReduceLogSumExp",
            &[&r],
            &[Attr::Ints("axes", vec![2]), Attr::Int("keepdims", 0)],
        );
        g.node_to("Softmax", &[&lse], &[Attr::Int("axis", 1)], Some("probabilities"));

        // GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12
        let mut graph = Pb::default();
        for n in &g.nodes {
            graph.message(1, n);
        }
        graph.string(2, "lelp");
        for i in &g.initializers {
            graph.message(5, i);
        }
        let tokens = [Dim::Named("batch"), Dim::Named("tokens")];
        graph
            .message(11, &value_info("ids", INT64, &tokens))
            .message(11, &value_info("mask", FLOAT, &tokens))
            .message(
                12,
                &value_info("logits", FLOAT, &[Dim::Named("batch"), Dim::Fixed(outputs)]),
            )
            .message(
                12,
                &value_info("probabilities", FLOAT, &[Dim::Named("batch"), Dim::Fixed(classes)]),
            );

        // ModelProto: ir_version 1, producer_name 2, producer_version 3,
        // doc_string 6, graph 7, opset_import 8, metadata_props 14
        let manifest = serde_json::to_string(&self.manifest).map_err(|e| LelpError::InvalidParameter {
            name: "export --onnx",
            value: "manifest".into(),
            reason: if e.is_io() {
                "I/O"
            } else {
                "the manifest does not serialise"
            },
        })?;
        let mut opset = Pb::default();
        opset.string(1, "").int(2, OPSET);
        let mut meta = Pb::default();
        meta.string(1, "lelp.manifest").string(2, &manifest);
        let mut m = Pb::default();
        // no producer version: the manifest records the crate that wrote
        // the model, and the same model exports to the same bytes
        m.int(1, IR_VERSION)
            .string(2, "lelp")
            .string(
                6,
                "A lelp student: ids (int64 [batch, tokens]) and mask (float32, 1 for a token, 0 for padding) \
                 to logits and probabilities; the featuriser's settings are in the metadata (lelp.manifest).",
            )
            .message(7, &graph)
            .message(8, &opset)
            .message(14, &meta);
        Ok(m.0)
    }
}

/// The graphs of the students' bodies, which the network writes with its
/// weights (`Network::onnx_logits`).
pub(crate) struct Ops<'a>(&'a mut Graph);

impl Ops<'_> {
    /// The bag students' graph: the masked mean of the token rows, the
    /// optional L2 normalisation and ReLU hidden layer, the head.
    pub(crate) fn bag(
        &mut self,
        table: (&[f32], usize),
        q: Option<Quantization>,
        normalize: bool,
        hidden: Option<&Dense>,
        head: &Dense,
    ) -> String {
        let g = &mut *self.0;
        let e = g.embedding(table.0, table.1, q);
        let ax1 = g.init_i64("axes_1", &[1]);
        let ax2 = g.init_i64("axes_2", &[2]);
        let one = g.init_f32("one", &[], &[1.0]);
        let m3 = g.node("Unsqueeze", &["mask", &ax2], &[]);
        let em = g.node("Mul", &[&e, &m3], &[]);
        let sum = g.node("ReduceSum", &[&em, &ax1], &[Attr::Int("keepdims", 0)]);
        let count = g.node("ReduceSum", &["mask", &ax1], &[Attr::Int("keepdims", 1)]);
        let n = g.node("Max", &[&count, &one], &[]);
        let mut x = g.node("Div", &[&sum, &n], &[]);
        if normalize {
            let eps = g.init_f32("eps", &[], &[1e-12]);
            let sq = g.node("Mul", &[&x, &x], &[]);
            let ss = g.node("ReduceSum", &[&sq, &ax1], &[Attr::Int("keepdims", 1)]);
            let norm = g.node("Sqrt", &[&ss], &[]);
            let norm = g.node("Max", &[&norm, &eps], &[]);
            x = g.node("Div", &[&x, &norm], &[]);
        }
        if let Some(h) = hidden {
            let z = g.dense(&x, h, "hidden", None);
            x = g.node("Relu", &[&z], &[]);
        }
        g.dense(&x, head, "head", Some("logits"))
    }

    /// The CNN students' graph: the token rows with padding zeroed (the
    /// host's zero padding), a same-length 1-D convolution, ReLU, the max
    /// over the real positions, the head.
    pub(crate) fn cnn(
        &mut self,
        table: (&[f32], usize),
        q: Option<Quantization>,
        conv: (&[f32], &[f32], usize),
        head: &Dense,
    ) -> String {
        let g = &mut *self.0;
        let (w, b, k) = conv;
        let (dim, channels) = (table.1, b.len());
        let e = g.embedding(table.0, table.1, q);
        let ax1 = g.init_i64("axes_1", &[1]);
        let ax2 = g.init_i64("axes_2", &[2]);
        let m3 = g.node("Unsqueeze", &["mask", &ax2], &[]);
        let em = g.node("Mul", &[&e, &m3], &[]);
        let x = g.node("Transpose", &[&em], &[Attr::Ints("perm", vec![0, 2, 1])]);
        let w = g.init_f32("conv.weight", &[channels, dim, k], w);
        let b = g.init_f32("conv.bias", &[channels], b);
        let pad = ((k - 1) / 2) as i64;
        let y = g.node(
            "Conv",
            &[&x, &w, &b],
            &[
                Attr::Ints("kernel_shape", vec![k as i64]),
                Attr::Ints("pads", vec![pad, pad]),
            ],
        );
        let r = g.node("Relu", &[&y], &[]);
        // ReLU's outputs are >= 0, so zeroing the padded positions leaves
        // the max over the real ones
        let mc = g.node("Unsqueeze", &["mask", &ax1], &[]);
        let rm = g.node("Mul", &[&r, &mc], &[]);
        let pooled = g.node(
            "ReduceMax",
            &[&rm],
            &[Attr::Ints("axes", vec![2]), Attr::Int("keepdims", 0)],
        );
        g.dense(&pooled, head, "head", Some("logits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protobuf varints as the wire format specifies them (the examples of
    /// protobuf's encoding guide).
    #[test]
    fn varints_follow_the_wire_format() {
        let enc = |v: u64| {
            let mut p = Pb::default();
            p.varint(v);
            p.0
        };
        assert_eq!(enc(1), [0x01]);
        assert_eq!(enc(150), [0x96, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        // a negative int64 is ten bytes (two's complement as u64)
        assert_eq!(enc(-1i64 as u64).len(), 10);
        let mut p = Pb::default();
        p.int(1, 150);
        assert_eq!(p.0, [0x08, 0x96, 0x01]);
        let mut p = Pb::default();
        p.string(2, "testing");
        assert_eq!(p.0, [0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']);
    }
}
