//! A teacher's outputs supplied with the data: the answers of a model that
//! cannot run here (a Python model, a served model, an LLM used as a
//! labeller), read from a JSON-lines file and aligned with the rows of the
//! labelled data.
//!
//! ## The file
//! One JSON object a line, each with the teacher's answer for one row:
//! - `logits` or `probs` (exactly one): an object keyed by class name
//!   (`{"neg": -1.2, "pos": 0.8}`), or a list in the order of a first line
//!   `{"classes": ["neg", "pos"]}`. With two classes a list of one value is
//!   a sigmoid logit (or probability) of the header's second class.
//! - `embedding` (optional, on every line or none): the teacher's
//!   final-layer embedding, which the methods that read embeddings need
//!   (feature KD, RKD, k-means, Subclass Distillation, LELP).
//! - `id` (optional, on every line or none): the row's id, matched with
//!   the data file's `id` column or field (lines whose id the data does
//!   not have are ignored: a file may cover more rows than one data file);
//!   without ids the lines are the data's rows in order, one each (the
//!   header line and blank lines do not count).
//!
//! Probabilities must lie in `[0, 1]` and sum to 1 (within `1e-3`); they
//! are kept as their logarithms (floored at `1e-12`), so that a softmax
//! gives them back. Every value must be finite. The teacher's classes must
//! be the data's labels, no more and no fewer. Each problem is a
//! [`LelpError::BadRecord`] naming the file and the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{LelpError, Result};
use crate::text::TextCorpus;

/// What the teacher's file gave for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputKind {
    /// Class logits.
    Logits,
    /// Class probabilities (kept as their logarithms).
    Probabilities,
}

/// A teacher's outputs for every row of a labelled file, in the file's
/// row order and the data's class order (see the module docs for the
/// file's format).
///
/// ```
/// use lelp::deploy::TeacherOutputs;
/// use lelp::text::TextCorpus;
/// let dir = std::env::temp_dir().join(format!("lelp-doc-outputs-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let data = dir.join("data.jsonl");
/// std::fs::write(&data, "{\"id\": 1, \"text\": \"great\", \"label\": \"pos\"}\n\
///                        {\"id\": 2, \"text\": \"awful\", \"label\": \"neg\"}\n").unwrap();
/// let outputs = dir.join("teacher.jsonl");
/// std::fs::write(&outputs, "{\"id\": 2, \"probs\": {\"neg\": 0.9, \"pos\": 0.1}}\n\
///                           {\"id\": 1, \"probs\": {\"neg\": 0.2, \"pos\": 0.8}}\n").unwrap();
/// let corpus = TextCorpus::from_jsonl(&data)?;
/// let teacher = TeacherOutputs::read(&outputs, &data, &corpus)?;
/// assert_eq!(teacher.predictions(), vec![1, 0]); // pos, neg: the data's rows
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TeacherOutputs {
    /// The file they were read from.
    pub path: PathBuf,
    /// FNV-1a of the file's bytes (the manifest's teacher id).
    pub id: u64,
    /// What the file gave.
    pub kind: OutputKind,
    /// The data's class names, the order of `logits`' columns.
    pub class_names: Vec<String>,
    /// Class logits (or log-probabilities), row-major `[rows, classes]`.
    pub logits: Vec<f32>,
    /// Embeddings, row-major `[rows, embedding_dim]`, when the file has them.
    pub embeddings: Option<Vec<f32>>,
    /// The embeddings' width (0 without them).
    pub embedding_dim: usize,
}

/// One line of the file, parsed.
struct Line {
    row: usize,
    id: Option<String>,
    values: Vec<f32>,
    embedding: Option<Vec<f32>>,
}

fn bad(path: &Path, row: usize, reason: impl Into<String>) -> LelpError {
    LelpError::BadRecord {
        path: path.to_path_buf(),
        row,
        reason: reason.into(),
    }
}

