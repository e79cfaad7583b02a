//! docs/API.md's recorded session, replayed as written: its `hello.yaml`,
//! then every `$ ` command of its console blocks through `bash` (with the
//! built `orbflow` first on `PATH`), each output checked against the one
//! recorded. Ids, times, tokens and hashes differ from run to run: they are
//! compared by shape, and the ids the session printed are replaced, in the
//! commands that follow, by the ones this replay got. `…` in a recorded line
//! stands for whatever the line goes on with. The only other change: the
//! port (`orbflow dev` listens on a free one instead of 8080).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn api_md() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md")).unwrap()
}

/// The session section: its `yaml` block and its console blocks' commands
/// with the output recorded for each.
fn session(md: &str) -> (String, Vec<(String, Vec<String>)>) {
    let start = md
        .find("## A session, from token to finished run")
        .expect("the session section");
    let rest = &md[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    let section = &rest[..end];
    let mut yaml = String::new();
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let mut block: Option<&str> = None;
    let mut lines = section.lines().peekable();
    while let Some(line) = lines.next() {
        match (block, line.trim_end()) {
            (None, "```yaml") => block = Some("yaml"),
            (None, "```console") => block = Some("console"),
            (Some(_), "```") => block = None,
            (Some("yaml"), l) => {
                yaml.push_str(l);
                yaml.push('\n');
            }
            (Some("console"), l) if l.starts_with("$ ") => {
                let mut cmd = l[2..].to_owned();
                while cmd.ends_with('\\') {
                    cmd.pop();
                    cmd.push(' ');
                    cmd.push_str(lines.next().unwrap().trim());
                }
                steps.push((cmd, Vec::new()));
            }
            (Some("console"), l) => steps.last_mut().unwrap().1.push(l.to_owned()),
            _ => {}
        }
    }
    (yaml, steps)
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// `line` with its volatile values replaced by their kind (`<uuid>`,
/// `<time>`, `<token>`, `<hex>`), and the uuids in order.
fn normalize(line: &str) -> (String, Vec<String>) {
    let b = line.as_bytes();
    let (mut out, mut ids, mut i) = (String::new(), Vec::new(), 0);
    let uuid_at = |i: usize| {
        b.len() >= i + 36
            && (0..36).all(|k| {
                if [8, 13, 18, 23].contains(&k) {
                    b[i + k] == b'-'
                } else {
                    is_hex(b[i + k])
                }
            })
    };
    let time_at = |i: usize| {
        b.len() >= i + 11
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 7] == b'-'
            && b[i + 10] == b'T'
    };
    while i < b.len() {
        if uuid_at(i) {
            ids.push(line[i..i + 36].to_owned());
            out.push_str("<uuid>");
            i += 36;
        } else if time_at(i) {
            out.push_str("<time>");
            while i < b.len() && (b[i].is_ascii_digit() || b"-T:.Z+".contains(&b[i])) {
                i += 1;
            }
        } else if line[i..].starts_with("orb_") {
            out.push_str("<token>");
            i += 4;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
        } else if b[i..].iter().take_while(|c| is_hex(**c)).count() >= 32 {
            out.push_str("<hex>");
            while i < b.len() && is_hex(b[i]) {
                i += 1;
            }
        } else {
            let c = line[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    (out, ids)
}

/// Whether `actual` is what `recorded` shows (`…`: anything).
fn matches(recorded: &str, actual: &str) -> bool {
    let (r, _) = normalize(recorded);
    let (a, _) = normalize(actual);
    match r.split_once('…') {
        None => r.trim_end() == a.trim_end(),
        Some((head, tail)) => {
            let tail = tail.trim();
            a.starts_with(head.trim_end()) && a.trim_end().ends_with(tail)
        }
    }
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "orbflow dev did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Replay {
    dir: PathBuf,
    path: String,
    env: Vec<(String, String)>,
    ids: Vec<(String, String)>,
    port: u16,
    dev: Option<Child>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Some(d) = &mut self.dev {
            orbflow_testkit::daemon::stop(d);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Replay {
    fn run(&mut self, cmd: &str, last: &[String]) -> Vec<String> {
        let mut cmd = cmd.to_owned();
        for (recorded, got) in &self.ids {
            cmd = cmd.replace(recorded, got);
        }
        if let Some(rest) = cmd.strip_prefix("export ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap();
                let v = match k {
                    // the token the previous command printed (shortened in the docs)
                    "TOKEN" => last.last().cloned().unwrap(),
                    "A" => format!("http://127.0.0.1:{}", self.port),
                    _ => v.to_owned(),
                };
                self.env.push((k.to_owned(), v));
            }
            return Vec::new();
        }
        if let Some(dev) = cmd.strip_suffix('&') {
            let args: Vec<&str> = dev.split_whitespace().skip(1).collect();
            let child = Command::new(env!("CARGO_BIN_EXE_orbflow"))
                .args(&args)
                .args(["--listen", &format!("127.0.0.1:{}", self.port)])
                .current_dir(&self.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            self.dev = Some(child);
            wait_for_port(self.port);
            return Vec::new();
        }
        // a console shows both streams
        let out = Command::new("bash")
            .args(["-c", &format!("{{ {cmd}\n}} 2>&1")])
            .current_dir(&self.dir)
            .env("PATH", &self.path)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Checks `actual` against `recorded`, line by line in order (extra
    /// actual lines, such as headers the docs leave out, are allowed), and
    /// learns which ids stand for which.
    fn check(&mut self, cmd: &str, recorded: &[String], actual: &[String]) -> Result<(), String> {
        let mut from = 0;
        for r in recorded {
            let Some(k) = actual[from..].iter().position(|a| matches(r, a)) else {
                return Err(format!("`{cmd}`: no line like\n  {r}\nin\n  {}", actual.join("\n  ")));
            };
            let a = &actual[from + k];
            let (_, want) = normalize(r);
            let (_, got) = normalize(a);
            for (w, g) in want.into_iter().zip(got) {
                if !self.ids.iter().any(|(x, _)| *x == w) {
                    self.ids.push((w, g));
                }
            }
            from += k + 1;
        }
        Ok(())
    }
}

#[test]
fn api_md_session_replays_as_written() {
    let (yaml, steps) = session(&api_md());
    assert!(yaml.contains("name: hello"), "{yaml}");
    assert!(steps.len() >= 10, "{steps:?}");
    let dir = std::env::temp_dir().join(format!("orbflow-docs-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.yaml"), yaml).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_orbflow")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut replay = Replay {
        dir,
        path,
        env: Vec::new(),
        ids: Vec::new(),
        port: orbflow_testkit::daemon::free_port(),
        dev: None,
    };
    let mut last = Vec::new();
    for (cmd, recorded) in &steps {
        // a read (a GET: no -X) may come before the run it shows has
        // finished: it is asked again for a while, as a reader would
        let read = cmd.starts_with("curl") && !cmd.contains(" -X ");
        let start = Instant::now();
        let actual = loop {
            let actual = replay.run(cmd, &last);
            match replay.check(cmd, recorded, &actual) {
                Ok(()) => break actual,
                Err(e) if !read || start.elapsed() > Duration::from_secs(10) => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        last = actual;
    }
}

#[test]
fn normalizing_keeps_the_shape_and_finds_the_ids() {
    let (n, ids) = normalize(
        r#"{"id":"01a23408-e0c5-7300-9877-e280277f1705","at":"2026-12-01T23:55:26.789038Z","t":"orb_7Ps68WZ5","h":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
    );
    assert_eq!(n, r#"{"id":"<uuid>","at":"<time>","t":"<token>","h":"<hex>"}"#);
    assert_eq!(ids, ["01a23408-e0c5-7300-9877-e280277f1705"]);
    assert!(matches(r#"{"a":1, …}}"#, r#"{"a":1,"b":{"c":2}}"#));
    assert!(!matches(r#"{"a":1}"#, r#"{"a":2}"#));
    assert!(matches("orb_7Ps68W…", "orb_Zz9-aa_bb"));
}
