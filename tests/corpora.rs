//! Text corpora (feature `text`): gzip, the file's own split, regrouping
//! classes into few classes with the old class as the fine label, and the
//! two sets with true fine labels (20 Newsgroups, CLINC150) read from
//! ../shared/data/text (or `$LELP_TEXT_DATA`), skipped with a message
//! where that folder is absent (a user's clone).

use std::path::PathBuf;

use lelp::LelpError;
use lelp::text::{Regroup, TextCorpus};

/// tests/data/corpora/demo.jsonl (and its gzip copy, both written by
/// tests/data/corpora/make.py).
const JSONL: &str = include_str!("data/corpora/demo.jsonl");

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpora")
        .join(name)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lelp-corpora-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn gzip_reads_as_the_plain_file() {
    let a = TextCorpus::from_jsonl(fixture("demo.jsonl")).unwrap();
    let b = TextCorpus::from_jsonl(fixture("demo.jsonl.gz")).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 5);
    assert_eq!(a.class_names, ["comp", "misc", "rec", "sci"]);
    assert_eq!(a.labels, [0, 3, 2, 1, 3]);
    assert_eq!(a.splits.as_deref().unwrap()[1], "test");
    // CSV through gzip too, with a split column
    let c = TextCorpus::from_csv(fixture("demo.csv.gz")).unwrap();
    assert_eq!(c.split_rows("test").unwrap(), [1]);
    // a damaged archive names the file
    let bad = temp("bad.jsonl.gz");
    let mut bytes = std::fs::read(fixture("demo.jsonl.gz")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bad, bytes).unwrap();
    let e = TextCorpus::from_jsonl(&bad).unwrap_err();
    assert!(matches!(&e, LelpError::Corrupted { path, .. } if path == &bad), "{e:?}");
    let e = TextCorpus::from_jsonl(temp("absent.jsonl.gz")).unwrap_err();
    assert!(matches!(e, LelpError::FileNotFound { .. }), "{e:?}");
}

#[test]
fn own_split_and_its_errors() {
    let c = TextCorpus::parse_jsonl(JSONL.as_bytes(), "x.jsonl").unwrap();
    assert_eq!(c.split_rows("train").unwrap(), [0, 2, 3, 4]);
    assert!(matches!(
        c.split_rows("val"),
        Err(LelpError::InvalidParameter { name: "split", .. })
    ));
    let s = c.subset(&[4, 1]).unwrap();
    assert_eq!(s.texts, ["encryption keys", "orbital launch"]);
    assert_eq!(s.splits, Some(vec!["train".to_string(), "test".to_string()]));
    assert!(matches!(c.subset(&[5]), Err(LelpError::InvalidParameter { .. })));
    // a split on some rows only names the row
    let e = TextCorpus::parse_jsonl(
        b"{\"text\": \"a\", \"label\": 1, \"split\": \"train\"}\n{\"text\": \"b\", \"label\": 2}\n",
        "y.jsonl",
    )
    .unwrap_err();
    assert!(matches!(e, LelpError::BadRecord { row: 2, .. }), "{e:?}");
    // no split at all
    let plain = TextCorpus::parse_csv(b"text,label\na,x\nb,y\n", "z.csv").unwrap();
    assert!(plain.splits.is_none());
    assert!(plain.split_rows("train").is_err());
}

