//! orbflow processes for the end-to-end tests: the `orbflow` binary, free
//! ports, the test Redis with a per-test key prefix, `orbflow dev` started,
//! and daemons stopped gracefully (so that an instrumented binary writes its
//! coverage profile).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `orbflow` binary the tests spawn.
///
/// `ORBFLOW_TEST_BIN` when set; otherwise the one cargo builds next to the
/// test executable: `<target>/<profile>/deps/<test>` runs
/// `<target>/<profile>/orbflow` (under `cargo llvm-cov` the target is its
/// `llvm-cov-target`, where it built the instrumented binary). When that
/// file is missing (a lone `cargo test -p orbflow-e2e` in a clean checkout)
/// it is built once with `cargo build -p orbflow-cli --bin orbflow` into
/// the same target directory; if that fails, the panic says what to run.
pub fn orbflow_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate)
}

/// A `Command` for [`orbflow_bin`].
pub fn orbflow() -> Command {
    Command::new(orbflow_bin())
}

fn locate() -> PathBuf {
    if let Some(bin) = std::env::var_os("ORBFLOW_TEST_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/<profile>/deps/<test>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable sits in <target>/<profile>/deps");
    let bin = profile_dir.join(format!("orbflow{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        build(profile_dir);
    }
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p orbflow-cli --bin orbflow` (same profile and target dir) first",
        bin.display()
    );
    bin
}

/// Builds the binary into `profile_dir` (`<target>/<profile>`).
fn build(profile_dir: &Path) {
    let target = profile_dir.parent().expect("<target>/<profile>");
    let profile = profile_dir.file_name().and_then(|p| p.to_str()).unwrap_or("debug");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "orbflow-cli", "--bin", "orbflow", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target);
    if profile != "debug" {
        cmd.args(["--profile", if profile == "release" { "release" } else { profile }]);
    }
    eprintln!("building the orbflow binary: {cmd:?}");
    let ok = cmd.status().is_ok_and(|s| s.success());
    assert!(
        ok,
        "could not build the orbflow binary the end-to-end tests spawn: run `cargo build -p orbflow-cli --bin orbflow` \
         (CARGO_TARGET_DIR={}) and try again",
        target.display()
    );
}

/// A port free on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port on 127.0.0.1")
        .port()
}

/// `ORBFLOW_TEST_REDIS_URL`: `None` (the test says it is skipped) when
/// unset, a panic under CI=true.
pub fn redis_url() -> Option<String> {
    match std::env::var("ORBFLOW_TEST_REDIS_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("ORBFLOW_TEST_REDIS_URL must be set when CI=true")
        }
        _ => {
            println!("skipped: ORBFLOW_TEST_REDIS_URL not set");
            None
        }
    }
}

/// A Redis key prefix of one test's own, `orbflow-test-<uuid>:`.
pub fn redis_prefix() -> String {
    format!("orbflow-test-{}:", uuid::Uuid::now_v7().simple())
}

/// Deletes every key under `prefix` (a test's own), best effort.
pub fn clear_redis_prefix(redis: &str, prefix: &str) {
    if let Ok(client) = redis::Client::open(redis)
        && let Ok(mut c) = client.get_connection()
    {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut c)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut c);
        }
    }
}

/// `orbflow dev` as [`start_dev`] started it.
#[derive(Debug)]
pub struct Dev {
    /// The process.
    pub child: Child,
    /// What it printed up to its token.
    pub printed: String,
    /// Its development token.
    pub token: String,
}

/// Starts `orbflow dev` on `db` and `port` with `envs` set; returns it, what it printed up
/// to its token, and the token.
pub fn start_dev(db: &Path, port: u16, envs: &[(&str, &str)]) -> (Child, String, String) {
    let d = spawn_dev(db, port, envs);
    (d.child, d.printed, d.token)
}

/// [`start_dev`], as a [`Dev`].
pub fn spawn_dev(db: &Path, port: u16, envs: &[(&str, &str)]) -> Dev {
    let mut dev = orbflow()
        .args([
            "dev",
            "--db",
            &db.to_string_lossy(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orbflow dev starts");
    let mut err = dev.stderr.take().expect("its stderr");
    let mut seen = String::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !(seen.contains("development token") && seen.ends_with('\n')) {
        let n = err.read(&mut buf).expect("its stderr");
        assert!(
            n > 0 && start.elapsed() < Duration::from_secs(30),
            "dev did not start: {seen}"
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // keep draining its stderr so that it never blocks on a full pipe
    std::thread::spawn(move || while matches!(err.read(&mut buf), Ok(n) if n > 0) {});
    let token = seen
        .split("development token (")
        .nth(1)
        .and_then(|t| t.split("): ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token in: {seen}"))
        .to_owned();
    Dev {
        child: dev,
        printed: seen,
        token,
    }
}

/// How long [`stop`] waits after SIGTERM before it kills.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Stops a spawned daemon gracefully: SIGTERM, then up to [`STOP_GRACE`]
/// for it to exit (an instrumented binary writes its coverage profile only
/// on a normal exit), SIGKILL as a last resort. Returns its exit status, or
/// `None` when it had to be killed.
pub fn stop(child: &mut Child) -> Option<ExitStatus> {
    stop_all(std::slice::from_mut(child)).pop().flatten()
}

/// [`stop`] for several daemons at once: all get SIGTERM first, then share
/// one grace period. The statuses are in the children's order.
pub fn stop_all(children: &mut [Child]) -> Vec<Option<ExitStatus>> {
    let mut done: Vec<Option<ExitStatus>> = children.iter_mut().map(|c| c.try_wait().ok().flatten()).collect();
    for (c, d) in children.iter().zip(&done) {
        if d.is_none() {
            signal(c, "TERM");
        }
    }
    let start = Instant::now();
    while done.iter().any(Option::is_none) && start.elapsed() < STOP_GRACE {
        std::thread::sleep(Duration::from_millis(20));
        for (c, d) in children.iter_mut().zip(done.iter_mut()) {
            if d.is_none() {
                *d = c.try_wait().ok().flatten();
            }
        }
    }
    for (c, d) in children.iter_mut().zip(&done) {
        if d.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    done
}

/// Sends `SIG<name>` (`TERM`, `INT`, `STOP`, `CONT`…) to `child` with
/// `kill(1)`; whether it was delivered.
pub fn signal(child: &Child, name: &str) -> bool {
    Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
