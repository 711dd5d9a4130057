//! Labelled text corpora: the SpamAssassin public corpus (fetched by
//! `scripts/fetch-spam.sh`) and your own CSV or JSON-lines files (plain or
//! gzip), with the file's own train/test split and a regrouping of its
//! classes into few classes ([`Regroup`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// Each row's split (`train`, `test`, `val`, ...) when the file names
    /// one (a `split` column or field).
    pub splits: Option<Vec<String>>,
    /// Multi-label data: each row's labels (sorted ids, distinct; a row
    /// may have none). `labels` then holds each row's first label (0 for
    /// none). Read from a JSON list, or a CSV column split at a separator
    /// ([`crate::deploy::read_labelled_with`]).
    pub label_sets: Option<Vec<Vec<usize>>>,
}

/// How [`TextCorpus::regroup`] maps a corpus's classes to few classes. The
/// old class becomes the fine label when the corpus has none.
///
/// As text (`FromStr`): `parity`, or groups separated by `;`, each
/// `NEW=OLD,OLD,...`, e.g. `tech=comp,sci;rest=misc,politics,rec,religion`.
///
/// ```
/// use lelp::text::Regroup;
/// let r: Regroup = "tech=comp,sci;rest=rec".parse()?;
/// assert_eq!(r, Regroup::Groups(vec![
///     ("tech".into(), vec!["comp".into(), "sci".into()]),
///     ("rest".into(), vec!["rec".into()]),
/// ]));
/// assert_eq!("parity".parse::<Regroup>()?, Regroup::Parity);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regroup {
    /// New classes in this order, each a name and the old class names it
    /// takes; rows of old classes no group names are dropped.
    Groups(Vec<(String, Vec<String>)>),
    /// The old classes in sorted name order: even positions become class
    /// `even` (0), odd positions class `odd` (1).
    Parity,
}

impl FromStr for Regroup {
    type Err = LelpError;

    fn from_str(spec: &str) -> Result<Self> {
        let bad = |reason: &'static str| LelpError::InvalidParameter {
            name: "regroup",
            value: spec.to_string(),
            reason,
        };
        if spec.trim() == "parity" {
            return Ok(Regroup::Parity);
        }
        let mut groups = Vec::new();
        for part in spec.split(';').filter(|p| !p.trim().is_empty()) {
            let (name, members) = part
                .split_once('=')
                .ok_or_else(|| bad("each group is NAME=OLD,OLD,... (groups separated by ';'), or 'parity'"))?;
            let members: Vec<String> = members
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect();
            if name.trim().is_empty() || members.is_empty() {
                return Err(bad("a group needs a name and at least one old class"));
            }
            groups.push((name.trim().to_string(), members));
        }
        if groups.is_empty() {
            return Err(bad("no groups"));
        }
        Ok(Regroup::Groups(groups))
    }
}

/// One row of a CSV or JSON-lines file before the labels are mapped to ids.
struct Record {
    text: String,
    label: String,
    /// The row's labels, in a multi-label file (`label` is then unused).
    multi: Option<Vec<String>>,
    fine: Option<String>,
    split: Option<String>,
    /// 1-based line or record number, for errors.
    row: usize,
}

/// The SpamAssassin collection groups, in fine-label order.
pub const SPAM_GROUPS: [&str; 5] = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"];