#[test]
fn regroup_maps_classes_and_keeps_fine_labels() {
    let c = TextCorpus::parse_jsonl(JSONL.as_bytes(), "x.jsonl").unwrap();
    let tech = c.regroup(&"tech=comp,sci;rest=rec,misc".parse().unwrap()).unwrap();
    assert_eq!(tech.class_names, ["tech", "rest"]);
    assert_eq!(tech.labels, [0, 0, 1, 1, 0]);
    assert_eq!(tech.fine_labels, c.fine_labels);
    assert_eq!(tech.splits, c.splits);
    // an unnamed class is dropped with its rows
    let some = c.regroup(&"a=comp;b=rec".parse().unwrap()).unwrap();
    assert_eq!(some.texts, ["new gpu drivers", "hockey scores"]);
    // parity over the sorted names comp, misc, rec, sci
    let p = c.regroup(&Regroup::Parity).unwrap();
    assert_eq!(p.class_names, ["even", "odd"]);
    assert_eq!(p.labels, [0, 1, 0, 1, 1]);
    // without fine labels the old class becomes the fine label
    let plain = TextCorpus::parse_csv(b"text,label\na,x\nb,y\nc,z\n", "z.csv").unwrap();
    let g = plain.regroup(&Regroup::Parity).unwrap();
    assert_eq!(g.fine_labels, Some(vec![0, 1, 2]));
    assert_eq!(g.fine_names.unwrap(), ["x", "y", "z"]);
    // errors are typed and name the class or the spec
    for (spec, what) in [("t=comp,nope", "nope"), ("t=comp;u=comp", "comp")] {
        let e = c.regroup(&spec.parse().unwrap()).unwrap_err();
        assert!(
            matches!(&e, LelpError::InvalidParameter { name: "regroup", value, .. } if value == what),
            "{e:?}"
        );
    }
    for spec in ["", "tech", "=comp", "t="] {
        assert!(
            matches!(spec.parse::<Regroup>(), Err(LelpError::InvalidParameter { .. })),
            "{spec:?}"
        );
    }
}

/// The shared sets, when present: counts and the tasks' class structure.
#[test]
fn twenty_newsgroups_and_clinc150_tasks() {
    let dir = std::env::var("LELP_TEXT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/text"));
    let (ng, clinc) = (dir.join("20ng.jsonl.gz"), dir.join("clinc150.jsonl.gz"));
    if !ng.exists() || !clinc.exists() {
        eprintln!("SKIPPED: {} holds no 20ng.jsonl.gz / clinc150.jsonl.gz", dir.display());
        return;
    }
    let ng = TextCorpus::from_jsonl(ng).unwrap();
    assert_eq!(ng.len(), 18_846);
    assert_eq!(ng.class_names.len(), 6);
    assert_eq!(ng.fine_names.as_ref().unwrap().len(), 20);
    assert_eq!(ng.split_rows("train").unwrap().len(), 11_314);
    assert_eq!(ng.split_rows("test").unwrap().len(), 7_532);
    let tech = ng
        .regroup(&"tech=comp,sci;rest=misc,politics,rec,religion".parse().unwrap())
        .unwrap();
    assert_eq!(tech.len(), ng.len());
    let fine_per_class = |c: &TextCorpus, class: usize| {
        let mut f: Vec<usize> = (0..c.len())
            .filter(|&i| c.labels[i] == class)
            .map(|i| c.fine_labels.as_ref().unwrap()[i])
            .collect();
        f.sort();
        f.dedup();
        f.len()
    };
    assert_eq!((fine_per_class(&tech, 0), fine_per_class(&tech, 1)), (9, 11));

    let clinc = TextCorpus::from_jsonl(clinc).unwrap();
    assert_eq!(clinc.len(), 22_500);
    assert_eq!(clinc.class_names.len(), 10);
    assert_eq!(clinc.split_rows("val").unwrap().len(), 3_000);
    let parity = clinc.regroup(&Regroup::Parity).unwrap();
    assert_eq!((fine_per_class(&parity, 0), fine_per_class(&parity, 1)), (75, 75));
}

/// CSV errors name the file line a record starts on, not its record
/// number: quoted fields may span lines (RFC 4180).
#[test]
fn csv_errors_name_file_lines() {
    let csv = b"text,label\n\"one\nfield over\nthree lines\",a\nshort,b\nmissing label\n";
    let e = TextCorpus::parse_csv(csv, "lines.csv").unwrap_err();
    // the fourth record starts on line 6 (the header is line 1)
    assert!(matches!(e, LelpError::BadRecord { row: 6, .. }), "{e:?}");
    let ok = TextCorpus::parse_csv(b"text,label\n\"a\r\nb\",x\nc,y\n", "crlf.csv").unwrap();
    assert_eq!(ok.texts, ["a\r\nb", "c"]);
    // the reading of a text column alone (`lelp predict`) counts lines too
    let path = std::env::temp_dir().join(format!("lelp-lines-{}.csv", std::process::id()));
    std::fs::write(&path, b"id,text\n1,\"x\ny\"\n2\n").unwrap();
    let e = lelp::deploy::read_texts_column(&path, "text").unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(e, LelpError::BadRecord { row: 4, .. }), "{e:?}");
}
