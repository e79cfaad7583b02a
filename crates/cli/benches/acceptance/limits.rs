//! The machine's own limits, measured in the same run: pgbench single-row
//! commits per second (2 clients, 10 s) and redis-benchmark SET/LPUSH per
//! second on the shared Redis.

use std::process::{Command, Stdio};

/// One line per figure; missing tools leave their lines out.
pub(crate) fn measure(db_url: &str, redis_url: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let script = std::env::temp_dir().join("orbflow-pgbench.sql");
    let _ = std::fs::write(&script, "INSERT INTO orbflow_bench_t (v) VALUES (1);\n");
    let psql = |sql: &str| {
        Command::new("psql")
            .args([db_url, "-qc", sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let _ = psql("CREATE TABLE IF NOT EXISTS orbflow_bench_t (id bigserial primary key, v int)");
    if let Ok(out) = Command::new("pgbench")
        .args(["-n", "-c", "2", "-j", "2", "-T", "10", "-f"])
        .arg(&script)
        .arg(db_url)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(l) = text.lines().find(|l| l.starts_with("tps")) {
            lines.push(format!("pgbench single-row commits (2 clients, 10 s): {l}"));
        }
    }
    let _ = psql("DROP TABLE IF EXISTS orbflow_bench_t");
    let port = redis_url
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .unwrap_or("6379");
    if let Ok(out) = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", port, "-n", "200000", "-q", "-t", "set,lpush"])
        .output()
    {
        for l in String::from_utf8_lossy(&out.stdout)
            .split('\r')
            .flat_map(|s| s.lines())
            .filter(|l| l.contains("requests per second"))
        {
            lines.push(format!("redis-benchmark {}", l.trim()));
        }
    }
    lines
}
