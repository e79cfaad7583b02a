//! Bluesky, through the AT Protocol's XRPC endpoints on the account's PDS.
//!
//! - `com.atproto.server.createSession` with the handle and an app
//!   password gives an access token and the account's DID; sessions are
//!   kept per account for [`SESSION_REUSE`] (createSession is rate-limited
//!   hard) and renewed once when the PDS answers `ExpiredToken`.
//! - `com.atproto.repo.createRecord` writes an `app.bsky.feed.post` with
//!   link facets, `reply` refs (root and parent, read with `getRecord`) and
//!   an `app.bsky.embed.images` embed of blobs from
//!   `com.atproto.repo.uploadBlob`.
//! - The record key is a TID derived from the step's idempotency key (the
//!   run id's time and a hash of run and step): a retried step asks for the
//!   same key, the PDS refuses the duplicate, and the post found at that
//!   key (same text) is the step's output. Exactly once.
//! - Errors are `{"error", "message"}`; 429 carries `ratelimit-reset`
//!   (epoch seconds), honoured by [`crate::call`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::media::fetch_all;
use super::{Call, Post, Posted};
use crate::action::ActionError;
use crate::call::{Answer, Endpoint, failure, join, sensitive};
use crate::connections::BlueskyConnection;

/// The PDS when the connection names none.
pub const SERVICE_URL: &str = "https://bsky.social";
/// How long a session is reused (access tokens live about two hours).
pub const SESSION_REUSE: Duration = Duration::from_secs(60 * 60);
/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Session {
    access_jwt: String,
    did: String,
    handle: String,
    at: Instant,
}

/// Sessions by account (a hash of PDS, identifier and password).
#[derive(Debug, Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn get(&self, key: &str) -> Option<Session> {
        let map = self.0.lock().ok()?;
        map.get(key).filter(|s| s.at.elapsed() < SESSION_REUSE).cloned()
    }

    fn put(&self, key: String, s: Session) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, s);
        }
    }

    fn drop_key(&self, key: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(key);
        }
    }
}

fn message(v: &Value) -> Option<String> {
    let code = v.get("error").and_then(Value::as_str);
    let text = v.get("message").and_then(Value::as_str);
    match (code, text) {
        (Some(c), Some(t)) => Some(format!("{c}: {t}")),
        (Some(c), None) => Some(c.to_owned()),
        (None, t) => t.map(str::to_owned),
    }
}

