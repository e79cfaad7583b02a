//! Social actions: POST_TO_SOCIAL, SCHEDULE_POST, REPLY_TO_COMMENT, on three
//! platforms whose APIs are public and documented, one module each:
//!
//! - [`mastodon`]: REST `POST /api/v1/statuses` (`in_reply_to_id`, native
//!   `scheduled_at`, media through `POST /api/v2/media`) with its
//!   `Idempotency-Key` header: exactly once.
//! - [`bluesky`]: AT Protocol (`com.atproto.server.createSession`,
//!   `com.atproto.repo.createRecord` with reply refs, `uploadBlob`), with a
//!   record key derived from (run, step): a retry finds the post its
//!   earlier attempt made instead of posting again.
//! - [`x`]: X API v2 (`POST /2/tweets` with `reply.in_reply_to_tweet_id`,
//!   media through `POST /2/media/upload`): no idempotency key, so at least
//!   once (X itself refuses an identical text posted twice in a row).
//!
//! A step's `accountId` names the workspace connection of the platform's
//! kind (`mastodon`, `bluesky`, `x`) holding the account's credentials.
//! LinkedIn, Facebook and Instagram have no provider: their names are
//! refused by the configs' schema, so at validation and publish.
//!
//! SCHEDULE_POST uses Mastodon's own scheduling when the time is at least
//! [`MASTODON_MIN_SCHEDULE`] away (Mastodon refuses nearer times); otherwise,
//! and on Bluesky and X, which schedule nothing, the step snoozes on a
//! durable timer until `publishAt` and then posts.

pub mod bluesky;
pub mod mastodon;
mod media;
pub mod x;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbflow_model::validate::config as config_format;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::net::{HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};

/// Mastodon refuses a `scheduled_at` nearer than five minutes; nearer
/// times (with a minute's margin) wait on a timer instead.
pub const MASTODON_MIN_SCHEDULE: chrono::TimeDelta = chrono::TimeDelta::minutes(6);

/// How far ahead SCHEDULE_POST may schedule (as DELAY: 366 days).
pub const MAX_SCHEDULE_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(366);

/// Most media per post (Mastodon and Bluesky take four images, X four).
pub const MAX_MEDIA: usize = 4;

/// Social platforms with a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Mastodon.
    Mastodon,
    /// Bluesky.
    Bluesky,
    /// X (formerly Twitter); `twitter` is accepted too.
    #[serde(alias = "twitter")]
    X,
}

impl Platform {
    /// Its name, which is also its connection kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mastodon => "mastodon",
            Self::Bluesky => "bluesky",
            Self::X => "x",
        }
    }

    /// The platform `name` names (`twitter` is X).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "mastodon" => Some(Self::Mastodon),
            "bluesky" => Some(Self::Bluesky),
            "x" | "twitter" => Some(Self::X),
            _ => None,
        }
    }
}

impl JsonSchema for Platform {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Platform".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                { "const": "mastodon", "description": "Mastodon" },
                { "const": "bluesky", "description": "Bluesky" },
                { "const": "x", "description": "X" },
                { "const": "twitter", "description": "X, by its former name" }
            ],
            "description": "The platform: mastodon, bluesky or x (twitter). LinkedIn, Facebook and Instagram have no provider in orbflow."
        })
    }
}

/// The schema of `mediaUrls`: http or https URLs.
fn media_urls_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "string", "format": config_format::HTTP_URL },
        "maxItems": MAX_MEDIA,
        "default": []
    })
}

/// POST_TO_SOCIAL config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostToSocialConfig {
    /// Target platform.
    pub platform: Platform,
    /// The workspace connection (of the platform's kind) of the account to
    /// post as.
    #[schemars(length(min = 1))]
    pub account_id: String,
    /// Post text.
    #[schemars(length(min = 1))]
    pub content: String,
    /// Images to attach (http or https URLs, at most four), fetched by the
    /// worker and uploaded to the platform.
    #[serde(default)]
    #[schemars(schema_with = "media_urls_schema")]
    pub media_urls: Vec<String>,
}

