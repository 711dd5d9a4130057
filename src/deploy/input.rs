//! Reading the texts a user hands the tool: labelled files for `distill`
//! and `eval`, unlabelled ones for `predict`. Invalid UTF-8 is an error
//! naming the file and the line, never silently replaced.

use std::path::Path;

use crate::error::{LelpError, Result};
use crate::text::TextCorpus;
use crate::text::corpus::{parse_csv, read_maybe_gzip};

/// The file's format, from its name (a `.gz` suffix is looked through).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Csv,
    Jsonl,
    Lines,
}

fn format_of(path: &Path) -> Format {
    let name = path.to_string_lossy().to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".csv") {
        Format::Csv
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        Format::Jsonl
    } else {
        Format::Lines
    }
}

/// `bytes` as UTF-8, or a [`LelpError::BadRecord`] naming the line of the
/// first invalid byte.
pub(crate) fn utf8<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        LelpError::BadRecord {
            path: path.to_path_buf(),
            row: line,
            reason: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        }
    })
}

/// A labelled text file: CSV with `text` and `label` columns, or JSON lines
/// with `text` and `label` fields (optional `fine_label` and `split`), gzip
/// when the name ends in `.gz`.
///
/// # Errors
/// [`LelpError::FileNotFound`] / [`LelpError::Io`]; [`LelpError::BadRecord`]
/// naming the file and row for invalid UTF-8, a missing column or field,
/// or a malformed line; [`LelpError::EmptyData`] for a file without rows.
pub fn read_labelled(path: impl AsRef<Path>) -> Result<TextCorpus> {
    read_labelled_columns(path, "text", "label")
}

/// [`read_labelled`] with the text and the label in the columns (CSV) or
/// fields (JSON lines) named `text` and `label`.
///
/// # Errors
/// As [`read_labelled`].
pub fn read_labelled_columns(path: impl AsRef<Path>, text: &str, label: &str) -> Result<TextCorpus> {
    read_labelled_with(path, text, label, None)
}

/// [`read_labelled_columns`] for multi-label files too: a JSON label field
/// that is a list (`"label": ["billing", "urgent"]`; `[]` for a row with
/// none of the labels) makes the file multi-label
/// ([`TextCorpus::label_sets`]); with `separator`, a CSV label cell (or a
/// JSON label string) is split at it (`billing|urgent`) and the file is
/// multi-label. An empty label in a list is an error, and so is an empty
/// CSV cell (write a row with none of the labels as `[]` in JSON lines).
///
/// # Errors
/// As [`read_labelled`], and [`LelpError::BadRecord`] naming the row for
/// an empty label, a list member that is not a string, or an empty cell.
///
/// # Example
/// ```
/// let dir = std::env::temp_dir().join(format!("lelp-doc-multi-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("tickets.csv");
/// std::fs::write(&path, "text,label\nrefund please,billing|urgent\nnew address,account\n")?;
/// let corpus = lelp::deploy::read_labelled_with(&path, "text", "label", Some("|"))?;
/// assert_eq!(corpus.class_names, ["account", "billing", "urgent"]);
/// assert_eq!(corpus.label_sets, Some(vec![vec![1, 2], vec![0]]));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_labelled_with(
    path: impl AsRef<Path>,
    text: &str,
    label: &str,
    separator: Option<&str>,
) -> Result<TextCorpus> {
    let path = path.as_ref();
    if separator.is_some_and(str::is_empty) {
        return Err(LelpError::InvalidParameter {
            name: "label-separator",
            value: String::new(),
            reason: "an empty separator: name the character between a row's labels, e.g. '|'",
        });
    }
    let bytes = read_maybe_gzip(path)?;
    utf8(&bytes, path)?;
    match format_of(path) {
        Format::Jsonl => TextCorpus::parse_jsonl_fields(&bytes, path, text, label, separator),
        // `sentiment` stands in for a missing `label` column, as in TextCorpus::parse_csv
        _ if label == "label" => TextCorpus::parse_csv_columns(&bytes, path, text, &["label", "sentiment"], separator),
        _ => TextCorpus::parse_csv_columns(&bytes, path, text, &[label], separator),
    }
}

/// Texts to predict: CSV (the `text` column), JSON lines (the `text`
/// field) or plain text (one text a line; an empty line is an empty text),
/// gzip when the name ends in `.gz`; `-` reads standard input as plain
/// lines.
///
/// # Errors
/// [`LelpError::FileNotFound`] / [`LelpError::Io`]; [`LelpError::BadRecord`]
/// naming the file and row for invalid UTF-8, a CSV without a `text`
/// column, or a JSON line without a `text` string.
pub fn read_texts(path: impl AsRef<Path>) -> Result<Vec<String>> {
    read_texts_column(path, "text")
}