const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID (the AT Protocol's time-ordered record key) that is the same on
/// every attempt of a step: the microseconds of the run id's UUIDv7 time
/// plus a hash of the key below 1 ms, and a hashed clock id.
pub fn record_key(idempotency_key: &str) -> String {
    let hash = Sha256::digest(idempotency_key.as_bytes());
    let h = u64::from_be_bytes([hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]]);
    let run_ms = idempotency_key.split(':').next().and_then(|id| {
        let hex: String = id.chars().filter(|c| *c != '-').collect();
        (hex.len() == 32 && hex.as_bytes()[12] == b'7')
            .then(|| u64::from_str_radix(&hex[..12], 16).ok())
            .flatten()
    });
    let micros = match run_ms {
        Some(ms) => ms * 1000 + h % 1000,
        // not a run id (tests): a fixed epoch in 2023 plus the hash
        None => 1_700_000_000_000_000 + h % (1 << 40),
    } & ((1 << 53) - 1);
    let mut v = (micros << 10) | ((h >> 40) & 0x3ff);
    let mut out = [0u8; 13];
    for c in out.iter_mut().rev() {
        *c = TID_ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Link facets for every `http(s)://` URL of `text` (byte offsets, as the
/// protocol counts them), so links are clickable.
pub fn link_facets(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = ["https://", "http://"]
        .iter()
        .filter_map(|p| text[from..].find(p).map(|i| from + i))
        .min()
    {
        let rest = &text[found..];
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let url = rest[..len].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        if url.len() > "https://".len() {
            out.push(json!({
                "index": {"byteStart": found, "byteEnd": found + url.len()},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            }));
        }
        from = found + len.max(1);
    }
    out
}

struct Client<'a> {
    call: &'a Call<'a>,
    base: String,
    secrets: Vec<String>,
}

impl Client<'_> {
    fn endpoint(&self, nsid: &str, post: bool) -> Result<Endpoint, ActionError> {
        let url = join(self.call.action, &self.base, &format!("xrpc/{nsid}"))?;
        Ok(if post {
            Endpoint::post(self.call.action, url)
        } else {
            Endpoint::get(self.call.action, url)
        })
    }

    async fn send(
        &self,
        endpoint: &Endpoint,
        token: Option<&str>,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ActionError> {
        let auth = token
            .map(|t| sensitive(self.call.action, &format!("Bearer {t}")))
            .transpose()?;
        endpoint
            .send(self.call.ctx, self.call.http, TIMEOUT, |mut r| {
                if let Some(a) = auth {
                    r = r.header("authorization", a);
                }
                build(r)
            })
            .await
    }

    fn fail(&self, endpoint: &Endpoint, answer: &Answer) -> ActionError {
        failure(&endpoint.label(), answer, message(&answer.json()), &self.secrets)
    }

    async fn create_session(&self, conn: &BlueskyConnection) -> Result<Session, ActionError> {
        let e = self.endpoint("com.atproto.server.createSession", true)?;
        let body = json!({"identifier": conn.identifier.trim(), "password": conn.app_password.trim()});
        let answer = self.send(&e, None, |r| r.json(&body)).await?;
        if !answer.status.is_success() {
            return Err(self.fail(&e, &answer));
        }
        let v = answer.json();
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ActionError::retryable(format!("{}: the session has no `{k}`", e.label())))
        };
        Ok(Session {
            access_jwt: field("accessJwt")?,
            did: field("did")?,
            handle: field("handle")?,
            at: Instant::now(),
        })
    }

    /// `getRecord` of `uri` (`at://repo/collection/rkey`): `(uri, cid, value)`.
    async fn get_record(&self, s: &Session, repo: &str, rkey: &str) -> Result<Option<Value>, ActionError> {
        let mut e = self.endpoint("com.atproto.repo.getRecord", false)?;
        e.url
            .query_pairs_mut()
            .append_pair("repo", repo)
            .append_pair("collection", POST_COLLECTION)
            .append_pair("rkey", rkey);
        let answer = self.send(&e, Some(&s.access_jwt), |r| r).await?;
        if answer.status.is_success() {
            return Ok(Some(answer.json()));
        }
        let v = answer.json();
        if matches!(answer.status.as_u16(), 400 | 404)
            && v.get("error").and_then(Value::as_str) == Some("RecordNotFound")
        {
            return Ok(None);
        }
        Err(self.fail(&e, &answer))
    }

    async fn upload(&self, s: &Session, media: super::media::Media) -> Result<Value, ActionError> {
        let e = self.endpoint("com.atproto.repo.uploadBlob", true)?;
        let answer = self
            .send(&e, Some(&s.access_jwt), |r| {
                r.header("content-type", media.mime).body(media.bytes)
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.fail(&e, &answer));
        }
        answer
            .json()
            .get("blob")
            .cloned()
            .ok_or_else(|| ActionError::retryable(format!("{}: the answer has no `blob`", e.label())))
    }

    /// The record of a post to create (reply refs and images resolved).
    async fn record(&self, s: &Session, post: &Post<'_>) -> Result<Value, ActionError> {
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": self.call.ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let facets = link_facets(post.text);
        if !facets.is_empty() {
            record["facets"] = json!(facets);
        }
        if let Some(uri) = post.reply_to {
            let (repo, rkey) = parse_post_uri(uri).ok_or_else(|| {
                ActionError::fatal(format!(
                    "{}: `commentId` must be a post's at:// URI (at://DID/app.bsky.feed.post/RKEY), not `{uri}`",
                    self.call.action
                ))
            })?;
            let parent = self
                .get_record(s, repo, rkey)
                .await?
                .ok_or_else(|| ActionError::fatal(format!("{}: the post {uri} does not exist", self.call.action)))?;
            let parent_ref = json!({"uri": parent["uri"], "cid": parent["cid"]});
            let root = parent
                .pointer("/value/reply/root")
                .cloned()
                .unwrap_or_else(|| parent_ref.clone());
            record["reply"] = json!({"root": root, "parent": parent_ref});
        }
        let media = fetch_all(self.call, post.media_urls).await?;
        if !media.is_empty() {
            let mut images = Vec::new();
            for m in media {
                images.push(json!({"alt": "", "image": self.upload(s, m).await?}));
            }
            record["embed"] = json!({"$type": "app.bsky.embed.images", "images": images});
        }
        Ok(record)
    }

    /// Creates the post under `rkey`; a key already taken by this step's
    /// earlier attempt (same text) answers that post.
    async fn create(&self, s: &Session, post: &Post<'_>, rkey: &str) -> Result<Result<Posted, Answer>, ActionError> {
        // a later attempt first looks for the post an earlier one made, so
        // a retry re-reads nothing and re-uploads no image
        if self.call.ctx.attempt > 1
            && let Some(posted) = self.existing(s, post, rkey).await?
        {
            return Ok(Ok(posted));
        }
        let record = self.record(s, post).await?;
        let e = self.endpoint("com.atproto.repo.createRecord", true)?;
        let body = json!({"repo": s.did, "collection": POST_COLLECTION, "rkey": rkey, "record": record});
        let answer = self.send(&e, Some(&s.access_jwt), |r| r.json(&body)).await?;
        if answer.status.is_success() {
            let v = answer.json();
            return Ok(Ok(posted_at(s, rkey, v.get("uri").and_then(Value::as_str))));
        }
        if matches!(answer.status.as_u16(), 400 | 409)
            && let Some(posted) = self.existing(s, post, rkey).await?
        {
            return Ok(Ok(posted));
        }
        Ok(Err(answer))
    }

    /// The post under `rkey` in the account's repo, if it holds this text
    /// (this step's, made by an earlier attempt).
    async fn existing(&self, s: &Session, post: &Post<'_>, rkey: &str) -> Result<Option<Posted>, ActionError> {
        let found = self.get_record(s, &s.did, rkey).await?;
        Ok(found
            .filter(|r| r.pointer("/value/text").and_then(Value::as_str) == Some(post.text))
            .map(|r| posted_at(s, rkey, r.get("uri").and_then(Value::as_str))))
    }
}

