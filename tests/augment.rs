//! Transfer-set augmentation (`lelp::text::Augmenter`, `Neighbours`):
//! what each operation may and may not do to a text, its rates, the
//! negation guard, and nearest neighbours on a table whose geometry gives
//! the answer (tokens on a circle: nearest by cosine is nearest by angle).

use std::collections::HashSet;

use lelp::LelpError;
use lelp::data::Dataset;
use lelp::text::{AugmentConfig, Augmenter, Neighbours, WordPiece, is_negation};

/// A few hundred varied texts (deterministic).
fn texts() -> Vec<String> {
    let words = [
        "the", "film", "was", "good", "bad", "plot", "acting", "great", "weak", "story", "I", "really", "liked", "it",
        "not", "never", "don't", "music", "fine", "awful", "!", "movie,", "(boring)",
    ];
    (0..400)
        .map(|i: usize| {
            let len = 1 + (i * 7) % 13;
            (0..len)
                .map(|j| words[(i * 31 + j * 17 + j * j) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn augment(config: AugmentConfig, texts: &[String]) -> Vec<lelp::text::Augmented> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Augmenter::new(config).unwrap().augment(&refs)
}

#[test]
fn copies_are_new_distinct_and_at_most_the_count() {
    let texts = texts();
    let out = augment(AugmentConfig::new(5).with_seed(3), &texts);
    let mut per_source = vec![HashSet::new(); texts.len()];
    let mut last_source = 0;
    for a in &out {
        assert!(a.source >= last_source, "copies come in source order");
        last_source = a.source;
        let source = texts[a.source].split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(!a.text.is_empty());
        assert_ne!(a.text, source, "a copy equal to its source is left out");
        assert!(
            per_source[a.source].insert(a.text.clone()),
            "duplicate copy of text {}",
            a.source
        );
    }
    assert!(per_source.iter().all(|s| s.len() <= 5));
    // most texts of several words get all five copies
    let long = (0..texts.len()).filter(|&i| texts[i].split_whitespace().count() >= 8);
    let full = long.clone().filter(|&i| per_source[i].len() == 5).count();
    assert!(full * 10 >= long.count() * 8, "{full} texts with 5 copies");
}

#[test]
fn the_same_seed_gives_the_same_copies_and_another_seed_others() {
    let texts = texts();
    let a = augment(AugmentConfig::new(3).with_seed(1), &texts);
    let b = augment(AugmentConfig::new(3).with_seed(1), &texts);
    let c = augment(AugmentConfig::new(3).with_seed(2), &texts);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // a text's copies do not depend on the texts after it
    let first = augment(AugmentConfig::new(3).with_seed(1), &texts[..10]);
    let prefix: Vec<_> = a.iter().filter(|x| x.source < 10).cloned().collect();
    assert_eq!(first, prefix);
}

/// Whether `small` is a subsequence of `big`.
fn is_subsequence(small: &[&str], big: &[&str]) -> bool {
    let mut it = big.iter();
    small.iter().all(|w| it.any(|b| b == w))
}

#[test]
fn drops_keep_the_order_and_every_negation() {
    let texts = texts();
    let out = augment(AugmentConfig::new(4).with_swap(0.0).with_ngram(0.0), &texts);
    for a in &out {
        let src: Vec<&str> = texts[a.source].split_whitespace().collect();
        let copy: Vec<&str> = a.text.split_whitespace().collect();
        assert!(is_subsequence(&copy, &src), "{:?} from {:?}", a.text, texts[a.source]);
        let neg = |ws: &[&str]| ws.iter().filter(|w| is_negation(w)).count();
        assert_eq!(neg(&copy), neg(&src), "a negation was dropped: {:?}", a.text);
    }
}

#[test]
fn words_are_dropped_at_the_rate_asked() {
    // 40-word texts: a copy without a drop (then drawn again) has
    // probability 0.9^40 = 1.5%, so the rate among kept copies is
    // 0.1 / (1 - 0.9^40) = 0.1015; about 64,000 words give it a standard
    // error of 0.0012
    let base = texts();
    let long: Vec<String> = (0..400)
        .map(|i| {
            let words: Vec<&str> = (0..40)
                .map(|j| base[(i + j) % base.len()].split_whitespace().next().unwrap())
                .collect();
            words
                .iter()
                .map(|w| if is_negation(w) { "fine" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let out = augment(AugmentConfig::new(4).with_swap(0.0).with_ngram(0.0).with_seed(9), &long);
    let (mut dropped, mut words) = (0usize, 0usize);
    for a in &out {
        words += 40;
        dropped += 40 - a.text.split_whitespace().count();
    }
    let rate = dropped as f64 / words as f64;
    let want = 0.1 / (1.0 - 0.9f64.powi(40));
    assert!((rate - want).abs() < 0.006, "drop rate {rate}, expected {want}");
    // and at 0.3
    let out = augment(
        AugmentConfig::new(4).with_drop(0.3).with_swap(0.0).with_ngram(0.0),
        &long,
    );
    let rate = out
        .iter()
        .map(|a| 40 - a.text.split_whitespace().count())
        .sum::<usize>() as f64
        / (40 * out.len()) as f64;
    assert!((rate - 0.3).abs() < 0.01, "drop rate {rate}, expected 0.3");
}

#[test]
fn dropping_everything_leaves_exactly_the_negations() {
    let texts = [
        "this is not good",
        "I don't like it, never again",
        "no way",
        "plain words only",
    ];
    let refs: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
    let out = augment(
        AugmentConfig::new(2).with_drop(1.0).with_swap(0.0).with_ngram(0.0),
        &refs,
    );
    let got: Vec<(usize, &str)> = out.iter().map(|a| (a.source, a.text.as_str())).collect();
    // "no way" -> "no"; "plain words only" has no negation: an empty copy is left out
    assert_eq!(got, vec![(0, "not"), (1, "don't never"), (2, "no")]);
}

#[test]
fn ngrams_are_windows_of_the_source_and_never_start_after_a_negation() {
    let texts = texts();
    let out = augment(
        AugmentConfig::new(6).with_drop(0.0).with_swap(0.0).with_ngram(1.0),
        &texts,
    );
    assert!(!out.is_empty());
    let mut lengths = HashSet::new();
    for a in &out {
        let src: Vec<&str> = texts[a.source].split_whitespace().collect();
        let copy: Vec<&str> = a.text.split_whitespace().collect();
        let at = (0..=src.len() - copy.len())
            .filter(|&s| src[s..s + copy.len()] == copy[..])
            .collect::<Vec<_>>();
        assert!(!at.is_empty(), "{:?} is not a window of {:?}", a.text, texts[a.source]);
        // at most 5 words, more only when the window was extended to the
        // negations before it
        let leading = copy.iter().take_while(|w| is_negation(w)).count();
        assert!(copy.len() <= 5 + leading, "{:?}", a.text);
        // some occurrence of the window is not preceded by a negation
        assert!(
            at.iter().any(|&s| s == 0 || !is_negation(src[s - 1])),
            "{:?} cut after a negation",
            a.text
        );
        lengths.insert(copy.len());
    }
    assert!((1..=5).all(|n| lengths.contains(&n)), "lengths seen {lengths:?}");
}

/// A vocabulary and a table that puts its swappable tokens on a circle.
fn circle() -> (WordPiece, Vec<f32>, Vec<&'static str>) {
    let ring = ["good", "fine", "nice", "great", "bad", "awful", "poor", "weak"];
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    vocab.extend(ring.iter().map(|s| s.to_string()));
    vocab.extend(["not", "##ing", "x", "Cap", "zero"].iter().map(|s| s.to_string()));
    let tok = WordPiece::from_vocab(vocab.clone()).unwrap();
    let mut table = vec![0.0f32; vocab.len() * 2];
    // ring token k at angle 10 k^1.5 degrees: the gaps grow, so every
    // token has a unique nearest neighbour order; the scale varies, which
    // cosine must ignore
    for (k, _) in ring.iter().enumerate() {
        let a = (10.0 * (k as f32).powf(1.5)).to_radians();
        let r = 1.0 + k as f32;
        table[(4 + k) * 2] = r * a.cos();
        table[(4 + k) * 2 + 1] = r * a.sin();
    }
    // "not", "##ing", "x" and "Cap" point next to "good"; "zero" is zero
    for id in 12..16 {
        table[id * 2] = 1.0;
        table[id * 2 + 1] = 0.001;
    }
    (tok, table, ring.to_vec())
}

#[test]
fn neighbours_are_the_nearest_by_angle_among_swappable_tokens() {
    let (tok, table, ring) = circle();
    let words = ["Good!", "(bad)", "weak", "not", "x", "Cap", "zero", "absent", "fine"];
    let n = Neighbours::from_table(&tok, &table, 2, words, 3).unwrap();
    // independent answer: sort the ring by angular distance
    let angle = |k: usize| 10.0 * (k as f64).powf(1.5);
    for w in ["good", "bad", "weak", "fine"] {
        let q = ring.iter().position(|r| *r == w).unwrap();
        let mut others: Vec<usize> = (0..ring.len()).filter(|&k| k != q).collect();
        others.sort_by(|&a, &b| {
            let da = (angle(a) - angle(q)).abs().min(360.0 - (angle(a) - angle(q)).abs());
            let db = (angle(b) - angle(q)).abs().min(360.0 - (angle(b) - angle(q)).abs());
            da.partial_cmp(&db).unwrap()
        });
        let want: Vec<&str> = others[..3].iter().map(|&k| ring[k]).collect();
        let got: Vec<&str> = n.of(w).unwrap().iter().map(String::as_str).collect();
        assert_eq!(got, want, "neighbours of {w}");
    }
    // punctuation and case do not matter to the lookup
    assert_eq!(n.of("GOOD?"), n.of("good"));
    // negations, one-letter, capitalised, zero-row and unknown words have none
    // ("great" is swappable but was not among the words asked for)
    for w in ["not", "x", "Cap", "zero", "absent", "great"] {
        assert!(n.of(w).is_none(), "{w}");
    }
    assert_eq!(n.len(), 4);
}

#[test]
fn swaps_use_the_neighbours_and_keep_punctuation() {
    let (tok, table, _) = circle();
    let n = Neighbours::from_table(&tok, &table, 2, ["good", "bad"], 1).unwrap();
    let (good_n, bad_n) = (n.of("good").unwrap()[0].clone(), n.of("bad").unwrap()[0].clone());
    let aug = Augmenter::new(AugmentConfig::new(1).with_drop(0.0).with_swap(1.0).with_ngram(0.0))
        .unwrap()
        .with_neighbours(n);
    let out = aug.augment(&["a good, (bad) film not good"]);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].text,
        format!("a {good_n}, ({bad_n}) film not {good_n}"),
        "only words with neighbours change; negations stay"
    );
}

#[test]
fn bad_settings_are_typed_errors() {
    for config in [
        AugmentConfig::new(1).with_drop(-0.1),
        AugmentConfig::new(1).with_swap(1.5),
        AugmentConfig::new(1).with_ngram(f64::NAN),
        AugmentConfig::new(1).with_drop(0.6).with_swap(0.6),
        AugmentConfig::new(1).with_max_ngram(0),
    ] {
        assert!(
            matches!(Augmenter::new(config.clone()), Err(LelpError::InvalidParameter { .. })),
            "{config:?}"
        );
    }
    let (tok, table, _) = circle();
    assert!(matches!(
        Neighbours::from_table(&tok, &table[1..], 2, ["good"], 3),
        Err(LelpError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Neighbours::from_table(&tok, &table, 2, ["good"], 0),
        Err(LelpError::InvalidParameter { .. })
    ));
}

#[test]
fn concat_appends_rows_and_refuses_mismatched_sets() {
    let a = Dataset::new(vec![1.0, 2.0, 3.0, 4.0], 2, vec![0, 1], 2).unwrap();
    let b = Dataset::new(vec![5.0, 6.0], 2, vec![1], 2).unwrap();
    let ab = a.concat(&b).unwrap();
    assert_eq!(ab.len(), 3);
    assert_eq!(ab.labels(), &[0, 1, 1]);
    assert_eq!(ab.subset(&[2]).unwrap(), b);
    assert_eq!(ab.subset(&[0, 1]).unwrap(), a);
    let fine = |d: &Dataset, f: Vec<usize>| d.clone().with_fine_labels(f).unwrap();
    let abf = fine(&a, vec![3, 4]).concat(&fine(&b, vec![5])).unwrap();
    assert_eq!(abf.fine_labels(), Some(&[3, 4, 5][..]));
    let wide = Dataset::new(vec![1.0; 3], 3, vec![0], 2).unwrap();
    let three = Dataset::new(vec![1.0; 2], 2, vec![0], 3).unwrap();
    let tokens = Dataset::from_tokens(vec![vec![1]], vec![0], 2).unwrap();
    for other in [wide, three, tokens, fine(&b, vec![5])] {
        assert!(
            matches!(a.concat(&other), Err(LelpError::DimensionMismatch { .. })),
            "{other:?}"
        );
    }
}
