//! Differences between two JSON documents, path by path (objects by key in
//! the first document's order then the second's new keys, arrays by index).

use serde_json::Value;

use crate::dto::ChangeOut;

/// Every difference from `a` to `b`.
pub(crate) fn diff(a: &Value, b: &Value) -> Vec<ChangeOut> {
    let mut out = Vec::new();
    walk("", a, b, &mut out);
    out
}

fn key_path(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<ChangeOut>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => walk(&key_path(path, k), va, vb, out),
                    None => out.push(ChangeOut {
                        path: key_path(path, k),
                        op: "removed".into(),
                        from: Some(va.clone()),
                        to: None,
                    }),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(ChangeOut {
                        path: key_path(path, k),
                        op: "added".into(),
                        from: None,
                        to: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => walk(&p, va, vb, out),
                    (Some(va), None) => out.push(ChangeOut {
                        path: p,
                        op: "removed".into(),
                        from: Some(va.clone()),
                        to: None,
                    }),
                    (None, Some(vb)) => out.push(ChangeOut {
                        path: p,
                        op: "added".into(),
                        from: None,
                        to: Some(vb.clone()),
                    }),
                    (None, None) => {}
                }
            }
        }
        _ if a == b => {}
        _ => out.push(ChangeOut {
            path: path.to_owned(),
            op: "changed".into(),
            from: Some(a.clone()),
            to: Some(b.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_and_ops() {
        let a = json!({"name": "a", "steps": [{"key": "x", "config": {"v": 1}}], "gone": true});
        let b = json!({"name": "b", "steps": [{"key": "x", "config": {"v": 2}}, {"key": "y"}], "new": 1});
        let d: Vec<(String, String)> = diff(&a, &b).into_iter().map(|c| (c.path, c.op)).collect();
        assert_eq!(
            d,
            [
                ("name".to_owned(), "changed".to_owned()),
                ("steps[0].config.v".into(), "changed".into()),
                ("steps[1]".into(), "added".into()),
                ("gone".into(), "removed".into()),
                ("new".into(), "added".into()),
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }
}