/// SCHEDULE_POST config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulePostConfig {
    /// Target platform.
    pub platform: Platform,
    /// The workspace connection (of the platform's kind) of the account to
    /// post as.
    #[schemars(length(min = 1))]
    pub account_id: String,
    /// Post text.
    #[schemars(length(min = 1))]
    pub content: String,
    /// Images to attach (http or https URLs, at most four).
    #[serde(default)]
    #[schemars(schema_with = "media_urls_schema")]
    pub media_urls: Vec<String>,
    /// When the post goes out (RFC 3339). A time past posts now.
    #[schemars(extend("format" = config_format::DATE_TIME))]
    pub publish_at: String,
}

/// REPLY_TO_COMMENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyToCommentConfig {
    /// Platform of the comment.
    pub platform: Platform,
    /// The workspace connection (of the platform's kind) of the account to
    /// reply as.
    #[schemars(length(min = 1))]
    pub account_id: String,
    /// The post replied to: a Mastodon status id, a Bluesky `at://` URI,
    /// an X post id.
    #[schemars(length(min = 1))]
    pub comment_id: String,
    /// Reply text.
    #[schemars(length(min = 1))]
    pub content: String,
}

/// What a provider posts.
#[derive(Debug, Clone)]
pub(crate) struct Post<'a> {
    pub(crate) text: &'a str,
    pub(crate) media_urls: &'a [String],
    pub(crate) reply_to: Option<&'a str>,
    /// Publish at this time with the platform's own scheduling (Mastodon).
    pub(crate) scheduled_at: Option<DateTime<Utc>>,
}

/// What a provider answered: the post (or scheduled post) and its URL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Posted {
    pub(crate) id: String,
    pub(crate) url: Option<String>,
}

/// The three actions share one of these: a client, and Bluesky's sessions.
#[derive(Debug)]
pub(crate) struct Providers {
    http: LazyClient,
    bluesky: bluesky::Sessions,
}

impl Providers {
    fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
            bluesky: bluesky::Sessions::default(),
        }
    }

    async fn post(
        &self,
        ctx: &ActionContext,
        action: &'static str,
        platform: Platform,
        post: &Post<'_>,
    ) -> Result<Posted, ActionError> {
        let Some(settings) = &ctx.connection else {
            return Err(ActionError::fatal(format!(
                "{action}: no `{}` connection (set the account with `orbflow connections set NAME --kind {}`)",
                platform.as_str(),
                platform.as_str()
            )));
        };
        let call = Call {
            ctx,
            action,
            http: &self.http,
        };
        let posted = match platform {
            Platform::Mastodon => mastodon::post(&call, settings, post).await,
            Platform::Bluesky => bluesky::post(&call, &self.bluesky, settings, post).await,
            Platform::X => x::post(&call, settings, post).await,
        }?;
        ctx.logger.log(
            LogLevel::Info,
            &format!("{action}: {} post {}", platform.as_str(), posted.id),
            None,
        );
        Ok(posted)
    }
}

/// What a provider needs of the attempt.
pub(crate) struct Call<'a> {
    pub(crate) ctx: &'a ActionContext,
    pub(crate) action: &'static str,
    pub(crate) http: &'a LazyClient,
}

fn config<T: serde::de::DeserializeOwned>(ctx: &ActionContext, action: &str) -> Result<T, ActionError> {
    serde_json::from_value(ctx.config.clone()).map_err(|e| ActionError::fatal(format!("invalid {action} config: {e}")))
}

struct PostToSocial(Arc<Providers>);
struct SchedulePost(Arc<Providers>);
struct ReplyToComment(Arc<Providers>);

#[async_trait::async_trait]
impl Action for PostToSocial {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: PostToSocialConfig = config(&ctx, "POST_TO_SOCIAL")?;
        let post = Post {
            text: &cfg.content,
            media_urls: &cfg.media_urls,
            reply_to: None,
            scheduled_at: None,
        };
        let p = self.0.post(&ctx, "POST_TO_SOCIAL", cfg.platform, &post).await?;
        Ok(Outcome::Completed(
            json!({"postId": p.id, "url": p.url, "platform": cfg.platform.as_str()}),
        ))
    }
}

