//! The size of a value as compact JSON, counted without building the text
//! (a step's output may be megabytes: the limits check its size first).

/// Bytes of `v` serialized as compact JSON (`serde_json::to_string`'s
/// length); a value that does not serialize counts as `usize::MAX`, over
/// every limit.
pub fn compact_json_len<T: serde::Serialize + ?Sized>(v: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, v) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn the_count_is_the_length_of_the_compact_text() {
        for v in [
            json!(null),
            json!({"a": [1, 2.5, "x\"y\n", {"é": true}], "b": {}}),
            json!("\u{1}"),
        ] {
            assert_eq!(compact_json_len(&v), serde_json::to_string(&v).unwrap().len(), "{v}");
        }
    }

    #[test]
    fn a_value_that_does_not_serialize_is_over_every_limit() {
        // JSON object keys must be strings
        let m = BTreeMap::from([(vec![1u8], 1)]);
        assert_eq!(compact_json_len(&m), usize::MAX);
    }
}
