//! A transformer student over token ids: a BERT encoder (pretrained, the
//! bottom layers of the teacher, or random), pooling, dropout and a
//! linear head with `C` or `C * S` outputs, trained end to end by the
//! [`Distiller`](crate::train::Distiller) like any [`Student`].

use burn::nn::Linear;
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::bert::Bert;
use crate::data::Inputs;
use crate::error::{LelpError, Result};
use crate::train::{Student, StudentOutput};

/// How a transformer student turns its last hidden state into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The mean over the attention mask (sentence-transformers').
    #[default]
    Mean,
    /// The first token (`[CLS]`, BERT's classifier input).
    First,
}

/// Configuration of a [`TransformerStudent`]: its head and pooling; the
/// encoder is given to [`TransformerStudentConfig::init`].
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::{Inputs, TokenBatch};
/// use lelp::text::{Bert, BertConfig, TransformerStudentConfig};
/// use lelp::train::Student;
/// let device = Device::default();
/// let config = BertConfig {
///     vocab_size: 50, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2,
///     intermediate_size: 16, max_position_embeddings: 16, type_vocab_size: 2,
///     layer_norm_eps: 1e-12, hidden_act: "gelu".into(),
/// };
/// let bert = Bert::random(&config, 7, &device)?;
/// let student = TransformerStudentConfig::new(6).init(bert, &device)?;
/// let batch = TokenBatch::from_sequences(&[&[2, 5, 9, 3], &[2, 3]], 16, &device)?;
/// let out = student.forward(Inputs::Tokens(batch))?;
/// assert_eq!((out.logits.dims(), out.embedding.dims()), ([2, 6], [2, 8]));
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerStudentConfig {
    /// Outputs `K` (`C`, or `C * S` for the subclass methods).
    pub outputs: usize,
    /// Pooling (default: the mean over the mask).
    pub pooling: Pooling,
    /// Dropout on the pooled vector in training (BERT's classifier
    /// dropout, default 0.1).
    pub dropout: f64,
    /// Dropout inside the encoder in training (BERT's hidden and
    /// attention dropout, default 0.1; see [`Bert::with_dropout`]).
    #[serde(default = "bert_dropout")]
    pub encoder_dropout: f64,
    /// Seed of the head's initialisation.
    pub seed: u64,
}

impl TransformerStudentConfig {
    /// `outputs` outputs, mean pooling, dropout 0.1 (head and encoder),
    /// seed 0.
    pub fn new(outputs: usize) -> Self {
        Self {
            outputs,
            pooling: Pooling::Mean,
            dropout: 0.1,
            encoder_dropout: 0.1,
            seed: 0,
        }
    }

    /// A student over `bert` (moved to `device`): a pretrained
    /// checkpoint (`SentenceEncoder::from_dir(dir)?.bert().clone()`), the
    /// teacher's bottom layers ([`Bert::truncated`]), or [`Bert::random`].
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for zero outputs or either dropout
    /// outside `[0, 1)`.
    pub fn init(&self, bert: Bert, device: &Device) -> Result<TransformerStudent> {
        if self.outputs == 0 {
            return Err(LelpError::InvalidParameter {
                name: "outputs",
                value: "0".into(),
                reason: "must be > 0",
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LelpError::InvalidParameter {
                name: "dropout",
                value: self.dropout.to_string(),
                reason: "must be in [0, 1)",
            });
        }
        if !(0.0..1.0).contains(&self.encoder_dropout) {
            return Err(LelpError::InvalidParameter {
                name: "encoder_dropout",
                value: self.encoder_dropout.to_string(),
                reason: "must be in [0, 1)",
            });
        }
        let bert = bert.with_dropout(self.encoder_dropout)?;
        let width = bert.hidden_size();
        let mut rng = StdRng::seed_from_u64(self.seed);
        Ok(TransformerStudent {
            bert: bert.to_device(device),
            head: crate::train::seeded_linear(width, self.outputs, &mut rng, device),
            dropout: self.dropout,
            first_token: self.pooling == Pooling::First,
            outputs: self.outputs,
            width,
        })
    }
}

/// BERT's dropout probability (its configs' 0.1).
fn bert_dropout() -> f64 {
    0.1
}

crate::util::setters!(TransformerStudentConfig {
    "Sets the pooling." with_pooling => pooling: Pooling,
    "Sets the classifier dropout." with_dropout => dropout: f64,
    "Sets the encoder's dropout." with_encoder_dropout => encoder_dropout: f64,
    "Sets the head's seed." with_seed => seed: u64,
});

/// A BERT encoder with pooling and a linear head, over token ids (see
/// [`TransformerStudentConfig`]). Its embedding, for feature KD, is the
/// pooled vector.
#[derive(Module, Debug)]
pub struct TransformerStudent {
    bert: Bert,
    head: Linear,
    dropout: f64,
    first_token: bool,
    outputs: usize,
    width: usize,
}

impl TransformerStudent {
    /// The encoder.
    pub fn bert(&self) -> &Bert {
        &self.bert
    }

