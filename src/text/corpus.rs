//! Labelled text corpora: the SpamAssassin public corpus (fetched by
//! `scripts/fetch-spam.sh`) and your own CSV or JSON-lines files.

use std::path::{Path, PathBuf};

use crate::data::Dataset;
use crate::error::{LelpError, Result};

/// Texts with class labels and optional fine labels.
#[derive(Debug, Clone, PartialEq)]
pub struct TextCorpus {
    /// The texts.
    pub texts: Vec<String>,
    /// Class label per text.
    pub labels: Vec<usize>,
    /// Fine label per text (the oracle's subclasses), when known.
    pub fine_labels: Option<Vec<usize>>,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// Fine-label names, indexed by fine label.
    pub fine_names: Option<Vec<String>>,
}

/// The SpamAssassin collection groups, in fine-label order.
pub const SPAM_GROUPS: [&str; 5] = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"];

/// Where `scripts/fetch-spam.sh` puts the corpus: `$LELP_SPAM_DIR`, else
/// `~/.cache/lelp/spam-assassin`.
pub fn default_spam_dir() -> PathBuf {
    if let Ok(d) = std::env::var("LELP_SPAM_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home).join(".cache/lelp/spam-assassin")
}

fn bad(path: &Path, row: usize, reason: impl Into<String>) -> LelpError {
    LelpError::BadRecord {
        path: path.to_path_buf(),
        row,
        reason: reason.into(),
    }
}

/// The subject and body of a raw email (headers other than `Subject:`
/// dropped), whitespace collapsed.
pub fn email_text(raw: &str) -> String {
    let (head, body) = match raw.find("\n\n") {
        Some(i) => (&raw[..i], &raw[i + 2..]),
        None => (raw, ""),
    };
    let subject = head
        .lines()
        .find_map(|l| l.strip_prefix("Subject:").or_else(|| l.strip_prefix("subject:")))
        .unwrap_or("")
        .trim();
    let text = format!("{subject}\n{body}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl TextCorpus {
    /// The SpamAssassin public corpus from `dir` (`<group>/*.json`, each
    /// `{"id", "group", "checksum", "text"}`): ham (0) or spam (1), the
    /// collection group as the fine label, each email reduced to its
    /// subject and body ([`email_text`]). Files in path order.
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`] (run `scripts/fetch-spam.sh`),
    /// [`LelpError::BadRecord`] naming the file of an unreadable email.
    pub fn spam_assassin(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let mut corpus = Self {
            texts: Vec::new(),
            labels: Vec::new(),
            fine_labels: Some(Vec::new()),
            class_names: vec!["ham".into(), "spam".into()],
            fine_names: Some(SPAM_GROUPS.iter().map(|g| g.to_string()).collect()),
        };
        for (g, group) in SPAM_GROUPS.iter().enumerate() {
            let gd = dir.join(group);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&gd)
                .map_err(|e| LelpError::io(&gd, e))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(LelpError::EmptyData {
                    what: "a SpamAssassin group folder",
                });
            }
            for f in files {
                let bytes = std::fs::read(&f).map_err(|e| LelpError::io(&f, e))?;
                let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(&f, 0, e.to_string()))?;
                let raw = v
                    .get("text")
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| bad(&f, 0, "no 'text'"))?;
                corpus.texts.push(email_text(raw));
                corpus.labels.push(usize::from(group.starts_with("spam")));
                corpus.fine_labels.as_mut().expect("set above").push(g);
            }
        }
        Ok(corpus)
    }

    /// A corpus from a CSV file with a header row naming the columns `text`,
    /// `label` and optionally `fine_label` (RFC 4180 quoting; bytes that
    /// are not UTF-8 are decoded lossily). Labels are names, mapped to
    /// class ids in sorted order.
    ///
    /// # Errors
    /// [`LelpError::BadRecord`] naming the file and the row (1-based,
    /// header included) for a missing column, an empty text or a short
    /// row; file errors.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| LelpError::io(path, e))?;
        Self::parse_csv(&bytes, path)
    }

    /// [`TextCorpus::from_csv`] on bytes in memory (`path` names them in
    /// errors).
    ///
    /// # Errors
    /// As [`TextCorpus::from_csv`], without the I/O errors.
    pub fn parse_csv(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = String::from_utf8_lossy(bytes);
        let rows = parse_csv(&text);
        let header = rows.first().ok_or_else(|| bad(path, 1, "no header row"))?;
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let tc = col("text").ok_or_else(|| bad(path, 1, "no 'text' column"))?;
        let lc = col("label")
            .or_else(|| col("sentiment"))
            .ok_or_else(|| bad(path, 1, "no 'label' column"))?;
        let fc = col("fine_label");
        let mut records = Vec::new();
        for (i, r) in rows.iter().enumerate().skip(1) {
            if r.len() == 1 && r[0].trim().is_empty() {
                continue; // a blank line
            }
            let get = |c: usize| {
                r.get(c).ok_or_else(|| {
                    bad(
                        path,
                        i + 1,
                        format!("{} fields, the header has {}", r.len(), header.len()),
                    )
                })
            };
            records.push((
                get(tc)?.clone(),
                get(lc)?.clone(),
                fc.map(get).transpose()?.cloned(),
                i + 1,
            ));
        }
        Self::from_records(path, records)
    }

    /// A corpus from a JSON-lines file: one object per line with `text`,
    /// `label` (a string or an integer) and optionally `fine_label`.
    ///
    /// # Errors
    /// As [`TextCorpus::from_csv`], rows counted from 1.
    pub fn from_jsonl(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| LelpError::io(path, e))?;
        Self::parse_jsonl(&bytes, path)
    }

    /// [`TextCorpus::from_jsonl`] on bytes in memory (`path` names them in
    /// errors).
    ///
    /// # Errors
    /// As [`TextCorpus::from_jsonl`], without the I/O errors.
    pub fn parse_jsonl(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = String::from_utf8_lossy(bytes);
        let mut records = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(path, i + 1, e.to_string()))?;
            let field = |k: &str| -> Option<String> {
                match v.get(k)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            };
            let t = field("text").ok_or_else(|| bad(path, i + 1, "no 'text' string"))?;
            let l = field("label").ok_or_else(|| bad(path, i + 1, "no 'label'"))?;
            records.push((t, l, field("fine_label"), i + 1));
        }
        Self::from_records(path, records)
    }

    fn from_records(path: &Path, records: Vec<(String, String, Option<String>, usize)>) -> Result<Self> {
        if records.is_empty() {
            return Err(LelpError::EmptyData { what: "text corpus" });
        }
        let names = |it: &mut dyn Iterator<Item = String>| {
            let mut v: Vec<String> = it.collect();
            v.sort();
            v.dedup();
            v
        };
        let class_names = names(&mut records.iter().map(|r| r.1.trim().to_string()));
        let has_fine = records.iter().any(|r| r.2.is_some());
        let fine_names = has_fine.then(|| {
            names(
                &mut records
                    .iter()
                    .filter_map(|r| r.2.as_ref().map(|f| f.trim().to_string())),
            )
        });
        let mut corpus = Self {
            texts: Vec::with_capacity(records.len()),
            labels: Vec::with_capacity(records.len()),
            fine_labels: has_fine.then(Vec::new),
            class_names,
            fine_names,
        };
        for (t, l, f, row) in records {
            if t.trim().is_empty() {
                return Err(bad(path, row, "empty text"));
            }
            corpus.texts.push(t);
            corpus.labels.push(
                corpus
                    .class_names
                    .iter()
                    .position(|c| c == l.trim())
                    .expect("collected above"),
            );
            if let (Some(fl), Some(names)) = (corpus.fine_labels.as_mut(), corpus.fine_names.as_ref()) {
                let f = f.ok_or_else(|| bad(path, row, "no fine label (other rows have one)"))?;
                fl.push(names.iter().position(|n| n == f.trim()).expect("collected above"));
            }
        }
        Ok(corpus)
    }

    /// Keeps the rows whose class name is in `keep`, relabelled in that
    /// order (e.g. `["negative", "positive"]` to drop "neutral").
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a name the corpus lacks.
    pub fn select_classes(&self, keep: &[&str]) -> Result<Self> {
        let map: Vec<Option<usize>> = self
            .class_names
            .iter()
            .map(|c| keep.iter().position(|k| k == c))
            .collect();
        if let Some(k) = keep.iter().find(|k| !self.class_names.iter().any(|c| c == *k)) {
            return Err(LelpError::InvalidParameter {
                name: "keep",
                value: k.to_string(),
                reason: "no such class in the corpus",
            });
        }
        let rows: Vec<usize> = (0..self.texts.len())
            .filter(|&i| map[self.labels[i]].is_some())
            .collect();
        Ok(Self {
            texts: rows.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: rows.iter().map(|&i| map[self.labels[i]].expect("kept")).collect(),
            fine_labels: self.fine_labels.as_ref().map(|f| rows.iter().map(|&i| f[i]).collect()),
            class_names: keep.iter().map(|k| k.to_string()).collect(),
            fine_names: self.fine_names.clone(),
        })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.texts.len()
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// A token data set of the texts, each through `tokenize` (WordPiece
    /// ids, hashed n-grams), with the labels and fine labels.
    ///
    /// # Errors
    /// Those of [`Dataset::from_tokens`].
    pub fn tokens(&self, tokenize: impl Fn(&str) -> Vec<u32>) -> Result<Dataset> {
        let seqs = self.texts.iter().map(|t| tokenize(t)).collect();
        let d = Dataset::from_tokens(seqs, self.labels.clone(), self.class_names.len())?;
        match &self.fine_labels {
            Some(f) => d.with_fine_labels(f.clone()),
            None => Ok(d),
        }
    }
}

/// RFC 4180 CSV: fields split on commas, double quotes around fields,
/// `""` inside quotes, newlines inside quotes kept.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}
