//! Does the name on a license photo belong to the person who typed their legal name? Fuzzy on
//! purpose: case, accents, punctuation, word order, initials, a missing middle name and a
//! one-letter typo do not matter; a different person does, even one sharing a surname.
//!
//! Both names become word lists (accents dropped, or spelled out the German way: "Müller" is
//! "muller" and "mueller"). The document's first and last names must each find a word of the
//! typed name; its middle names may; every typed word must find one. Words compare by
//! Jaro-Winkler similarity (an initial matches a word it begins), and the score is the mean over
//! the words that must match. The best pairing of words wins, so order does not matter.

/// `matched` is `score >= MATCH_THRESHOLD` (API.md).
pub const MATCH_THRESHOLD: f64 = 0.85;

/// Each side compares at most this many words (bounds the pairing search to 7^6 leaves).
const MAX_WORDS: usize = 6;

/// A name as the document spells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentName {
    pub first: String,
    pub middle: String,
    pub last: String,
}

/// How alike a typed legal name and a document's name are, from 0 to 1.
pub fn name_score(typed: &str, document: &DocumentName) -> f64 {
    [Spelling::Plain, Spelling::German]
        .into_iter()
        .map(|spelling| {
            let typed = words(typed, spelling);
            let mut required: Vec<String> =
                [&document.first, &document.last].iter().flat_map(|part| words(part, spelling)).collect();
            required.truncate(MAX_WORDS);
            let mut optional = words(&document.middle, spelling);
            optional.truncate(MAX_WORDS - required.len());
            best_pairing(&typed, &required, &optional)
        })
        .fold(0.0, f64::max)
}

#[derive(Clone, Copy)]
enum Spelling {
    /// Accents dropped: "Müller" is "muller".
    Plain,
    /// Umlauts spelled out first: "Müller" is "mueller" (how passports and US licenses often
    /// print German names).
    German,
}

/// Lower-case ASCII words; apostrophes join ("O'Brien" is "obrien"), other punctuation splits
/// ("Smith-Jones" is "smith jones").
fn words(name: &str, spelling: Spelling) -> Vec<String> {
    let spelled: String = match spelling {
        Spelling::Plain => name.to_owned(),
        Spelling::German => name
            .chars()
            .flat_map(|c| match c {
                'ä' | 'Ä' => "ae".chars().collect::<Vec<_>>(),
                'ö' | 'Ö' => "oe".chars().collect(),
                'ü' | 'Ü' => "ue".chars().collect(),
                'ß' => "ss".chars().collect(),
                other => vec![other],
            })
            .collect(),
    };
    deunicode::deunicode(&spelled)
        .to_lowercase()
        .replace(['\'', '’', '`'], "")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(str::to_owned)
        .collect()
}

fn word_similarity(a: &str, b: &str) -> f64 {
    let initial_of = |short: &str, long: &str| short.len() == 1 && long.starts_with(short);
    if a == b {
        1.0
    } else if initial_of(a, b) || initial_of(b, a) {
        0.9
    } else {
        strsim::jaro_winkler(a, b)
    }
}

/// The best score over every way of pairing typed words with document words (each used once).
fn best_pairing(typed: &[String], required: &[String], optional: &[String]) -> f64 {
    if typed.is_empty() || required.is_empty() {
        return 0.0;
    }
    let document: Vec<(&str, bool)> = required
        .iter()
        .map(|w| (w.as_str(), true))
        .chain(optional.iter().map(|w| (w.as_str(), false)))
        .collect();
    let mut best = 0.0;
    let mut used = vec![false; document.len()];
    search(typed, &document, &mut used, 0.0, 0, &mut best);
    best
}

/// Depth-first over the typed words: each pairs with an unused document word or with none.
/// `sum` holds the similarities so far, `unpaired` the typed words left without a partner.
fn search(
    typed: &[String],
    document: &[(&str, bool)],
    used: &mut [bool],
    sum: f64,
    unpaired: usize,
    best: &mut f64,
) {
    let Some((word, rest)) = typed.split_first() else {
        let required = document.iter().filter(|(_, r)| *r).count();
        let optional_paired = document.iter().zip(used.iter()).filter(|((_, r), u)| !*r && **u).count();
        // Every required word and every typed word counts once.
        let slots = required + optional_paired + unpaired;
        *best = f64::max(*best, sum / slots as f64);
        return;
    };
    for i in 0..document.len() {
        if !used[i] {
            used[i] = true;
            search(rest, document, used, sum + word_similarity(word, document[i].0), unpaired, best);
            used[i] = false;
        }
    }
    search(rest, document, used, sum, unpaired + 1, best);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(first: &str, middle: &str, last: &str) -> DocumentName {
        DocumentName { first: first.into(), middle: middle.into(), last: last.into() }
    }

    fn matches(typed: &str, document: &DocumentName) -> bool {
        name_score(typed, document) >= MATCH_THRESHOLD
    }

    #[test]
    fn same_person_written_differently() {
        let alice = doc("ALICE", "MARIE", "EXAMPLE");
        for typed in [
            "Alice Marie Example",
            "alice example",
            "EXAMPLE, Alice",
            "Example Alice Marie",
            "Alice M. Example",
            "A. Marie Example",
            "Alice Exmaple",
            "Alice  Examples",
        ] {
            assert!(matches(typed, &alice), "{typed:?} scored {}", name_score(typed, &alice));
        }
    }

    #[test]
    fn accents_transliterations_and_compound_surnames() {
        assert!(matches("Jürgen Müller", &doc("JUERGEN", "", "MUELLER")));
        assert!(matches("Juergen Mueller", &doc("JÜRGEN", "", "MÜLLER")));
        assert!(matches("José García Márquez", &doc("JOSE", "", "GARCIA-MARQUEZ")));
        assert!(matches("Mary-Jane O'Brien", &doc("MARY JANE", "", "OBRIEN")));
        assert!(matches("Zoë Saldaña", &doc("ZOE", "", "SALDANA")));
        assert!(matches("Nguyễn Văn An", &doc("AN", "VAN", "NGUYEN")));
    }

    #[test]
    fn different_people_do_not_match() {
        let alice = doc("ALICE", "", "SMITH");
        for typed in ["Robert Smith", "Alice Johnson", "Smith", "Alice", "Bob Jones", "Alicia Smithers-Kline"]
        {
            assert!(!matches(typed, &alice), "{typed:?} scored {}", name_score(typed, &alice));
        }
        // A surname shared within a family.
        assert!(!matches("Maria Garcia Lopez", &doc("JUAN", "", "GARCIA LOPEZ")));
        // An extra typed word the document does not have lowers the score.
        assert!(!matches("Alice Smith Jones Brown", &alice));
    }

    #[test]
    fn empty_names_never_match() {
        assert_eq!(name_score("", &doc("ALICE", "", "SMITH")), 0.0);
        assert_eq!(name_score("Alice Smith", &doc("", "", "")), 0.0);
    }
}
