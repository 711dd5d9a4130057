//! What the text benches share: their texts.

use lelp::text::TextCorpus;

/// The first `n` CLINC150 queries where `../shared/data/text` has them
/// (`$LELP_TEXT_DATA`), else `n` made-up sentences of 5 to 40 words; and
/// which of the two.
pub fn texts(n: usize) -> (Vec<String>, &'static str) {
    let dir = std::env::var("LELP_TEXT_DATA").unwrap_or_else(|_| "../shared/data/text".into());
    if let Ok(c) = TextCorpus::from_jsonl(std::path::Path::new(&dir).join("clinc150.jsonl.gz")) {
        return (c.texts.into_iter().take(n).collect(), "CLINC150 queries");
    }
    let words = [
        "the", "meeting", "is", "moved", "to", "noon", "free", "money", "offer", "click", "here", "great", "movie",
        "terrible", "service", "flight", "booked", "please", "reply", "today",
    ];
    let made = (0..n)
        .map(|i| {
            (0..5 + i % 36)
                .map(|j| words[(i * 7 + j * 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (made, "made-up sentences")
}
