//! BERT's WordPiece tokenizer, as `tokenizer.json` defines it for
//! all-MiniLM-L6-v2 and other BERT and DistilBERT checkpoints, cased or
//! uncased: the BERT normaliser (clean text, space around CJK ideographs,
//! NFD accent stripping and lowercasing as the file says), the BERT pre-tokeniser (split on whitespace, isolate
//! punctuation), greedy longest-match WordPiece with the file's
//! continuation prefix, word-length limit and unknown token, and the
//! file's `[CLS] ... [SEP]` template. Checked token for token against the
//! Python `tokenizers` library (tests/minilm.rs). A file that asks for
//! anything else is refused field by field
//! ([`LelpError::Unsupported`]), never tokenised differently.

use std::collections::HashMap;
use std::path::Path;

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

use crate::error::{LelpError, Result};

/// Words longer than this many characters become `[UNK]` (BERT's default).
const MAX_WORD_CHARS: usize = 100;

/// A BERT WordPiece tokenizer (uncased by default; see
/// [`WordPieceSettings::lowercase`]).
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
    /// The prefix of a word's non-initial pieces (`##`).
    prefix: String,
    /// Words longer than this many characters become the unknown token.
    max_word_chars: usize,
    /// Whether texts are lowercased (an uncased model).
    lowercase: bool,
    /// Whether accents are stripped (NFD, non-spacing marks dropped).
    strip_accents: bool,
    /// Tokens matched in the raw text before normalisation, longest
    /// first, with their ids.
    specials: Vec<(String, u32)>,
}

/// The special tokens' names and the WordPiece settings of a tokenizer
/// (what a model file records besides the vocabulary). The defaults are
/// BERT's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WordPieceSettings {
    /// The unknown token (`[UNK]`).
    pub unk: String,
    /// The token before a text (`[CLS]`).
    pub cls: String,
    /// The token after a text (`[SEP]`).
    pub sep: String,
    /// The padding token (`[PAD]`).
    pub pad: String,
    /// The prefix of a word's non-initial pieces (`##`).
    pub prefix: String,
    /// Words longer than this many characters become the unknown token (100).
    pub max_word_chars: usize,
    /// The tokens matched in the raw text before normalisation and kept
    /// whole, as Hugging Face's tokenizers match a `tokenizer.json`'s
    /// special `added_tokens` (a literal `[SEP]` in a text is the
    /// separator's id, not `[`, `sep`, `]`). `None` (the default, and
    /// what a model file written before 0.3.0 reads back as): the four
    /// tokens above and `[MASK]` where the vocabulary has it, as for a
    /// BERT `vocab.txt`.
    pub added_tokens: Option<Vec<String>>,
    /// Whether texts are lowercased before WordPiece (`true`: an uncased
    /// model, BERT's `do_lower_case`; `false`: a cased one).
    pub lowercase: bool,
    /// Whether accents are stripped (NFD, non-spacing marks dropped);
    /// Hugging Face's default follows `lowercase`.
    pub strip_accents: bool,
}

impl Default for WordPieceSettings {
    fn default() -> Self {
        Self {
            unk: "[UNK]".into(),
            cls: "[CLS]".into(),
            sep: "[SEP]".into(),
            pad: "[PAD]".into(),
            prefix: "##".into(),
            max_word_chars: MAX_WORD_CHARS,
            added_tokens: None,
            lowercase: true,
            strip_accents: true,
        }
    }
}

impl WordPiece {
    /// A tokenizer over `vocab` (one token per line; the id is the line).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when `[UNK]`, `[CLS]`, `[SEP]` or
    /// `[PAD]` is missing.
    pub fn from_vocab(vocab: impl IntoIterator<Item = String>) -> Result<Self> {
        let vocab: HashMap<String, u32> = vocab.into_iter().enumerate().map(|(i, t)| (t, i as u32)).collect();
        Self::from_map(vocab, &WordPieceSettings::default())
    }

