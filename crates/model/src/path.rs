//! Step paths: where a step execution sits in a run.
//!
//! A top-level step's path is its key (`notify`). Inside loops the path
//! carries each enclosing iteration (`items[2].price`,
//! `outer[0].inner[3].price`), and a loop iteration's own row is the loop's
//! path and index (`items[2]`). The part before the last key, with its
//! trailing dot, is the *loop prefix* (`items[2].` of `items[2].price`).
//! Paths are stored as these strings (`step_executions.path`); [`StepPath`]
//! is the one place that reads and builds them.

use std::fmt;

/// A step execution's path, borrowed from where it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepPath<'a>(&'a str);

impl<'a> StepPath<'a> {
    /// The path `path`.
    pub fn new(path: &'a str) -> Self {
        Self(path)
    }

    /// The path as stored.
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// Whether this is a loop iteration's own row (`items[2]`).
    pub fn is_iteration(self) -> bool {
        self.0.ends_with(']')
    }

    /// The loop prefix: `a[1].b[2].key` → `a[1].b[2].`; `key` → ``; an
    /// iteration's own row `a[1]` → ``.
    pub fn prefix(self) -> &'a str {
        match self.0.rfind("].") {
            Some(i) => &self.0[..i + 2],
            None => "",
        }
    }

    /// The iteration indexes of the loop prefix, outermost first
    /// (`a[1].b[20].key` → `[1, 20]`).
    pub fn indexes(self) -> Vec<usize> {
        indexes(self.prefix())
    }

    /// The path of iteration `i` of the loop at this path (`items` → `items[2]`).
    pub fn iteration(self, i: usize) -> String {
        format!("{}[{i}]", self.0)
    }
}

impl fmt::Display for StepPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The iteration indexes of a loop prefix, outermost first (`a[1].b[20].` → `[1, 20]`).
pub fn indexes(prefix: &str) -> Vec<usize> {
    prefix
        .split("].")
        .filter_map(|seg| seg.rsplit_once('[').and_then(|(_, n)| n.parse().ok()))
        .collect()
}

/// A loop prefix cut to its first `depth` loop levels
/// (`a[1].b[2].`, 1 → `a[1].`).
pub fn truncate_prefix(prefix: &str, depth: usize) -> &str {
    if depth == 0 {
        return "";
    }
    let mut seen = 0;
    for (i, _) in prefix.match_indices("].") {
        seen += 1;
        if seen == depth {
            return &prefix[..i + 2];
        }
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_by_their_parts() {
        let p = StepPath::new("outer[0].inner[13].price");
        assert!(!p.is_iteration());
        assert_eq!(p.prefix(), "outer[0].inner[13].");
        assert_eq!(p.indexes(), vec![0, 13]);
        assert_eq!(p.to_string(), "outer[0].inner[13].price");
        assert_eq!(p.as_str(), p.to_string(), "as stored");
        let top = StepPath::new("notify");
        assert_eq!((top.prefix(), top.indexes()), ("", vec![]));
        let it = StepPath::new("items[2]");
        assert!(it.is_iteration());
        assert_eq!(it.prefix(), "", "an iteration row sits at its loop's level");
        assert_eq!(StepPath::new("a[1].b[2]").prefix(), "a[1].");
        assert_eq!(StepPath::new("outer[0].inner").iteration(4), "outer[0].inner[4]");
    }

    #[test]
    fn prefixes_cut_to_a_depth() {
        assert_eq!(truncate_prefix("a[1].b[2].", 0), "");
        assert_eq!(truncate_prefix("a[1].b[2].", 1), "a[1].");
        assert_eq!(truncate_prefix("a[1].b[2].", 2), "a[1].b[2].");
        assert_eq!(truncate_prefix("a[1].", 5), "a[1].");
        assert_eq!(indexes("a[1].b[20]."), vec![1, 20]);
        assert_eq!(indexes(""), Vec::<usize>::new());
    }
}