#[async_trait::async_trait]
impl Action for ReplyToComment {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: ReplyToCommentConfig = config(&ctx, "REPLY_TO_COMMENT")?;
        let post = Post {
            text: &cfg.content,
            media_urls: &[],
            reply_to: Some(cfg.comment_id.trim()),
            scheduled_at: None,
        };
        let p = self.0.post(&ctx, "REPLY_TO_COMMENT", cfg.platform, &post).await?;
        Ok(Outcome::Completed(json!({
            "replyId": p.id, "url": p.url, "platform": cfg.platform.as_str(), "inReplyTo": cfg.comment_id.trim(),
        })))
    }
}

/// How SCHEDULE_POST publishes at `at`, seen at `now`.
#[derive(Debug, PartialEq, Eq)]
enum Schedule {
    /// The platform schedules it.
    Native,
    /// Wait on a timer, then post.
    Timer,
    /// The time has come: post.
    Now,
}

fn schedule(platform: Platform, at: DateTime<Utc>, now: DateTime<Utc>) -> Schedule {
    if at <= now {
        Schedule::Now
    } else if platform == Platform::Mastodon && at - now >= MASTODON_MIN_SCHEDULE {
        Schedule::Native
    } else {
        Schedule::Timer
    }
}

#[async_trait::async_trait]
impl Action for SchedulePost {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: SchedulePostConfig = config(&ctx, "SCHEDULE_POST")?;
        let at = DateTime::parse_from_rfc3339(cfg.publish_at.trim())
            .map_err(|e| {
                ActionError::fatal(format!(
                    "SCHEDULE_POST: `publishAt` `{}` is not an RFC 3339 time: {e}",
                    cfg.publish_at
                ))
            })?
            .with_timezone(&Utc);
        if at - ctx.now > MAX_SCHEDULE_AHEAD {
            return Err(ActionError::fatal(format!(
                "SCHEDULE_POST: `publishAt` {} is more than 366 days ahead",
                at.to_rfc3339()
            )));
        }
        let how = schedule(cfg.platform, at, ctx.now);
        if how == Schedule::Timer {
            return Ok(Outcome::Snooze {
                until: at,
                reason: format!(
                    "{} has no scheduling of its own: posting at {}",
                    cfg.platform.as_str(),
                    at.to_rfc3339()
                ),
            });
        }
        let post = Post {
            text: &cfg.content,
            media_urls: &cfg.media_urls,
            reply_to: None,
            scheduled_at: (how == Schedule::Native).then_some(at),
        };
        let p = self.0.post(&ctx, "SCHEDULE_POST", cfg.platform, &post).await?;
        let native = how == Schedule::Native;
        Ok(Outcome::Completed(json!({
            "scheduledPostId": p.id,
            "publishAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "platform": cfg.platform.as_str(),
            "scheduling": if native { "native" } else { "timer" },
            "postId": (!native).then(|| p.id.clone()),
            "url": p.url,
        })))
    }
}

/// The connection kind a social step's `platform` needs.
fn platform_kind(config: Option<&Value>) -> Option<&'static str> {
    let name = config?.get("platform")?.as_str()?;
    Platform::parse(name).map(Platform::as_str)
}

const SOCIAL_SECURITY: &str = "Posts publicly as the connected account. `accountId` names the workspace connection \
    (kind mastodon, bluesky or x) whose credentials are workspace secrets, never in the workflow. 429 waits for the \
    platform's Retry-After or rate-limit reset; 5xx and time-outs retry; other 4xx are fatal with the platform's \
    message. Mastodon (Idempotency-Key) and Bluesky (a record key derived from run and step) post once however often \
    a step is retried; X has no idempotency key: a retry after a time-out may post twice (X refuses an identical \
    text twice in a row). Media URLs are fetched by the worker under the same private-address rules as \
    TRIGGER_WEBHOOK.";

