//! Validation findings.

use std::fmt;

use serde::Serialize;

use crate::dsl::located::Locations;

/// One problem found in a workflow document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Where, as a path: `steps[3].then[0].config.url` (empty: the document).
    pub path: String,
    /// Line in the source (1-based), when known.
    pub line: Option<usize>,
    /// Column in the source (1-based), when known.
    pub column: Option<usize>,
    /// Stable machine-readable code (see docs/DSL.md, "Validation").
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic without a location yet.
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            column: None,
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        let path = if self.path.is_empty() { "(document)" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// Every problem found, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, path: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push(Diagnostic::new(path, code, message));
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates over them.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Fills in line and column from `locs` (an unknown field points at its
    /// key, anything else at its value), then sorts by position.
    pub fn locate(&mut self, locs: &Locations) {
        for d in &mut self.0 {
            if d.line.is_some() {
                continue;
            }
            let pos = if d.code == "unknown-field" || d.code == "duplicate-key" {
                locs.key(&d.path)
            } else {
                locs.value(&d.path)
            };
            if let Some(p) = pos {
                d.line = Some(p.line);
                d.column = Some(p.column);
            }
        }
        self.0.sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.column.unwrap_or(0)));
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = levenshtein(&w, &c.to_ascii_lowercase());
        let limit = (c.len().max(word.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// ", did you mean `x`?" or "".
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("dependson", ["dependsOn", "description"]), Some("dependsOn"));
        assert_eq!(did_you_mean("acton", ["action", "as"]), Some("action"));
        assert_eq!(did_you_mean("zzzzzz", ["action", "as"]), None);
        assert_eq!(suggestion("TRANSFROM", ["TRANSFORM", "DELAY"]), " (did you mean `TRANSFORM`?)");
    }
}