fn posted_at(s: &Session, rkey: &str, uri: Option<&str>) -> Posted {
    Posted {
        id: uri.unwrap_or_default().to_owned(),
        url: Some(format!("https://bsky.app/profile/{}/post/{rkey}", s.handle)),
    }
}

/// `(repo, rkey)` of a post's `at://repo/app.bsky.feed.post/rkey` URI.
fn parse_post_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("at://")?;
    let mut parts = rest.split('/');
    let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && collection == POST_COLLECTION && !repo.is_empty() && !rkey.is_empty())
        .then_some((repo, rkey))
}

fn account_key(base: &str, conn: &BlueskyConnection) -> String {
    let mut h = Sha256::new();
    for part in [base, conn.identifier.trim(), conn.app_password.trim()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Posts `post` as the account of `settings`.
pub(crate) async fn post(
    call: &Call<'_>,
    sessions: &Sessions,
    settings: &Value,
    post: &Post<'_>,
) -> Result<Posted, ActionError> {
    let action = call.action;
    let conn: BlueskyConnection = serde_json::from_value(settings.clone())
        .map_err(|e| ActionError::fatal(format!("{action}: the bluesky connection is invalid: {e}")))?;
    let base = conn.service_url.clone().unwrap_or_else(|| SERVICE_URL.to_owned());
    let client = Client {
        call,
        base: base.clone(),
        secrets: vec![conn.app_password.trim().to_owned()],
    };
    let key = account_key(&base, &conn);
    let rkey = record_key(&call.ctx.idempotency_key);
    let mut fresh = false;
    loop {
        let session = match sessions.get(&key) {
            Some(s) => s,
            None => {
                let s = client.create_session(&conn).await?;
                sessions.put(key.clone(), s.clone());
                fresh = true;
                s
            }
        };
        match client.create(&session, post, &rkey).await {
            Ok(Ok(p)) => return Ok(p),
            Ok(Err(answer)) => {
                let expired = answer.json().get("error").and_then(Value::as_str) == Some("ExpiredToken");
                if expired && !fresh {
                    sessions.drop_key(&key);
                    continue;
                }
                let e = client.endpoint("com.atproto.repo.createRecord", true)?;
                return Err(client.fail(&e, &answer));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_are_tids_fixed_per_step() {
        let run = "019aea4c-1f2b-7c3d-8e4f-0123456789ab";
        let a = record_key(&format!("{run}:post"));
        assert_eq!(a.len(), 13);
        assert!(a.bytes().all(|b| TID_ALPHABET.contains(&b)), "{a}");
        assert!(a.as_bytes()[0] <= b'j', "the top bit is zero: {a}");
        assert_eq!(a, record_key(&format!("{run}:post")), "the same on every attempt");
        assert_ne!(a, record_key(&format!("{run}:other")));
        // the TID's time is the run's (to the millisecond)
        let decode = |t: &str| {
            t.bytes().fold(0u64, |v, b| {
                (v << 5) | TID_ALPHABET.iter().position(|x| *x == b).unwrap() as u64
            })
        };
        let ms = u64::from_str_radix("019aea4c1f2b", 16).unwrap();
        assert_eq!((decode(&a) >> 10) / 1000, ms);
        assert_eq!(record_key("run-test:step").len(), 13);
    }

    #[test]
    fn links_become_facets_with_byte_offsets() {
        let text = "café → https://example.com/a?b=1. and http://x.io";
        let f = link_facets(text);
        assert_eq!(f.len(), 2);
        let start = text.find("https").unwrap();
        assert_eq!(
            f[0]["index"],
            json!({"byteStart": start, "byteEnd": start + "https://example.com/a?b=1".len()})
        );
        assert_eq!(f[0]["features"][0]["uri"], "https://example.com/a?b=1");
        assert_eq!(f[1]["features"][0]["uri"], "http://x.io");
        assert!(link_facets("no links, just https:// alone").is_empty());
    }

    #[test]
    fn post_uris_parse() {
        assert_eq!(
            parse_post_uri("at://did:plc:abc/app.bsky.feed.post/3k2"),
            Some(("did:plc:abc", "3k2"))
        );
        assert_eq!(parse_post_uri("at://did:plc:abc/app.bsky.feed.like/3k2"), None);
        assert_eq!(parse_post_uri("https://bsky.app/profile/a/post/3k2"), None);
        assert_eq!(parse_post_uri("at://did:plc:abc/app.bsky.feed.post/3k2/x"), None);
    }
}