    /// The pooling.
    pub fn pooling(&self) -> Pooling {
        if self.first_token {
            Pooling::First
        } else {
            Pooling::Mean
        }
    }

    /// The linear head (pooled vector to the `K` outputs).
    pub(crate) fn head(&self) -> &Linear {
        &self.head
    }

    fn pooled(&self, inputs: Inputs) -> Result<Tensor<2>> {
        let batch = inputs.into_tokens()?;
        crate::train::check_ids(
            &batch.ids,
            self.bert.vocab_size(),
            "token ids vs the encoder's vocabulary",
        )?;
        let b = batch.ids.dims()[0];
        let hidden = self.bert.forward(batch.ids, batch.mask.clone())?; // [B, L, d]
        let d = self.width;
        if self.first_token {
            return Ok(hidden.narrow(1, 0, 1).reshape([b, d]));
        }
        Ok(super::mean_pool(hidden, batch.mask))
    }
}

impl Student for TransformerStudent {
    fn forward(&self, inputs: Inputs) -> Result<StudentOutput> {
        let h = self.pooled(inputs)?;
        Ok(StudentOutput {
            logits: self.head.forward(crate::train::dropout(h.clone(), self.dropout)),
            embedding: h,
        })
    }
    fn num_outputs(&self) -> usize {
        self.outputs
    }
    fn embedding_dim(&self) -> usize {
        self.width
    }
    /// The encoder's word-piece embeddings (30,522 x 384 for MiniLM: two
    /// thirds of the L3's parameters, a few hundred rows read a batch).
    fn embedding_tables(&self) -> Vec<String> {
        vec!["bert.word.weight".into()]
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::TransformerStudentConfig;
    use crate::data::Dataset;
    use crate::text::{Bert, BertConfig};
    use crate::train::{DistillConfig, Distiller, Method, OptimizerKind};

    /// Rows 10.. of the word table after one epoch of AdamW (decay 0.1)
    /// on texts that read ids 1..8 only, and the same rows before.
    fn unread_rows(lazy: bool) -> (Vec<f32>, Vec<f32>) {
        let device = Device::default();
        let config = BertConfig {
            vocab_size: 16,
            hidden_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            intermediate_size: 16,
            max_position_embeddings: 16,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        };
        let bert = Bert::random(&config, 7, &device).unwrap();
        let rows = |t: Tensor<2>| -> Vec<f32> { t.slice([10..16, 0..8]).into_data().try_to_vec().unwrap() };
        let before = rows(bert.word_table());
        let seqs: Vec<Vec<u32>> = (0..8u32).map(|i| vec![1, 2 + i % 6, 7]).collect();
        let data = Dataset::from_tokens(seqs, (0..8).map(|i| i % 2).collect(), 2).unwrap();
        let targets = Method::Plain.prepare(&data, None).unwrap();
        let student = TransformerStudentConfig::new(2).init(bert, &device).unwrap();
        let cfg = DistillConfig::new(1, 0.1)
            .with_batch_size(4)
            .with_optimizer(OptimizerKind::AdamW)
            .with_weight_decay(0.1)
            .with_lazy_tables(lazy);
        let trained = Distiller::new(cfg)
            .fit(student, &data, &targets, None, &device)
            .unwrap();
        (before, rows(trained.student.bert.word_table()))
    }

    #[test]
    fn lazy_tables_reach_the_word_piece_table() {
        // dense AdamW decays every row; lazy AdamW leaves unread rows alone,
        // which only happens if `embedding_tables` names the table's path
        let (before, dense) = unread_rows(false);
        assert_ne!(before, dense);
        let (before, lazy) = unread_rows(true);
        assert_eq!(before, lazy);
    }
}
