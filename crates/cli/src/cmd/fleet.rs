//! What every fleet command shares: where the database and Redis are.
//! Every flag has its environment variable.

/// Database and Redis of the fleet.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FleetArgs {
    /// Database URL (`postgres://…`; `sqlite://…` works for a one-machine fleet).
    #[arg(long, env = "ORBFLOW_DATABASE_URL")]
    pub(crate) database_url: Option<String>,
    /// Redis URL (`redis://…`).
    #[arg(long, env = "ORBFLOW_REDIS_URL")]
    pub(crate) redis_url: Option<String>,
    /// Prefix of every Redis key, so deployments can share a server.
    #[arg(long, env = "ORBFLOW_REDIS_PREFIX", default_value = "orbflow:")]
    pub(crate) redis_prefix: String,
}

/// A URL with its password removed, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("redis://:pw@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