/// [`read_texts`] with the texts in the CSV column or JSON field `column`.
///
/// # Errors
/// As [`read_texts`].
pub fn read_texts_column(path: impl AsRef<Path>, column: &str) -> Result<Vec<String>> {
    let path = path.as_ref();
    let (bytes, format) = if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b).map_err(|e| LelpError::io("<stdin>", e))?;
        (b, Format::Lines)
    } else {
        (read_maybe_gzip(path)?, format_of(path))
    };
    let text = utf8(&bytes, path)?;
    let bad = |row: usize, reason: String| LelpError::BadRecord {
        path: path.to_path_buf(),
        row,
        reason,
    };
    match format {
        Format::Lines => Ok(text.lines().map(str::to_string).collect()),
        Format::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let v: serde_json::Value = serde_json::from_str(l).map_err(|e| bad(i + 1, e.to_string()))?;
                match v.get(column) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    _ => Err(bad(i + 1, format!("no \"{column}\" string"))),
                }
            })
            .collect(),
        Format::Csv => {
            let rows = parse_csv(text);
            let header = &rows.first().ok_or_else(|| bad(1, "no header row".into()))?.1;
            let col = header
                .iter()
                .position(|h| h.trim() == column)
                .ok_or_else(|| bad(1, format!("no '{column}' column")))?;
            rows.iter()
                .skip(1)
                .filter(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()))
                .map(|(line, r)| {
                    r.get(col)
                        .cloned()
                        .ok_or_else(|| bad(*line, format!("{} fields, no '{column}' field", r.len())))
                })
                .collect()
        }
    }
}

/// The `column` of a labelled file (CSV column or JSON field, a string or
/// a number), one value a row in the order [`read_labelled_columns`] reads
/// the rows, each with its line in the file (1-based, a CSV header being
/// line 1); none when no row has it.
///
/// # Errors
/// As [`read_labelled`]; [`LelpError::BadRecord`] for a row without the
/// value when other rows have it.
pub(crate) fn read_column(path: &Path, column: &str) -> Result<Option<Vec<(usize, String)>>> {
    let bytes = read_maybe_gzip(path)?;
    let text = utf8(&bytes, path)?;
    let bad = |row: usize, reason: String| LelpError::BadRecord {
        path: path.to_path_buf(),
        row,
        reason,
    };
    let values: Vec<(usize, Option<String>)> = match format_of(path) {
        Format::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let v: serde_json::Value = serde_json::from_str(l).map_err(|e| bad(i + 1, e.to_string()))?;
                Ok((i + 1, json_key(v.get(column))))
            })
            .collect::<Result<_>>()?,
        _ => {
            let rows = parse_csv(text);
            let Some((_, header)) = rows.first() else {
                return Ok(None);
            };
            let Some(col) = header.iter().position(|h| h.trim() == column) else {
                return Ok(None);
            };
            rows.iter()
                .skip(1)
                .filter(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()))
                .map(|(line, r)| (*line, r.get(col).map(|v| v.trim().to_string())))
                .collect()
        }
    };
    if values.iter().all(|(_, v)| v.is_none()) {
        return Ok(None);
    }
    values
        .into_iter()
        .map(|(row, v)| {
            v.map(|v| (row, v))
                .ok_or_else(|| bad(row, format!("no '{column}' value (other rows have one)")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A JSON string or number as a key (`7` and `"7"` are the same id).
pub(crate) fn json_key(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_keeps_the_rows_and_lines_the_corpus_reads() {
        let dir = std::env::temp_dir().join(format!("lelp-read-column-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // CSV: the header is line 1, a blank line is no row
        let csv = dir.join("d.csv");
        std::fs::write(&csv, "id,text,label\n7,a b,x\n\n8,\"c, d\",y\n").unwrap();
        let corpus = read_labelled(&csv).unwrap();
        let ids = read_column(&csv, "id").unwrap().unwrap();
        assert_eq!(corpus.len(), ids.len());
        assert_eq!(ids, vec![(2, "7".to_string()), (4, "8".to_string())]);
        assert_eq!(read_column(&csv, "nope").unwrap(), None);
        // JSON lines: numbers and strings alike, blank lines skipped
        let jsonl = dir.join("d.jsonl");
        let text =
            "{\"id\": 1, \"text\": \"a\", \"label\": \"x\"}\n\n{\"id\": \"b\", \"text\": \"c\", \"label\": \"y\"}\n";
        std::fs::write(&jsonl, text).unwrap();
        let ids = read_column(&jsonl, "id").unwrap().unwrap();
        assert_eq!(ids, vec![(1, "1".to_string()), (3, "b".to_string())]);
        // an id on some rows only names the first row without one
        std::fs::write(
            &jsonl,
            "{\"id\": 1, \"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"c\", \"label\": \"y\"}\n",
        )
        .unwrap();
        let e = read_column(&jsonl, "id").unwrap_err();
        assert!(matches!(e, LelpError::BadRecord { row: 2, .. }), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
