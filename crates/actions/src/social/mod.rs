//! Social actions: POST_TO_SOCIAL, SCHEDULE_POST, REPLY_TO_COMMENT.
//!
//! Their configs are complete; the platform integrations land with their own
//! issue. Until then each attempt fails with a fatal "not configured" error.

use std::sync::Arc;

use orbflow_model::validate::config as config_format;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::action::Action;
use crate::registry::not_configured;
use crate::spec::{ActionSpec, Category, schema_of};

/// Social platforms.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// X / Twitter.
    Twitter,
    /// Mastodon.
    Mastodon,
    /// Bluesky.
    Bluesky,
    /// LinkedIn.
    Linkedin,
    /// Facebook.
    Facebook,
    /// Instagram.
    Instagram,
}

/// The schema of `mediaUrls`: http or https URLs.
fn media_urls_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "string", "format": config_format::HTTP_URL },
        "default": []
    })
}

/// POST_TO_SOCIAL config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostToSocialConfig {
    /// Target platform.
    pub platform: Platform,
    /// Connected account to post as.
    pub account_id: String,
    /// Post text.
    #[schemars(length(min = 1))]
    pub content: String,
    /// Media to attach (http or https URLs).
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
    /// Connected account to post as.
    pub account_id: String,
    /// Post text.
    #[schemars(length(min = 1))]
    pub content: String,
    /// Media to attach (http or https URLs).
    #[serde(default)]
    #[schemars(schema_with = "media_urls_schema")]
    pub media_urls: Vec<String>,
    /// When the platform should publish it (RFC 3339).
    #[schemars(extend("format" = config_format::DATE_TIME))]
    pub publish_at: String,
}

/// REPLY_TO_COMMENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyToCommentConfig {
    /// Platform of the comment.
    pub platform: Platform,
    /// Connected account to reply as.
    pub account_id: String,
    /// The comment replied to.
    pub comment_id: String,
    /// Reply text.
    #[schemars(length(min = 1))]
    pub content: String,
}

const SOCIAL_SECURITY: &str = "Posts publicly as the connected account; the account's OAuth token is a secret held by the platform connection, never in the workflow.";

pub(crate) fn actions() -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![
        not_configured(
            ActionSpec {
                name: "POST_TO_SOCIAL",
                description: "Publish a post to a connected social account.",
                category: Category::Social,
                config_schema: schema_of::<PostToSocialConfig>(),
                example: json!({"platform": "mastodon", "accountId": "acct_123", "content": "Hello from orbflow", "mediaUrls": []}),
                required_permissions: &["social:post"],
                output: "{ postId, url, platform }",
                security: SOCIAL_SECURITY,
                block: false,
                implemented: false,
                connection: None,
            },
            "a social platform connection",
        ),
        not_configured(
            ActionSpec {
                name: "SCHEDULE_POST",
                description: "Schedule a post on the platform for a later time.",
                category: Category::Social,
                config_schema: schema_of::<SchedulePostConfig>(),
                example: json!({"platform": "linkedin", "accountId": "acct_123", "content": "Launch day", "publishAt": "2026-12-01T09:00:00Z"}),
                required_permissions: &["social:post"],
                output: "{ scheduledPostId, publishAt, platform }",
                security: SOCIAL_SECURITY,
                block: false,
                implemented: false,
                connection: None,
            },
            "a social platform connection",
        ),
        not_configured(
            ActionSpec {
                name: "REPLY_TO_COMMENT",
                description: "Reply to a comment or mention.",
                category: Category::Social,
                config_schema: schema_of::<ReplyToCommentConfig>(),
                example: json!({"platform": "mastodon", "accountId": "acct_123", "commentId": "109876", "content": "Thanks!"}),
                required_permissions: &["social:post"],
                output: "{ replyId, url }",
                security: SOCIAL_SECURITY,
                block: false,
                implemented: false,
                connection: None,
            },
            "a social platform connection",
        ),
    ]
}