fn social_use() -> ConnectionUse {
    ConnectionUse {
        name_field: "accountId",
        kind_of: Some(platform_kind),
        ..ConnectionUse::of("mastodon, bluesky or x")
    }
}

pub(crate) fn actions(p: &HttpPolicy) -> Vec<(ActionSpec, Arc<dyn Action>)> {
    let providers = Arc::new(Providers::new(p));
    vec![
        (
            ActionSpec {
                name: "POST_TO_SOCIAL",
                description: "Publish a post, with up to four images, as a connected Mastodon, Bluesky or X account.",
                category: Category::Social,
                config_schema: schema_of::<PostToSocialConfig>(),
                example: json!({"platform": "mastodon", "accountId": "brand-mastodon", "content": "Hello from orbflow", "mediaUrls": []}),
                required_permissions: &["social:post"],
                output: "{ postId, url, platform }",
                security: SOCIAL_SECURITY,
                block: false,
                implemented: true,
                connection: Some(social_use()),
            },
            Arc::new(PostToSocial(providers.clone())),
        ),
        (
            ActionSpec {
                name: "SCHEDULE_POST",
                description: "Publish a post at a later time: with Mastodon's own scheduling (six minutes ahead or \
                              more), else on a durable timer that survives restarts, then posted.",
                category: Category::Social,
                config_schema: schema_of::<SchedulePostConfig>(),
                example: json!({"platform": "bluesky", "accountId": "brand-bluesky", "content": "Launch day", "publishAt": "2026-12-01T09:00:00Z"}),
                required_permissions: &["social:post"],
                output: "{ scheduledPostId, publishAt, platform, scheduling: native | timer, postId (timer: the post), url }",
                security: SOCIAL_SECURITY,
                block: false,
                implemented: true,
                connection: Some(social_use()),
            },
            Arc::new(SchedulePost(providers.clone())),
        ),
        (
            ActionSpec {
                name: "REPLY_TO_COMMENT",
                description: "Reply to a post or comment as a connected Mastodon, Bluesky or X account.",
                category: Category::Social,
                config_schema: schema_of::<ReplyToCommentConfig>(),
                example: json!({"platform": "mastodon", "accountId": "brand-mastodon", "commentId": "109876", "content": "Thanks!"}),
                required_permissions: &["social:post"],
                output: "{ replyId, url, platform, inReplyTo }",
                security: SOCIAL_SECURITY,
                block: false,
                implemented: true,
                connection: Some(social_use()),
            },
            Arc::new(ReplyToComment(providers)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_name_their_connection_kind() {
        assert_eq!(platform_kind(Some(&json!({"platform": "twitter"}))), Some("x"));
        assert_eq!(platform_kind(Some(&json!({"platform": "bluesky"}))), Some("bluesky"));
        assert_eq!(platform_kind(Some(&json!({"platform": "linkedin"}))), None);
        assert_eq!(platform_kind(Some(&json!({}))), None);
        assert_eq!(platform_kind(None), None);
        let u = social_use();
        assert_eq!(u.kind_for(Some(&json!({"platform": "mastodon"}))), Some("mastodon"));
        assert_eq!(u.name_in(Some(&json!({"accountId": "a"}))), Some(&json!("a")));
    }

    #[test]
    fn schedules_are_native_only_where_the_platform_takes_them() {
        let now = Utc::now();
        let m = chrono::TimeDelta::minutes;
        assert_eq!(schedule(Platform::Mastodon, now + m(10), now), Schedule::Native);
        assert_eq!(schedule(Platform::Mastodon, now + m(6), now), Schedule::Native);
        assert_eq!(schedule(Platform::Mastodon, now + m(5), now), Schedule::Timer);
        assert_eq!(schedule(Platform::Bluesky, now + m(600), now), Schedule::Timer);
        assert_eq!(schedule(Platform::X, now + m(1), now), Schedule::Timer);
        assert_eq!(schedule(Platform::X, now, now), Schedule::Now);
        assert_eq!(schedule(Platform::Mastodon, now - m(1), now), Schedule::Now);
    }
}
