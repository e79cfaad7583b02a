//! Bearer tokens: issued once (only their SHA-256 is stored), scoped to one
//! workspace, holding permissions, revocable. Every `/v1` request names its
//! token; the token's workspace is the only one it can see (another
//! workspace's object is a 404), and its rate limit applies.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use chrono::Utc;
use orbflow_engine::admin::{Admin, TokenRecord};
use rand::RngCore as _;
use sha2::Digest as _;
use uuid::Uuid;

use crate::state::AppState;
use crate::{Error, Result};

/// Every permission the API checks, besides the actions' own
/// `requiredPermissions` (checked at publish). `*` grants all of them.
pub const PERMISSIONS: &[&str] = &[
    "workflows:read",
    "workflows:write",
    "workflows:publish",
    "runs:read",
    "runs:write",
    "schedules:read",
    "schedules:write",
    "events:write",
    "tokens:read",
    "tokens:write",
    "secrets:read",
    "secrets:write",
    "connections:read",
    "connections:write",
    "notifications:read",
    "notifications:write",
    "data:read",
    "data:write",
    "templates:read",
    "templates:write",
];

/// Why a permission string is not one this server knows.
pub fn check_permission(p: &str, known: &[&str]) -> std::result::Result<(), String> {
    if p == "*" || known.contains(&p) {
        return Ok(());
    }
    let area_known = |area: &str| known.iter().any(|k| k.split_once(':').is_some_and(|(a, _)| a == area));
    match p.split_once(':') {
        Some((area, "*")) if area_known(area) => Ok(()),
        Some((area, _)) if area_known(area) => {
            Err(format!("`{p}` is not a permission: area `{area}` has no such action"))
        }
        Some(_) => Err(format!("`{p}` is not a permission: unknown area")),
        None => Err(format!("`{p}` is not a permission (`area:action`, `area:*` or `*`)")),
    }
}

/// Every permission string this server checks: [`PERMISSIONS`] and the
/// actions' `requiredPermissions`.
pub fn known_permissions(registry: &orbflow_actions::Registry) -> Vec<&str> {
    let mut out: Vec<&str> = PERMISSIONS.to_vec();
    for spec in registry.specs() {
        for p in spec.required_permissions {
            if !out.contains(p) {
                out.push(p);
            }
        }
    }
    out
}

/// Prefix of every token secret (recognisable in a leak scan).
pub const TOKEN_PREFIX: &str = "orb_";

/// The SHA-256 hex of a token secret, the form it is stored in.
pub fn hash_token(secret: &str) -> String {
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `granted` holds `wanted` (`*` holds everything; `social:*`
/// holds every `social:` permission).
pub fn grants(granted: &[String], wanted: &str) -> bool {
    granted.iter().any(|g| {
        g == "*"
            || g == wanted
            || g.strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with(':') && wanted.starts_with(prefix))
    })
}

/// Issues a token: returns its record and the secret, which is shown once
/// and never stored.
pub async fn issue_token(
    admin: &dyn Admin,
    workspace_id: Uuid,
    name: &str,
    permissions: &[String],
) -> Result<(TokenRecord, String)> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let record = TokenRecord {
        id: Uuid::now_v7(),
        workspace_id,
        name: name.to_owned(),
        prefix: secret.chars().take(12).collect(),
        permissions: permissions.to_vec(),
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    admin.insert_token(&record, &hash_token(&secret)).await?;
    Ok((record, secret))
}

/// The authenticated caller of a `/v1` request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token.
    pub token: Arc<TokenRecord>,
}

impl Principal {
    /// The workspace the token acts in.
    pub fn workspace_id(&self) -> Uuid {
        self.token.workspace_id
    }

    /// Fails with 403 naming what is missing unless the token holds every one
    /// of `wanted`.
    pub fn require(&self, wanted: &[&str]) -> Result<()> {
        let missing: Vec<String> = wanted
            .iter()
            .filter(|w| !grants(&self.token.permissions, w))
            .map(|w| (*w).to_owned())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::Forbidden { missing })
        }
    }

    /// Who acts, for a workflow's `created_by` / `updated_by`: the
    /// token's id (tokens carry no member name).
    pub fn actor(&self) -> String {
        self.token.id.to_string()
    }

    /// A label for audit fields (`published_by`).
    pub fn label(&self) -> String {
        format!("token:{} ({})", self.token.prefix, self.token.name)
    }

    /// The token as the author of a change: its id and its label.
    pub fn author(&self) -> orbflow_engine::admin::Actor {
        orbflow_engine::admin::Actor {
            id: self.actor(),
            label: self.label(),
        }
    }
}

fn unauthorized(detail: &str) -> Error {
    Error::Unauthorized {
        code: "unauthorized",
        detail: detail.to_owned(),
    }
}

/// The peer address of a request, when the server was started with connect
/// info ([`crate::serve`] is).
pub(crate) fn peer_ip(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = peer_ip(&parts.extensions);
        match authenticate(parts, state).await {
            // A failure (no token, a bad or revoked one) counts against the
            // client's address; over the limit it is a 429. A valid token
            // always passes: clients behind one address (NAT, a proxy)
            // are not locked out by a neighbour's bad token, and with 256
            // random bits per token a 200 tells a guesser nothing usable.
            Err(e @ Error::Unauthorized { .. }) => Err(state.auth_failed(peer, e)),
            other => other,
        }
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("an Authorization: Bearer token is required"))?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    let secret = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    // the lookup is by hash: no secret is compared, so timing reveals nothing
    let token = state
        .admin()
        .token_by_hash(&hash_token(secret))
        .await?
        .filter(|t| t.revoked_at.is_none())
        .ok_or_else(|| unauthorized("the token is unknown or revoked"))?;
    state.limiter().check(token.id)?;
    let now = Utc::now();
    if token
        .last_used_at
        .is_none_or(|t| now.signed_duration_since(t) > chrono::Duration::seconds(60))
    {
        // at most one write a minute per token
        state.admin().touch_token(token.id, now).await?;
    }
    Ok(Principal { token: Arc::new(token) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_grant_what_they_say() {
        let g = vec!["runs:read".to_owned(), "social:*".to_owned()];
        assert!(grants(&g, "runs:read"));
        assert!(!grants(&g, "runs:write"));
        assert!(grants(&g, "social:post"));
        assert!(!grants(&g, "socialx:post"));
        assert!(grants(&["*".to_owned()], "anything:at-all"));
        assert!(!grants(&[], "runs:read"));
    }

    #[test]
    fn permissions_are_checked_against_known_areas_and_actions() {
        let known = ["runs:read", "runs:write", "social:post"];
        for ok in ["*", "runs:read", "runs:*", "social:*", "social:post"] {
            assert_eq!(check_permission(ok, &known), Ok(()), "{ok}");
        }
        for bad in [
            "RUNS:READ",
            "*:*",
            ":",
            "runs:",
            ":read",
            "runs:delete",
            "nope:*",
            "runs",
            "",
            "runs:read:x",
        ] {
            let e = check_permission(bad, &known).expect_err(bad);
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