/// Where `scripts/fetch-spam.sh` puts the corpus: `$LELP_SPAM_DIR`, else
/// `~/.cache/lelp/spam-assassin`.
pub fn default_spam_dir() -> PathBuf {
    if let Ok(d) = std::env::var("LELP_SPAM_DIR") {
        return PathBuf::from(d);
    }
    super::default_cache_dir().join("spam-assassin")
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
            splits: None,
            label_sets: None,
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
                let bytes = crate::io::read(&f)?;
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
    /// `label` and optionally `fine_label` and `split` (RFC 4180 quoting;
    /// bytes that are not UTF-8 are decoded lossily; a name ending in `.gz`
    /// is read through gzip). Labels are names, mapped to class ids in
    /// sorted order.
    ///
    /// # Errors
    /// [`LelpError::BadRecord`] naming the file and the row (1-based,
    /// header included) for a missing column, an empty text or a short
    /// row; file errors.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::parse_csv(&read_maybe_gzip(path)?, path)
    }

    /// [`TextCorpus::from_csv`] on bytes in memory (`path` names them in
    /// errors).
    ///
    /// # Errors
    /// As [`TextCorpus::from_csv`], without the I/O errors.
    pub fn parse_csv(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        Self::parse_csv_columns(bytes, path, "text", &["label", "sentiment"], None)
    }

    /// [`TextCorpus::parse_csv`] with the text in column `text_column` and
    /// the label in the first of `label_columns` the header has.
    pub(crate) fn parse_csv_columns(
        bytes: &[u8],
        path: impl AsRef<Path>,
        text_column: &str,
        label_columns: &[&str],
        separator: Option<&str>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let text = String::from_utf8_lossy(bytes);
        let rows = parse_csv(&text);
        let header = &rows.first().ok_or_else(|| bad(path, 1, "no header row"))?.1;
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let tc = col(text_column).ok_or_else(|| bad(path, 1, format!("no '{text_column}' column")))?;
        let lc = label_columns
            .iter()
            .find_map(|c| col(c))
            .ok_or_else(|| bad(path, 1, format!("no '{}' column", label_columns[0])))?;
        let fc = col("fine_label");
        let sc = col("split");
        let mut records = Vec::new();
        for (line, r) in rows.iter().skip(1) {
            if r.len() == 1 && r[0].trim().is_empty() {
                continue; // a blank line
            }
            let get = |c: usize| {
                r.get(c).ok_or_else(|| {
                    bad(
                        path,
                        *line,
                        format!("{} fields, the header has {}", r.len(), header.len()),
                    )
                })
            };
            let label = get(lc)?.clone();
            let multi = match separator {
                Some(_) if label.trim().is_empty() => {
                    return Err(bad(path, *line, "no label (a multi-label row needs at least one)"));
                }
                Some(sep) => Some(label.split(sep).map(str::to_string).collect()),
                None => None,
            };
            records.push(Record {
                text: get(tc)?.clone(),
                label,
                multi,
                fine: fc.map(get).transpose()?.cloned(),
                split: sc.map(get).transpose()?.cloned(),
                row: *line,
            });
        }
        Self::from_records(path, records)
    }

    /// A corpus from a JSON-lines file: one object per line with `text`,
    /// `label` (a string or an integer) and optionally `fine_label` and
    /// `split`; a name ending in `.gz` is read through gzip.
    ///
    /// # Errors
    /// As [`TextCorpus::from_csv`], rows counted from 1.
    pub fn from_jsonl(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::parse_jsonl(&read_maybe_gzip(path)?, path)
    }

    /// [`TextCorpus::from_jsonl`] on bytes in memory (`path` names them in
    /// errors).
    ///
    /// # Errors
    /// As [`TextCorpus::from_jsonl`], without the I/O errors.
    pub fn parse_jsonl(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        Self::parse_jsonl_fields(bytes, path, "text", "label", None)
    }

    /// [`TextCorpus::parse_jsonl`] with the text in field `text_field` and
    /// the label in `label_field`.
    pub(crate) fn parse_jsonl_fields(
        bytes: &[u8],
        path: impl AsRef<Path>,
        text_field: &str,
        label_field: &str,
        separator: Option<&str>,
    ) -> Result<Self> {
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
            let t = field(text_field).ok_or_else(|| bad(path, i + 1, format!("no '{text_field}' string")))?;
            let (l, multi) = match v.get(label_field) {
                Some(serde_json::Value::Array(list)) => {
                    let mut names = Vec::with_capacity(list.len());
                    for x in list {
                        names.push(match x {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Number(n) => n.to_string(),
                            _ => {
                                return Err(bad(
                                    path,
                                    i + 1,
                                    format!("'{label_field}' lists a label that is not a string"),
                                ));
                            }
                        });
                    }
                    (String::new(), Some(names))
                }
                _ => {
                    let l = field(label_field).ok_or_else(|| bad(path, i + 1, format!("no '{label_field}'")))?;
                    match separator {
                        Some(sep) => (String::new(), Some(l.split(sep).map(str::to_string).collect())),
                        None => (l, None),
                    }
                }
            };
            records.push(Record {
                text: t,
                label: l,
                multi,
                fine: field("fine_label"),
                split: field("split"),
                row: i + 1,
            });
        }
        Self::from_records(path, records)
    }

    fn from_records(path: &Path, mut records: Vec<Record>) -> Result<Self> {
        if records.is_empty() {
            return Err(LelpError::EmptyData { what: "text corpus" });
        }
        let multi = records.iter().any(|r| r.multi.is_some());
        if multi {
            for r in &mut records {
                let set = r.multi.get_or_insert_with(|| vec![r.label.clone()]);
                for l in set.iter_mut() {
                    *l = l.trim().to_string();
                }
                if set.iter().any(String::is_empty) {
                    return Err(bad(path, r.row, "an empty label in the row's list"));
                }
                r.label = set.first().cloned().unwrap_or_default();
            }
        }
        let names = |it: &mut dyn Iterator<Item = String>| {
            let mut v: Vec<String> = it.collect();
            v.sort();
            v.dedup();
            v
        };
        let class_names = match multi {
            true => names(&mut records.iter().flat_map(|r| r.multi.iter().flatten().cloned())),
            false => names(&mut records.iter().map(|r| r.label.trim().to_string())),
        };
        let has_fine = records.iter().any(|r| r.fine.is_some());
        let fine_names = has_fine.then(|| {
            names(
                &mut records
                    .iter()
                    .filter_map(|r| r.fine.as_ref().map(|f| f.trim().to_string())),
            )
        });
        let has_split = records.iter().any(|r| r.split.is_some());
        let mut corpus = Self {
            texts: Vec::with_capacity(records.len()),
            labels: Vec::with_capacity(records.len()),
            fine_labels: has_fine.then(Vec::new),
            class_names,
            fine_names,
            splits: has_split.then(Vec::new),
            label_sets: multi.then(Vec::new),
        };
        let id = |names: &[String], l: &str| names.iter().position(|c| c == l).expect("collected above");
        for r in records {
            if r.text.trim().is_empty() {
                return Err(bad(path, r.row, "empty text"));
            }
            corpus.texts.push(r.text);
            match (corpus.label_sets.as_mut(), r.multi) {
                (Some(sets), Some(list)) => {
                    let mut set: Vec<usize> = list.iter().map(|l| id(&corpus.class_names, l)).collect();
                    set.sort_unstable();
                    set.dedup();
                    corpus.labels.push(set.first().copied().unwrap_or(0));
                    sets.push(set);
                }
                _ => corpus.labels.push(id(&corpus.class_names, r.label.trim())),
            }
            if let (Some(fl), Some(names)) = (corpus.fine_labels.as_mut(), corpus.fine_names.as_ref()) {
                let f = r
                    .fine
                    .ok_or_else(|| bad(path, r.row, "no fine label (other rows have one)"))?;
                fl.push(names.iter().position(|n| n == f.trim()).expect("collected above"));
            }
            if let Some(sp) = corpus.splits.as_mut() {
                let split = r
                    .split
                    .ok_or_else(|| bad(path, r.row, "no split (other rows have one)"))?;
                sp.push(split.trim().to_string());
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
        if self.label_sets.is_some() {
            return Err(LelpError::InvalidParameter {
                name: "keep",
                value: "multi-label corpus".into(),
                reason: "takes one label a row",
            });
        }
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
        let mut kept = self.subset(&rows)?;
        kept.labels = rows.iter().map(|&i| map[self.labels[i]].expect("kept")).collect();
        kept.class_names = keep.iter().map(|k| k.to_string()).collect();
        Ok(kept)
    }

    /// The rows `rows`, in that order, with the same class and fine names.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a row index past the end.
    pub fn subset(&self, rows: &[usize]) -> Result<Self> {
        if let Some(&i) = rows.iter().find(|&&i| i >= self.len()) {
            return Err(LelpError::InvalidParameter {
                name: "rows",
                value: i.to_string(),
                reason: "row index past the end of the corpus",
            });
        }
        let pick = |v: &Vec<usize>| rows.iter().map(|&i| v[i]).collect();
        Ok(Self {
            label_sets: self
                .label_sets
                .as_ref()
                .map(|s| rows.iter().map(|&i| s[i].clone()).collect()),
            texts: rows.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: pick(&self.labels),
            fine_labels: self.fine_labels.as_ref().map(pick),
            class_names: self.class_names.clone(),
            fine_names: self.fine_names.clone(),
            splits: self
                .splits
                .as_ref()
                .map(|s| rows.iter().map(|&i| s[i].clone()).collect()),
        })
    }

    /// The rows whose split is `name` (e.g. `"train"`), in file order.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when the corpus names no splits or
    /// no row is in `name`.
    pub fn split_rows(&self, name: &str) -> Result<Vec<usize>> {
        let splits = self.splits.as_ref().ok_or_else(|| LelpError::InvalidParameter {
            name: "split",
            value: name.to_string(),
            reason: "the corpus has no split column or field",
        })?;
        let rows: Vec<usize> = (0..splits.len()).filter(|&i| splits[i] == name).collect();
        if rows.is_empty() {
            return Err(LelpError::InvalidParameter {
                name: "split",
                value: name.to_string(),
                reason: "no row of the corpus is in this split",
            });
        }
        Ok(rows)
    }

    /// The corpus with its classes mapped to the classes of `regroup`. The
    /// fine labels are kept; a corpus without them gets its old classes as
    /// fine labels (so the oracle can use them).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a group naming a class the
    /// corpus lacks, an old class named twice, or a grouping that keeps no
    /// row.
    ///
    /// # Example
    /// ```
    /// use lelp::text::{Regroup, TextCorpus};
    /// let jsonl = br#"{"text": "gpu prices", "label": "comp", "fine_label": "comp.hw"}
    /// {"text": "orbit", "label": "sci", "fine_label": "sci.space"}
    /// {"text": "hockey", "label": "rec", "fine_label": "rec.hockey"}"#;
    /// let c = TextCorpus::parse_jsonl(jsonl, "demo.jsonl")?;
    /// let tech = c.regroup(&"tech=comp,sci;rest=rec".parse()?)?;
    /// assert_eq!(tech.class_names, ["tech", "rest"]);
    /// assert_eq!(tech.labels, [0, 0, 1]);
    /// assert_eq!(tech.fine_labels, c.fine_labels);
    /// let parity = c.regroup(&Regroup::Parity)?; // comp, rec, sci in sorted order
    /// assert_eq!(parity.labels, [0, 0, 1]);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn regroup(&self, regroup: &Regroup) -> Result<Self> {
        if self.label_sets.is_some() {
            return Err(LelpError::InvalidParameter {
                name: "regroup",
                value: "multi-label corpus".into(),
                reason: "takes one label a row",
            });
        }
        let bad = |value: &str, reason: &'static str| LelpError::InvalidParameter {
            name: "regroup",
            value: value.to_string(),
            reason,
        };
        let (map, names): (Vec<Option<usize>>, Vec<String>) = match regroup {
            Regroup::Parity => {
                let mut sorted: Vec<&String> = self.class_names.iter().collect();
                sorted.sort();
                let map = self
                    .class_names
                    .iter()
                    .map(|c| Some(sorted.iter().position(|s| *s == c).expect("same names") % 2))
                    .collect();
                (map, vec!["even".into(), "odd".into()])
            }
            Regroup::Groups(groups) => {
                let mut map = vec![None; self.class_names.len()];
                for (g, (_, members)) in groups.iter().enumerate() {
                    for m in members {
                        let old = self
                            .class_names
                            .iter()
                            .position(|c| c == m)
                            .ok_or_else(|| bad(m, "no such class in the corpus"))?;
                        if map[old].replace(g).is_some() {
                            return Err(bad(m, "a class is named in two groups"));
                        }
                    }
                }
                (map, groups.iter().map(|(n, _)| n.clone()).collect())
            }
        };
        let rows: Vec<usize> = (0..self.len()).filter(|&i| map[self.labels[i]].is_some()).collect();
        if rows.is_empty() {
            return Err(bad("", "the grouping keeps no row"));
        }
        let mut out = self.subset(&rows)?;
        if out.fine_labels.is_none() {
            out.fine_labels = Some(out.labels.clone());
            out.fine_names = Some(self.class_names.clone());
        }
        out.labels = out.labels.iter().map(|&l| map[l].expect("kept")).collect();
        out.class_names = names;
        Ok(out)
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
        let mut d = Dataset::from_tokens(seqs, self.labels.clone(), self.class_names.len())?;
        if let Some(sets) = &self.label_sets {
            d = d.with_label_sets(sets.clone())?;
        }
        match &self.fine_labels {
            Some(f) => d.with_fine_labels(f.clone()),
            None => Ok(d),
        }
    }
}

/// The bytes of `path`, through gzip when its name ends in `.gz`.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes = crate::io::read(path)?;
    if path.extension().is_none_or(|x| x != "gz") {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| LelpError::corrupted(path, format!("not a readable gzip file: {e}")))?;
    Ok(out)
}

/// RFC 4180 CSV: fields split on commas, double quotes around fields,
/// `""` inside quotes, newlines inside quotes kept. Each record comes with
/// the file line it starts on (1-based), so errors name lines an editor
/// shows even when a quoted field spans several.
pub(crate) fn parse_csv(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let (mut line, mut start) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
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
                rows.push((start, std::mem::take(&mut row)));
                start = line;
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push((start, row));
    }
    rows
}