    /// A tokenizer over `vocab` (one token per line; the id is the line)
    /// with these special tokens and WordPiece settings.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when a special token is missing
    /// from the vocabulary or the prefix is empty.
    pub fn from_vocab_with_settings(
        vocab: impl IntoIterator<Item = String>,
        settings: &WordPieceSettings,
    ) -> Result<Self> {
        if settings.prefix.is_empty() {
            return Err(LelpError::InvalidParameter {
                name: "prefix",
                value: String::new(),
                reason: "the continuation prefix must not be empty",
            });
        }
        let vocab: HashMap<String, u32> = vocab.into_iter().enumerate().map(|(i, t)| (t, i as u32)).collect();
        Self::from_map(vocab, settings)
    }

    /// The special tokens' names and the WordPiece settings.
    pub fn settings(&self) -> WordPieceSettings {
        let name = |id: u32| {
            self.vocab
                .iter()
                .filter(|&(_, &i)| i == id)
                .map(|(t, _)| t.clone())
                .min()
                .unwrap_or_default()
        };
        WordPieceSettings {
            unk: name(self.unk),
            cls: name(self.cls),
            sep: name(self.sep),
            pad: name(self.pad),
            prefix: self.prefix.clone(),
            max_word_chars: self.max_word_chars,
            added_tokens: Some(self.specials.iter().map(|(t, _)| t.clone()).collect()),
            lowercase: self.lowercase,
            strip_accents: self.strip_accents,
        }
    }

