//! BERT's uncased WordPiece tokenizer, as `tokenizer.json` defines it for
//! all-MiniLM-L6-v2: the BERT normaliser (clean text, space around CJK
//! ideographs, NFD accent stripping, lowercase), the BERT pre-tokeniser
//! (split on whitespace, isolate punctuation), greedy longest-match
//! WordPiece with the `##` prefix, and `[CLS] ... [SEP]`. Checked token for
//! token against the Python `tokenizers` library (tests/minilm.rs).

use std::collections::HashMap;
use std::path::Path;

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

use crate::error::{LelpError, Result};

/// Words longer than this many characters become `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

/// An uncased BERT WordPiece tokenizer.
///
/// # Example
/// ```
/// use lelp::text::WordPiece;
/// let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "!", "un", "##able"];
/// let tok = WordPiece::from_vocab(vocab.iter().map(|s| s.to_string()))?;
/// assert_eq!(tok.encode("Hello, WORLD! unable", 16), vec![2, 4, 1, 5, 6, 7, 8, 3]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    pad: u32,
}

impl WordPiece {
    /// A tokenizer over `vocab` (one token per line; the id is the line).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when `[UNK]`, `[CLS]`, `[SEP]` or
    /// `[PAD]` is missing.
    pub fn from_vocab(vocab: impl IntoIterator<Item = String>) -> Result<Self> {
        let vocab: HashMap<String, u32> = vocab.into_iter().enumerate().map(|(i, t)| (t, i as u32)).collect();
        Self::from_map(vocab)
    }

    fn from_map(vocab: HashMap<String, u32>) -> Result<Self> {
        let get = |t: &'static str| {
            vocab.get(t).copied().ok_or(LelpError::InvalidParameter {
                name: "vocab",
                value: t.to_string(),
                reason: "the vocabulary lacks this special token",
            })
        };
        Ok(Self {
            unk: get("[UNK]")?,
            cls: get("[CLS]")?,
            sep: get("[SEP]")?,
            pad: get("[PAD]")?,
            vocab,
        })
    }

    /// Reads the WordPiece vocabulary of a Hugging Face `tokenizer.json`
    /// (its `model.vocab`; the normaliser and pre-tokeniser are BERT's
    /// uncased ones, as for all-MiniLM-L6-v2).
    ///
    /// # Errors
    /// File errors; [`LelpError::Corrupted`] when the file is not a
    /// WordPiece `tokenizer.json`.
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| LelpError::io(path, e))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
        let model = v.get("model").ok_or_else(|| LelpError::corrupted(path, "no 'model'"))?;
        if model.get("type").and_then(|t| t.as_str()) != Some("WordPiece") {
            return Err(LelpError::corrupted(path, "not a WordPiece tokenizer"));
        }
        let vocab = model
            .get("vocab")
            .and_then(|v| v.as_object())
            .ok_or_else(|| LelpError::corrupted(path, "no 'model.vocab'"))?;
        let mut map = HashMap::with_capacity(vocab.len());
        for (token, id) in vocab {
            let id = id
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| LelpError::corrupted(path, format!("bad id for token '{token}'")))?;
            map.insert(token.clone(), id);
        }
        Self::from_map(map)
    }

    /// Vocabulary size (the largest id + 1).
    pub fn vocab_size(&self) -> usize {
        self.vocab.values().max().map_or(0, |&m| m as usize + 1)
    }

    /// The vocabulary in id order (ids without a token, if any, as empty
    /// strings): what [`WordPiece::from_vocab`] reads back.
    pub fn tokens(&self) -> Vec<String> {
        let n = self.vocab.values().map(|&i| i as usize + 1).max().unwrap_or(0);
        let mut out = vec![String::new(); n];
        for (t, &i) in &self.vocab {
            out[i as usize] = t.clone();
        }
        out
    }

    /// The padding id.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// `[CLS] pieces [SEP]`, the pieces truncated so the whole has at most
    /// `max_len` ids (at least the two special tokens).
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut ids = vec![self.cls];
        let room = max_len.max(2) - 2;
        'words: for word in pre_tokenize(&normalize(text)) {
            for id in self.word_pieces(&word) {
                if ids.len() > room {
                    break 'words;
                }
                ids.push(id);
            }
        }
        ids.push(self.sep);
        ids
    }

    /// Greedy longest-match WordPiece of one pre-token.
    fn word_pieces(&self, word: &str) -> Vec<u32> {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() > MAX_WORD_CHARS {
            return vec![self.unk];
        }
        let bounds: Vec<usize> = chars.iter().map(|&(i, _)| i).chain([word.len()]).collect();
        let mut out = Vec::new();
        let mut start = 0; // index into bounds
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let piece = &word[bounds[start]..bounds[end]];
                let key = if start > 0 {
                    format!("##{piece}")
                } else {
                    piece.to_string()
                };
                if let Some(&id) = self.vocab.get(&key) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => out.push(id),
                None => return vec![self.unk],
            }
            start = end;
        }
        out
    }
}

fn is_other(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Unassigned
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
    )
}

fn is_bert_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && is_other(c)
}

fn is_chinese(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            get_general_category(c),
            GeneralCategory::ConnectorPunctuation
                | GeneralCategory::DashPunctuation
                | GeneralCategory::ClosePunctuation
                | GeneralCategory::FinalPunctuation
                | GeneralCategory::InitialPunctuation
                | GeneralCategory::OtherPunctuation
                | GeneralCategory::OpenPunctuation
        )
}

/// The BERT normaliser: clean text, isolate CJK ideographs, strip accents
/// (NFD, drop non-spacing marks), lowercase.
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_bert_whitespace(c) {
            cleaned.push(' ');
        } else if is_chinese(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    cleaned
        .nfd()
        .filter(|&c| get_general_category(c) != GeneralCategory::NonspacingMark)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The BERT pre-tokeniser: split on whitespace, each punctuation character
/// its own token.
fn pre_tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if is_bert_whitespace(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else if is_punctuation(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
