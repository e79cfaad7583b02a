//! Malformed input never panics: a bounded fuzz of the parser and the
//! validator. Two sources: every file of tests/fuzz-corpus (kept, grown
//! whenever a crash is found), and proptest mutations of the examples and
//! of random text. `ORBFLOW_FUZZ_CASES` sets the number of generated cases
//! (default 400).

mod support;

use std::path::PathBuf;

use orbflow_model::dsl::{self, Format};
use proptest::prelude::*;
use support::TestCatalog;

/// Runs the whole pipeline and checks the diagnostics are well formed.
fn check(text: &str, format: Format) {
    let lines = text.lines().count().max(1);
    match dsl::load(text, format, &TestCatalog::new()) {
        Ok(p) => {
            // a valid document survives a round trip
            let yaml = dsl::to_yaml(&p.workflow).expect("emit");
            let again = dsl::parse(&yaml, Format::Yaml).expect("re-parse of canonical YAML");
            assert_eq!(again.workflow, p.workflow);
        }
        Err(d) => {
            assert!(!d.is_empty());
            for x in d.iter() {
                assert!(!x.message.is_empty(), "{x:?}");
                assert!(!x.code.is_empty(), "{x:?}");
                if let Some(l) = x.line {
                    assert!(l >= 1 && l <= lines + 1, "line {l} outside 1..={lines}: {x:?}");
                }
            }
        }
    }
}

fn dir(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn corpus_never_panics() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir("tests/fuzz-corpus")).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let format = Format::from_path(&path.to_string_lossy());
        check(&text, format);
        n += 1;
    }
    assert!(n >= 25, "corpus has {n} files");
}

fn examples() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir("../../examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            out.push(std::fs::read_to_string(path).unwrap());
        }
    }
    out.sort();
    out
}

/// A mutation of a document.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, String),
    Truncate(usize),
    Replace(usize, char),
    Dedent(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop_oneof![
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("{{ ".to_owned()),
        Just(" }}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("!!int ".to_owned()),
        Just("\t".to_owned()),
        Just("\n".to_owned()),
        Just("type: loop\n".to_owned()),
        Just("dependsOn: [".to_owned()),
        Just("steps.".to_owned()),
        ".{0,6}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), token).prop_map(|(a, t)| Mutation::Insert(a, t)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<char>()).prop_map(|(a, c)| Mutation::Replace(a, c)),
        any::<usize>().prop_map(Mutation::Dedent),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len().max(1);
    let boundary = |s: &str, i: usize| {
        let mut i = i % (s.len() + 1);
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match m {
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
        Mutation::Dedent(i) if !lines.is_empty() => {
            let l = &mut lines[i % n];
            *l = l.trim_start().to_owned();
        }
        Mutation::Insert(i, t) => {
            let i = boundary(text, *i);
            return format!("{}{t}{}", &text[..i], &text[i..]);
        }
        Mutation::Truncate(i) => return text[..boundary(text, *i)].to_owned(),
        Mutation::Replace(i, c) => {
            let i = boundary(text, *i);
            let mut s = text.to_owned();
            if let Some(old) = s[i..].chars().next() {
                s.replace_range(i..i + old.len_utf8(), &c.to_string());
            }
            return s;
        }
        _ => {}
    }
    lines.join("\n") + "\n"
}

fn cases() -> u32 {
    std::env::var("ORBFLOW_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(which in any::<prop::sample::Index>(), ms in prop::collection::vec(mutation(), 1..6)) {
        let ex = examples();
        let mut text = ex[which.index(ex.len())].clone();
        for m in &ms {
            text = apply(&text, m);
        }
        check(&text, Format::Yaml);
        // the same document read as JSON must not panic either
        let _ = dsl::load(&text, Format::Json, &TestCatalog::new());
    }

    #[test]
    fn random_text_never_panics(text in "(schemaVersion: 1\n|name: x\n|steps:\n|  - |key: a\n|action: [A-Z]{1,9}\n|type: (loop|switch|condition)\n|[ -~]{0,12}\n){0,24}") {
        check(&text, Format::Yaml);
    }
}