impl TeacherOutputs {
    /// Reads the outputs in `path` for the rows of `corpus`, which was read
    /// from `data` (its `id` column or field, when the outputs have ids).
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`] / [`LelpError::Io`]; [`LelpError::BadRecord`]
    /// naming the file and line for malformed JSON, both or neither of
    /// `logits` and `probs`, a class the data does not have or a missing
    /// one, a width that differs from the classes or the other lines',
    /// NaN or infinite values, probabilities outside `[0, 1]` or not
    /// summing to 1, ids on some lines only, a duplicate id, a data row
    /// without an output (naming the data file's row), or a line count that
    /// differs from the data's rows when there are no ids.
    pub fn read(path: impl AsRef<Path>, data: impl AsRef<Path>, corpus: &TextCorpus) -> Result<Self> {
        Self::read_for(path, data, corpus.len(), &corpus.class_names)
    }

    /// [`TeacherOutputs::read`] for the `rows` rows of the labelled file
    /// `data`, the teacher's classes being `class_names` (a model's, say,
    /// to compare it with the teacher on a file that lacks some classes).
    ///
    /// # Errors
    /// As [`TeacherOutputs::read`].
    pub fn read_for(
        path: impl AsRef<Path>,
        data: impl AsRef<Path>,
        rows: usize,
        class_names: &[String],
    ) -> Result<Self> {
        let (path, data) = (path.as_ref(), data.as_ref());
        let bytes = crate::text::corpus::read_maybe_gzip(path)?;
        let text = super::input::utf8(&bytes, path)?;
        let names = class_names;
        let mut header: Option<Vec<String>> = None;
        let mut kind = None;
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
                let hint = if raw.contains("NaN") || raw.contains("Infinity") {
                    " (NaN and Infinity are not JSON: the teacher gave a non-finite value)"
                } else {
                    ""
                };
                bad(path, i + 1, format!("{e}{hint}"))
            })?;
            if lines.is_empty() && header.is_none() && v.get("classes").is_some() {
                header = Some(parse_header(&v, names, path, i + 1)?);
                continue;
            }
            let (line, k) = parse_line(&v, names, header.as_deref(), path, i + 1)?;
            if kind.is_some_and(|prev| prev != k) {
                return Err(bad(path, i + 1, "mixes `logits` and `probs` lines"));
            }
            kind = Some(k);
            lines.push(line);
        }
        let kind = kind.ok_or_else(|| bad(path, 0, "no outputs (every line is blank or a header)"))?;
        let order = align(&lines, path, data, rows)?;
        let c = names.len();
        let mut logits = Vec::with_capacity(rows * c);
        for &k in &order {
            logits.extend_from_slice(&lines[k].values);
        }
        let embedding_dim = lines[0].embedding.as_ref().map_or(0, Vec::len);
        for l in &lines {
            let d = l.embedding.as_ref().map_or(0, Vec::len);
            if d != embedding_dim {
                let reason = format!("an embedding of width {d}; the first line's has {embedding_dim}");
                return Err(bad(path, l.row, reason));
            }
        }
        let embeddings = (embedding_dim > 0).then(|| {
            order
                .iter()
                .flat_map(|&k| lines[k].embedding.clone().unwrap_or_default())
                .collect()
        });
        Ok(Self {
            path: path.to_path_buf(),
            id: crate::util::Fnv64::hash(&bytes),
            kind,
            class_names: names.to_vec(),
            logits,
            embeddings,
            embedding_dim,
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.logits.len() / self.class_names.len().max(1)
    }

    /// Classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The teacher's class probabilities (a softmax of the logits),
    /// row-major `[rows, classes]`.
    pub fn probabilities(&self) -> Vec<f32> {
        let mut p = Vec::with_capacity(self.logits.len());
        for row in self.logits.chunks(self.num_classes().max(1)) {
            p.extend(softmax(row));
        }
        p
    }

    /// The teacher's class for every row (ties to the lower class).
    pub fn predictions(&self) -> Vec<usize> {
        self.logits
            .chunks(self.num_classes().max(1))
            .map(|row| (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b }))
            .collect()
    }

    /// A short description for the manifest: `supplied logits` or
    /// `supplied probabilities`, with the embeddings' width.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            OutputKind::Logits => "supplied logits",
            OutputKind::Probabilities => "supplied probabilities",
        };
        match self.embedding_dim {
            0 => what.to_string(),
            d => format!("{what} and {d}-d embeddings"),
        }
    }
}

/// The softmax of one row, in f64 then rounded.
pub(crate) fn softmax(row: &[f32]) -> impl Iterator<Item = f32> + '_ {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f64 = row.iter().map(|&v| f64::from(v - m).exp()).sum();
    row.iter().map(move |&v| (f64::from(v - m).exp() / z) as f32)
}

/// The header line's classes, which must be the data's.
fn parse_header(v: &serde_json::Value, names: &[String], path: &Path, row: usize) -> Result<Vec<String>> {
    let list = v
        .get("classes")
        .and_then(|c| c.as_array())
        .ok_or_else(|| bad(path, row, "`classes` must be a list of class names"))?;
    let classes: Vec<String> = list
        .iter()
        .map(|c| super::input::json_key(Some(c)).ok_or_else(|| bad(path, row, "a class name must be a string")))
        .collect::<Result<_>>()?;
    same_classes(classes.iter().map(String::as_str), names, path, row)?;
    Ok(classes)
}

/// Checks that `classes` are exactly the data's class names.
fn same_classes<'a>(classes: impl Iterator<Item = &'a str>, names: &[String], path: &Path, row: usize) -> Result<()> {
    let mut seen = vec![false; names.len()];
    for c in classes {
        let k = names.iter().position(|n| n == c).ok_or_else(|| {
            bad(
                path,
                row,
                format!("class '{c}' is not a label of the data ({})", names.join(", ")),
            )
        })?;
        if seen[k] {
            return Err(bad(path, row, format!("class '{c}' given twice")));
        }
        seen[k] = true;
    }
    match seen.iter().position(|s| !s) {
        Some(k) => Err(bad(path, row, format!("no value for class '{}'", names[k]))),
        None => Ok(()),
    }
}

/// One line's id, values in the data's class order, and embedding.
fn parse_line(
    v: &serde_json::Value,
    names: &[String],
    header: Option<&[String]>,
    path: &Path,
    row: usize,
) -> Result<(Line, OutputKind)> {
    let (field, kind) = match (v.get("logits"), v.get("probs")) {
        (Some(f), None) => (f, OutputKind::Logits),
        (None, Some(f)) => (f, OutputKind::Probabilities),
        (Some(_), Some(_)) => return Err(bad(path, row, "both `logits` and `probs`: give one")),
        (None, None) => return Err(bad(path, row, "no `logits` or `probs`")),
    };
    let c = names.len();
    let number = |x: &serde_json::Value, what: &str| -> Result<f32> {
        let f = x
            .as_f64()
            .ok_or_else(|| bad(path, row, format!("{what} is not a number")))? as f32;
        if f.is_finite() {
            Ok(f)
        } else {
            Err(bad(path, row, format!("{what} is not finite in 32-bit floats")))
        }
    };
    let mut values = vec![0f32; c];
    match field {
        serde_json::Value::Object(map) => {
            same_classes(map.keys().map(String::as_str), names, path, row)?;
            for (name, x) in map {
                let k = names.iter().position(|n| n == name).unwrap_or(0);
                values[k] = number(x, &format!("the value of class '{name}'"))?;
            }
        }
        serde_json::Value::Array(list) => {
            let order = header.ok_or_else(|| {
                bad(
                    path,
                    row,
                    "a list of values needs a first line {\"classes\": [...]} naming their order",
                )
            })?;
            let got: Vec<f32> = list
                .iter()
                .enumerate()
                .map(|(k, x)| number(x, &format!("value {k}")))
                .collect::<Result<_>>()?;
            if got.len() == 1 && c == 2 {
                // a sigmoid output for the header's second class
                let second = names.iter().position(|n| *n == order[1]).unwrap_or(1);
                values[second] = got[0];
                values[1 - second] = match kind {
                    OutputKind::Logits => 0.0,
                    OutputKind::Probabilities => 1.0 - got[0],
                };
            } else if got.len() != c {
                let reason = format!("{} values for {c} classes", got.len());
                return Err(bad(path, row, reason));
            } else {
                for (name, x) in order.iter().zip(got) {
                    values[names.iter().position(|n| n == name).unwrap_or(0)] = x;
                }
            }
        }
        _ => return Err(bad(path, row, "`logits`/`probs` must be a list or an object")),
    }
    if kind == OutputKind::Probabilities {
        if let Some(p) = values.iter().find(|p| !(-1e-6..=1.0 + 1e-6).contains(*p)) {
            return Err(bad(path, row, format!("probability {p} is outside [0, 1]")));
        }
        let sum: f32 = values.iter().sum();
        if (sum - 1.0).abs() > 1e-3 {
            return Err(bad(path, row, format!("probabilities sum to {sum}, not 1")));
        }
        for p in &mut values {
            *p = p.max(1e-12).ln();
        }
    }
    let embedding = match v.get("embedding") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(list)) if !list.is_empty() => Some(
            list.iter()
                .enumerate()
                .map(|(k, x)| number(x, &format!("embedding value {k}")))
                .collect::<Result<_>>()?,
        ),
        Some(_) => return Err(bad(path, row, "`embedding` must be a non-empty list of numbers")),
    };
    let id = match v.get("id") {
        None | Some(serde_json::Value::Null) => None,
        some => Some(super::input::json_key(some).ok_or_else(|| bad(path, row, "`id` must be a string or number"))?),
    };
    Ok((
        Line {
            row,
            id,
            values,
            embedding,
        },
        kind,
    ))
}

/// For each data row, the index of its line: by id when the lines have
/// ids, else by position.
fn align(lines: &[Line], path: &Path, data: &Path, rows: usize) -> Result<Vec<usize>> {
    let with_id = lines.iter().filter(|l| l.id.is_some()).count();
    if with_id == 0 {
        if lines.len() != rows {
            let reason = format!(
                "{} outputs for the {rows} rows of {} (without ids, one line a row in order)",
                lines.len(),
                data.display()
            );
            return Err(bad(path, 0, reason));
        }
        return Ok((0..rows).collect());
    }
    if let Some(l) = lines.iter().find(|l| l.id.is_none()) {
        return Err(bad(path, l.row, "no `id` (other lines have one)"));
    }
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(lines.len());
    for (k, l) in lines.iter().enumerate() {
        let id = l.id.as_deref().unwrap_or_default();
        if let Some(&first) = by_id.get(id) {
            let reason = format!("id '{id}' again (first on line {})", lines[first].row);
            return Err(bad(path, l.row, reason));
        }
        by_id.insert(id, k);
    }
    let ids = super::input::read_column(data, "id")?.ok_or_else(|| {
        bad(
            data,
            0,
            format!("no `id` column or field to match the ids of {}", path.display()),
        )
    })?;
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    ids.iter()
        .map(|(line, id)| {
            if let Some(first) = seen.insert(id, *line) {
                return Err(bad(data, *line, format!("id '{id}' again (first on line {first})")));
            }
            let missing = || format!("id '{id}' has no teacher output in {}", path.display());
            by_id
                .get(id.as_str())
                .copied()
                .ok_or_else(|| bad(data, *line, missing()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(data: &str, outputs: &str) -> (PathBuf, PathBuf, TextCorpus) {
        let dir = std::env::temp_dir().join(format!(
            "lelp-outputs-{}-{}",
            std::process::id(),
            crate::util::Fnv64::hash(outputs.as_bytes())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (d, o) = (dir.join("data.jsonl"), dir.join("outputs.jsonl"));
        std::fs::write(&d, data).unwrap();
        std::fs::write(&o, outputs).unwrap();
        let corpus = TextCorpus::from_jsonl(&d).unwrap();
        (d, o, corpus)
    }

    const DATA: &str = "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": \"neg\"}\n";

    #[test]
    fn lists_follow_the_header_and_one_value_is_a_sigmoid() {
        // the header's order is not the data's (neg, pos)
        let (d, o, corpus) = files(
            DATA,
            "{\"classes\": [\"pos\", \"neg\"]}\n{\"logits\": [2.0, -1.0]}\n{\"logits\": [0.5, 1.5]}\n",
        );
        let t = TeacherOutputs::read(&o, &d, &corpus).unwrap();
        assert_eq!(t.logits, vec![-1.0, 2.0, 1.5, 0.5]);
        assert_eq!(t.predictions(), vec![1, 0]);
        assert_eq!(t.kind, OutputKind::Logits);
        // one value with two classes: the header's second class's sigmoid
        let (d, o, corpus) = files(
            DATA,
            "{\"classes\": [\"neg\", \"pos\"]}\n{\"probs\": [0.8]}\n{\"probs\": [0.25]}\n",
        );
        let t = TeacherOutputs::read(&o, &d, &corpus).unwrap();
        let p = t.probabilities();
        let want = [0.2, 0.8, 0.75, 0.25];
        assert!(p.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{p:?}");
        let (d, o, corpus) = files(
            DATA,
            "{\"classes\": [\"neg\", \"pos\"]}\n{\"logits\": [3.0]}\n{\"logits\": [-3.0]}\n",
        );
        let t = TeacherOutputs::read(&o, &d, &corpus).unwrap();
        assert_eq!(t.logits, vec![0.0, 3.0, 0.0, -3.0]);
    }

    #[test]
    fn embeddings_are_all_or_nothing_and_of_one_width() {
        let ok = "{\"logits\": {\"neg\": 0, \"pos\": 1}, \"embedding\": [1, 2, 3]}\n\
                  {\"logits\": {\"neg\": 1, \"pos\": 0}, \"embedding\": [4, 5, 6]}\n";
        let (d, o, corpus) = files(DATA, ok);
        let t = TeacherOutputs::read(&o, &d, &corpus).unwrap();
        assert_eq!(t.embedding_dim, 3);
        assert_eq!(t.embeddings, Some(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!(t.describe(), "supplied logits and 3-d embeddings");
        for bad in [
            "{\"logits\": {\"neg\": 0, \"pos\": 1}, \"embedding\": [1, 2, 3]}\n{\"logits\": {\"neg\": 1, \"pos\": 0}, \"embedding\": [4, 5]}\n",
            "{\"logits\": {\"neg\": 0, \"pos\": 1}, \"embedding\": [1, 2, 3]}\n{\"logits\": {\"neg\": 1, \"pos\": 0}}\n",
            "{\"logits\": {\"neg\": 0, \"pos\": 1}, \"embedding\": [1, 2, 1e39]}\n{\"logits\": {\"neg\": 1, \"pos\": 0}, \"embedding\": [4, 5, 6]}\n",
        ] {
            let (d, o, corpus) = files(DATA, bad);
            let e = TeacherOutputs::read(&o, &d, &corpus).unwrap_err();
            assert!(matches!(e, LelpError::BadRecord { row: 1 | 2, .. }), "{e}");
        }
    }

    #[test]
    fn a_wrong_row_count_names_both_files() {
        let (d, o, corpus) = files(DATA, "{\"logits\": {\"neg\": 0, \"pos\": 1}}\n");
        let e = TeacherOutputs::read(&o, &d, &corpus).unwrap_err().to_string();
        assert!(
            e.contains("1 outputs for the 2 rows") && e.contains("data.jsonl"),
            "{e}"
        );
    }
}