    fn from_map(vocab: HashMap<String, u32>, spec: &WordPieceSettings) -> Result<Self> {
        let get = |t: &str| {
            vocab.get(t).copied().ok_or_else(|| LelpError::InvalidParameter {
                name: "vocab",
                value: t.to_string(),
                reason: "the vocabulary lacks this special token",
            })
        };
        let names: Vec<String> = match &spec.added_tokens {
            Some(list) => list.clone(),
            None => [&spec.pad, &spec.unk, &spec.cls, &spec.sep]
                .into_iter()
                .cloned()
                .chain(vocab.contains_key("[MASK]").then(|| "[MASK]".to_string()))
                .collect(),
        };
        let mut specials = names
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| Ok((t.clone(), get(t)?)))
            .collect::<Result<Vec<_>>>()?;
        // longest first: a match takes the longest token that starts there
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        specials.dedup();
        Ok(Self {
            unk: get(&spec.unk)?,
            cls: get(&spec.cls)?,
            sep: get(&spec.sep)?,
            pad: get(&spec.pad)?,
            prefix: spec.prefix.to_string(),
            max_word_chars: spec.max_word_chars,
            lowercase: spec.lowercase,
            strip_accents: spec.strip_accents,
            specials,
            vocab,
        })
    }

    /// Reads a Hugging Face `tokenizer.json` and checks that this crate
    /// tokenises exactly as it says: a `BertNormalizer` that cleans text
    /// and isolates CJK ideographs (lowercasing and stripping accents as
    /// it says: cased and uncased models); a
    /// `BertPreTokenizer`; a `WordPiece` model (its vocabulary,
    /// `continuing_subword_prefix`, `max_input_chars_per_word` and
    /// `unk_token` are used as given); a post-processor that wraps a text
    /// as `CLS text SEP` (`TemplateProcessing` or `BertProcessing`; the
    /// token names are the file's); no added tokens other than special
    /// ones.
    ///
    /// # Errors
    /// File errors; [`LelpError::Corrupted`] when the file is not a
    /// `tokenizer.json`; [`LelpError::Unsupported`] naming the
    /// first field whose value the crate cannot reproduce (a SentencePiece
    /// or BPE model, another pre-tokeniser, ...).
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = crate::io::read(path)?;
        Self::parse_tokenizer_json(&bytes, path)
    }

    /// [`WordPiece::from_tokenizer_json`] on the file's bytes (`path`
    /// names it in errors).
    ///
    /// ```
    /// use lelp::{LelpError, text::WordPiece};
    /// let json = r#"{"normalizer": {"type": "BertNormalizer", "lowercase": false},
    ///     "pre_tokenizer": {"type": "BertPreTokenizer"},
    ///     "model": {"type": "BPE", "vocab": {"[UNK]": 0}}}"#;
    /// match WordPiece::parse_tokenizer_json(json.as_bytes(), "roberta/tokenizer.json") {
    ///     Err(LelpError::Unsupported { field, .. }) => assert_eq!(field, "model.type"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`WordPiece::from_tokenizer_json`].
    pub fn parse_tokenizer_json(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
        if !v.is_object() {
            return Err(LelpError::corrupted(path, "not a JSON object"));
        }
        let mut spec = check_pipeline(&v, path)?;
        let model = v.get("model").ok_or_else(|| LelpError::corrupted(path, "no 'model'"))?;
        let kind = model.get("type").and_then(|t| t.as_str());
        if kind != Some("WordPiece") {
            return Err(unsupported(
                path,
                "model.type",
                model.get("type"),
                "lelp reproduces WordPiece models only (not SentencePiece, Unigram or BPE)",
            ));
        }
        if let Some(p) = model.get("continuing_subword_prefix") {
            spec.prefix = p
                .as_str()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    unsupported(
                        path,
                        "model.continuing_subword_prefix",
                        Some(p),
                        "a non-empty string is needed",
                    )
                })?
                .to_string();
        }
        if let Some(m) = model.get("max_input_chars_per_word") {
            spec.max_word_chars = m.as_u64().and_then(|m| usize::try_from(m).ok()).ok_or_else(|| {
                unsupported(
                    path,
                    "model.max_input_chars_per_word",
                    Some(m),
                    "a non-negative integer is needed",
                )
            })?;
        }
        if let Some(u) = model.get("unk_token") {
            spec.unk = u
                .as_str()
                .ok_or_else(|| unsupported(path, "model.unk_token", Some(u), "a string is needed"))?
                .to_string();
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
        spec.added_tokens = Some(check_added_tokens(&v, &map, path)?);
        if v.get("padding").and_then(|p| p.get("pad_token")).is_none() && !map.contains_key(&spec.pad) {
            // no padding section: the pad token is BERT's, or a `<pad>`
            // (padded positions are masked; the id only has to exist)
            if map.contains_key("<pad>") {
                spec.pad = "<pad>".into();
            }
        }
        Self::from_map(map, &spec).map_err(|e| match e {
            LelpError::InvalidParameter { value, .. } => LelpError::corrupted(
                path,
                format!("the special token '{value}' the file names is not in model.vocab"),
            ),
            e => e,
        })
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

    /// The id of the token pair `(a, b)` among `buckets` hashed bigram ids
    /// after the vocabulary's: `vocab_size() + FNV-1a(a, b) % buckets`
    /// (`buckets` of 0 counts as 1; `vocab_size() + buckets` must fit a
    /// `u32`, the ids wrap past it).
    pub fn bigram_id(&self, a: u32, b: u32, buckets: u32) -> u32 {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&a.to_le_bytes());
        bytes[4..].copy_from_slice(&b.to_le_bytes());
        let h = crate::util::Fnv64::hash(&bytes) % u64::from(buckets.max(1));
        (self.vocab_size() as u32).wrapping_add(h as u32)
    }

    /// [`WordPiece::encode`]'s ids followed, when `buckets > 0`, by the
    /// [`bigram id`](WordPiece::bigram_id) of every pair of adjacent
    /// pieces between `[CLS]` and `[SEP]`: a bag of pieces and piece pairs,
    /// ids below `vocab_size() + buckets` (the static student's input with
    /// bigram rows).
    ///
    /// # Example
    /// ```
    /// use lelp::text::WordPiece;
    /// let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "not", "good", "bad"];
    /// let wp = WordPiece::from_vocab(vocab.iter().map(|s| s.to_string()))?;
    /// let ids = wp.encode_with_bigrams("not good", 16, 1000);
    /// assert_eq!(ids[..4], [2, 4, 5, 3]); // [CLS] not good [SEP]
    /// assert_eq!(ids.len(), 5);            // and the pair (not, good)
    /// assert_eq!(ids[4], wp.bigram_id(4, 5, 1000));
    /// assert!(ids[4] >= 7 && ids[4] < 7 + 1000);
    /// assert_eq!(wp.encode_with_bigrams("not good", 16, 0), wp.encode("not good", 16));
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn encode_with_bigrams(&self, text: &str, max_len: usize, buckets: u32) -> Vec<u32> {
        let mut ids = self.encode(text, max_len);
        if buckets > 0 && ids.len() > 3 {
            let inner = ids.len() - 1;
            for k in 1..inner - 1 {
                let id = self.bigram_id(ids[k], ids[k + 1], buckets);
                ids.push(id);
            }
        }
        ids
    }

    /// `[CLS] pieces [SEP]`, the pieces truncated so the whole has at most
    /// `max_len` ids (at least the two special tokens).
    ///
    /// The special tokens (see [`WordPieceSettings::added_tokens`]) are
    /// matched in the raw text first, as Hugging Face's tokenizers do: a
    /// literal `[SEP]` is the separator's id.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut ids = vec![self.cls];
        let room = max_len.max(2) - 2;
        'segments: for (segment, special) in self.segments(text) {
            if let Some(id) = special {
                if ids.len() > room {
                    break;
                }
                ids.push(id);
                continue;
            }
            for word in pre_tokenize(&normalize(segment, self.lowercase, self.strip_accents)) {
                for id in self.word_pieces(&word) {
                    if ids.len() > room {
                        break 'segments;
                    }
                    ids.push(id);
                }
            }
        }
        ids.push(self.sep);
        ids
    }

    /// Whether `text` contains a special token as written (those are
    /// tokenised whole since 0.3.0).
    pub(crate) fn has_special(&self, text: &str) -> bool {
        self.specials.iter().any(|(t, _)| text.contains(t.as_str()))
    }

    /// `text` cut at its special tokens (leftmost, then longest, match):
    /// the plain stretches with `None`, the tokens with their ids.
    fn segments<'t>(&self, text: &'t str) -> Vec<(&'t str, Option<u32>)> {
        let mut out = Vec::new();
        let (mut start, mut i) = (0, 0);
        while i < text.len() {
            let hit = self.specials.iter().find(|(t, _)| text[i..].starts_with(t.as_str()));
            match hit {
                Some((t, id)) => {
                    if start < i {
                        out.push((&text[start..i], None));
                    }
                    out.push((&text[i..i + t.len()], Some(*id)));
                    i += t.len();
                    start = i;
                }
                None => i += text[i..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if start < text.len() {
            out.push((&text[start..], None));
        }
        out
    }

    /// Greedy longest-match WordPiece of one pre-token.
    fn word_pieces(&self, word: &str) -> Vec<u32> {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() > self.max_word_chars {
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
                    format!("{}{piece}", self.prefix)
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

/// The error for `field` of the file at `path` holding `found` (shortened).
pub(super) fn unsupported(
    path: &Path,
    field: &str,
    found: Option<&serde_json::Value>,
    reason: &'static str,
) -> LelpError {
    let mut found = found.map_or_else(|| "(absent)".to_string(), |v| v.to_string());
    if found.len() > 120 {
        let cut = (0..=117).rev().find(|&i| found.is_char_boundary(i)).unwrap_or(0);
        found.truncate(cut);
        found.push_str("...");
    }
    LelpError::Unsupported {
        path: path.to_path_buf(),
        field: field.to_string(),
        found,
        reason,
    }
}

/// Checks the normaliser, the pre-tokeniser and the post-processor; the
/// special tokens' names the file uses.
fn check_pipeline(v: &serde_json::Value, path: &Path) -> Result<WordPieceSettings> {
    let norm = v.get("normalizer").filter(|n| !n.is_null());
    if norm.and_then(|n| n.get("type")).and_then(|t| t.as_str()) != Some("BertNormalizer") {
        return Err(unsupported(
            path,
            "normalizer.type",
            norm.and_then(|n| n.get("type")),
            "lelp reproduces BERT's normaliser (BertNormalizer) only",
        ));
    }
    let norm = norm.expect("checked above");
    // absent means the library's default (true); strip_accents absent or
    // null means "as lowercase"
    let lowercase = match norm.get("lowercase") {
        None => true,
        Some(serde_json::Value::Bool(b)) => *b,
        found => {
            return Err(unsupported(
                path,
                "normalizer.lowercase",
                found,
                "true (uncased) or false (cased) is needed",
            ));
        }
    };
    let strip_accents = match norm.get("strip_accents") {
        None | Some(serde_json::Value::Null) => lowercase,
        Some(serde_json::Value::Bool(b)) => *b,
        found => {
            return Err(unsupported(
                path,
                "normalizer.strip_accents",
                found,
                "true, false or null is needed",
            ));
        }
    };
    for (field, reason) in [
        ("handle_chinese_chars", "lelp's tokenizer isolates CJK ideographs"),
        (
            "clean_text",
            "lelp's tokenizer drops control characters and maps whitespace to spaces",
        ),
    ] {
        match norm.get(field) {
            None | Some(serde_json::Value::Bool(true)) | Some(serde_json::Value::Null) => {}
            found => return Err(unsupported(path, &format!("normalizer.{field}"), found, reason)),
        }
    }
    let pre = v.get("pre_tokenizer").filter(|p| !p.is_null());
    if pre.and_then(|p| p.get("type")).and_then(|t| t.as_str()) != Some("BertPreTokenizer") {
        return Err(unsupported(
            path,
            "pre_tokenizer.type",
            pre.and_then(|p| p.get("type")),
            "lelp reproduces BERT's pre-tokeniser (whitespace, then each punctuation mark) only",
        ));
    }
    let mut spec = WordPieceSettings {
        lowercase,
        strip_accents,
        ..WordPieceSettings::default()
    };
    let (cls, sep) = wrapping_tokens(v.get("post_processor").filter(|p| !p.is_null()), path)?;
    spec.cls = cls.to_string();
    spec.sep = sep.to_string();
    if let Some(p) = v
        .get("padding")
        .and_then(|p| p.get("pad_token"))
        .and_then(|t| t.as_str())
    {
        spec.pad = p.to_string();
    }
    Ok(spec)
}

/// The names of the tokens the post-processor puts before and after a
/// single text.
fn wrapping_tokens<'a>(post: Option<&'a serde_json::Value>, path: &Path) -> Result<(&'a str, &'a str)> {
    const REASON: &str = "lelp wraps each text as CLS text SEP; this post-processor does otherwise";
    let kind = post.and_then(|p| p.get("type")).and_then(|t| t.as_str());
    let special = |item: &'a serde_json::Value| item.get("SpecialToken")?.get("id")?.as_str();
    match (kind, post) {
        (Some("BertProcessing"), Some(p)) => {
            let name = |k: &str| p.get(k)?.get(0)?.as_str();
            match (name("cls"), name("sep")) {
                (Some(c), Some(s)) => Ok((c, s)),
                _ => Err(unsupported(path, "post_processor", Some(p), REASON)),
            }
        }
        (Some("TemplateProcessing"), Some(p)) => {
            let single = p.get("single").and_then(|s| s.as_array());
            match single.map(Vec::as_slice) {
                Some([first, middle, last]) if middle.get("Sequence").is_some() => {
                    match (special(first), special(last)) {
                        (Some(c), Some(s)) => Ok((c, s)),
                        _ => Err(unsupported(path, "post_processor.single", p.get("single"), REASON)),
                    }
                }
                _ => Err(unsupported(path, "post_processor.single", p.get("single"), REASON)),
            }
        }
        _ => Err(unsupported(
            path,
            "post_processor.type",
            post.and_then(|p| p.get("type")),
            REASON,
        )),
    }
}

/// The added tokens, matched in the raw text before WordPiece runs: only
/// special tokens already in the vocabulary (with the same id), matched
/// as written (`normalized` and `single_word` false), are accepted; their
/// contents. `lstrip` and `rstrip` only move whitespace into the match,
/// which BERT's pre-tokeniser drops anyway: the ids are the same.
fn check_added_tokens(v: &serde_json::Value, vocab: &HashMap<String, u32>, path: &Path) -> Result<Vec<String>> {
    let Some(added) = v.get("added_tokens").and_then(|a| a.as_array()) else {
        return Ok(Vec::new());
    };
    let mut contents = Vec::with_capacity(added.len());
    for (i, t) in added.iter().enumerate() {
        let content = t.get("content").and_then(|c| c.as_str());
        let id = t.get("id").and_then(|i| i.as_u64());
        let special = t.get("special").and_then(|s| s.as_bool()) == Some(true);
        let in_vocab = content.and_then(|c| vocab.get(c)).map(|&v| u64::from(v)) == id && id.is_some();
        if !special || !in_vocab {
            return Err(unsupported(
                path,
                &format!("added_tokens[{i}]"),
                Some(t),
                "lelp tokenises only with the vocabulary: an added token must be a special token of model.vocab",
            ));
        }
        for flag in ["normalized", "single_word"] {
            if t.get(flag).and_then(|f| f.as_bool()) == Some(true) {
                return Err(unsupported(
                    path,
                    &format!("added_tokens[{i}].{flag}"),
                    t.get(flag),
                    "lelp matches special tokens exactly as written in the raw text",
                ));
            }
        }
        contents.extend(content.map(String::from));
    }
    Ok(contents)
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
/// (NFD, drop non-spacing marks) if asked, lowercase if asked.
fn normalize(text: &str, lowercase: bool, strip_accents: bool) -> String {
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
    if strip_accents {
        cleaned = cleaned
            .nfd()
            .filter(|&c| get_general_category(c) != GeneralCategory::NonspacingMark)
            .collect();
    }
    if lowercase {
        cleaned = cleaned.chars().flat_map(char::to_lowercase).collect();
    }
    cleaned
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A BERT vocabulary's special tokens written in a text keep their ids
    /// (as Hugging Face's tokenizers match them: exact, case-sensitive,
    /// before normalisation), and the settings carry them to a rebuilt
    /// tokenizer.
    #[test]
    fn special_tokens_in_the_text_keep_their_ids() {
        let vocab = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "[", "]", "sep", "mask",
        ];
        let tok = WordPiece::from_vocab(vocab.iter().map(|s| s.to_string())).unwrap();
        assert_eq!(tok.encode("a [SEP] b", 16), vec![2, 5, 3, 6, 3]);
        assert_eq!(tok.encode("a[MASK]b", 16), vec![2, 5, 4, 6, 3]);
        // lowercase is not the token: normalised and split as any text
        assert_eq!(tok.encode("[sep]", 16), vec![2, 7, 9, 8, 3]);
        // truncation counts a matched token like any other
        assert_eq!(tok.encode("[MASK][MASK][MASK]", 4), vec![2, 4, 4, 3]);
        let settings = tok.settings();
        assert_eq!(
            settings.added_tokens.as_deref(),
            Some(&["[MASK]", "[CLS]", "[PAD]", "[SEP]", "[UNK]"].map(String::from)[..])
        );
        let again = WordPiece::from_vocab_with_settings(tok.tokens(), &settings).unwrap();
        assert_eq!(again.encode("a [SEP] b[MASK]", 16), tok.encode("a [SEP] b[MASK]", 16));
        // an explicit empty list matches nothing
        let none = WordPieceSettings {
            added_tokens: Some(Vec::new()),
            ..WordPieceSettings::default()
        };
        let plain = WordPiece::from_vocab_with_settings(tok.tokens(), &none).unwrap();
        assert_eq!(plain.encode("[SEP]", 16), vec![2, 7, 9, 8, 3]);
        // where one token starts another, the longer one matches
        let mut words = tok.tokens();
        words.push("[S]".into()); // id 11
        let prefixed = WordPieceSettings {
            added_tokens: Some(["[S]", "[SEP]", "[CLS]"].map(String::from).to_vec()),
            ..WordPieceSettings::default()
        };
        let both = WordPiece::from_vocab_with_settings(words, &prefixed).unwrap();
        assert_eq!(both.encode("[SEP][S]a[S", 16), vec![2, 3, 11, 5, 7, 1, 3]);
    }
}
