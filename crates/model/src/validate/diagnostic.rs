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
        self.0
            .sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.column.unwrap_or(0)));
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
        let lc = c.to_ascii_lowercase();
        let d = if w.len() >= 3 && lc.starts_with(&w) {
            1
        } else {
            distance(&w, &lc)
        };
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

/// Edit distance counting an adjacent transposition as one edit (optimal
/// string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            did_you_mean("dependson", ["dependsOn", "description"]),
            Some("dependsOn")
        );
        assert_eq!(did_you_mean("acton", ["action", "as"]), Some("action"));
        assert_eq!(did_you_mean("zzzzzz", ["action", "as"]), None);
        assert_eq!(did_you_mean("stpes", ["steps", "name"]), Some("steps"));
        assert_eq!(did_you_mean("cond", ["condition", "switch"]), Some("condition"));
        assert_eq!(
            suggestion("TRANSFROM", ["TRANSFORM", "DELAY"]),
            " (did you mean `TRANSFORM`?)"
        );
    }
}
