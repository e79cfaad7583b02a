//! Every example runs as its header says: each offline `orbflow …` command
//! (validate, run, cron, graph, fmt) written in an example's header comment,
//! but those that need an environment set before them, is run as written, from the repository's root, with the
//! built `orbflow` first on `PATH`. They exit 0, except where the header
//! says otherwise: daily-digest's run ends FAILED at `send` without an SMTP
//! connection.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The header's `orbflow …` commands, continuation lines joined.
fn commands(text: &str) -> Vec<String> {
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < header.len() {
        let line = header[i];
        // a command with an environment before it (`VAR=… \`) is left out
        let after_env = i > 0 && header[i - 1].trim_end().ends_with('\\');
        // the commands that need no server (the API client's need `orbflow dev`)
        let offline = ["validate ", "run ", "cron ", "graph ", "fmt "];
        if let Some(cmd) = line
            .strip_prefix("#   orbflow ")
            .filter(|c| !after_env && offline.iter().any(|o| c.starts_with(o)))
        {
            let mut cmd = format!("orbflow {cmd}");
            while i + 1 < header.len() && header[i + 1].starts_with("#     ") {
                i += 1;
                cmd.push('\n');
                cmd.push_str(&header[i][1..]);
            }
            out.push(cmd);
        }
        i += 1;
    }
    out
}

#[test]
fn every_example_runs_as_its_header_says() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_orbflow"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut dir: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    dir.sort();
    let mut ran = 0;
    for file in dir {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let cmds = commands(&std::fs::read_to_string(&file).unwrap());
        assert!(
            cmds.iter().any(|c| c.starts_with("orbflow validate")),
            "{name}: its header shows how to validate it"
        );
        for cmd in cmds {
            let out = Command::new("bash")
                .args(["-c", &cmd])
                .current_dir(root())
                .env("PATH", &path)
                .env_remove("ORBFLOW_HTTP_ALLOW_PRIVATE")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let expect_fail = name == "daily-digest.yaml" && cmd.starts_with("orbflow run");
            if expect_fail {
                assert_eq!(out.status.code(), Some(1), "{name}: `{cmd}`\n{err}");
                assert!(
                    err.contains("send"),
                    "{name}: the header says it ends FAILED at `send`:\n{err}"
                );
            } else {
                assert_eq!(out.status.code(), Some(0), "{name}: `{cmd}`\n{err}");
            }
            ran += 1;
        }
    }
    assert!(ran >= 14, "{ran} commands");
}

#[test]
fn header_commands_join_their_continuation_lines() {
    let text = "# x\n#   orbflow run a.yaml \\\n#     --input '{}'\n#   A=1 \\\n#   orbflow run b.yaml\n#   orbflow validate a.yaml\nschemaVersion: 1\n";
    assert_eq!(
        commands(text),
        ["orbflow run a.yaml \\\n     --input '{}'", "orbflow validate a.yaml"]
    );
}
