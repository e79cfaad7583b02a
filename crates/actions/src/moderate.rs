//! MODERATE_CONTENT: whether a text breaks content rules, per category.
//!
//! Two providers:
//!
//! - an OpenAI-moderation-compatible endpoint (`POST {baseUrl}/moderations`
//!   with `{input, model}`, answering `results[0].{flagged, categories,
//!   category_scores}`), through the workspace's `moderation` connection;
//! - the built-in classifier, for workspaces with no such connection (or a
//!   step with `provider: builtin`): word and phrase lists per category
//!   (harassment, hate, self-harm, sexual, violence, illicit, spam), matched
//!   on lower-cased words with common character swaps undone (`1d10t`,
//!   `$tupid`). Each match adds its weight `w` (strong phrases 1.0, weaker
//!   words 0.4); a category's score is `1 - e^(-Σw)`, flagged at or above
//!   the threshold (default 0.5: one strong phrase, or two weak words). The
//!   text never leaves the worker. It is a rule list, not a model: it misses
//!   what it has no words for and cannot read context.
//!
//! `categories` narrows what counts: a name selects that category and its
//! subcategories (`violence` selects `violence/graphic`); `flagged` is true
//! when a selected category is. The output is `{ flagged, categories:
//! {name: bool}, categoryScores: {name: score}, flaggedCategories, provider,
//! model }`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::call::{Endpoint, failure, join, sensitive};
use crate::connections::ModerationConnection;
use crate::generate::OPENAI_URL;
use crate::net::{HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};

const NAME: &str = "MODERATE_CONTENT";

/// The built-in classifier's default threshold.
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// The longest text checked (100 KiB); longer text is refused.
pub const MAX_TEXT_BYTES: usize = 100 * 1024;
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Which provider checks the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModerationProvider {
    /// The workspace's `moderation` connection if it has one (the one
    /// `connection` names, else its default), else the built-in classifier.
    #[default]
    Auto,
    /// The built-in classifier, whatever connections exist.
    Builtin,
}

/// MODERATE_CONTENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModerateContentConfig {
    /// Text to check.
    pub text: String,
    /// Categories that count (a name selects its subcategories too).
    /// Default: all.
    #[serde(default)]
    pub categories: Vec<String>,
    /// `auto` (default): the moderation connection, else built-in;
    /// `builtin`: the built-in classifier.
    #[serde(default)]
    pub provider: ModerationProvider,
    /// The built-in classifier's threshold, 0..1. Default: 0.5.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub threshold: Option<f64>,
    /// The workspace's `moderation` connection to use. Default: its default one.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub connection: Option<String>,
}

/// A verdict, before narrowing.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Category → flagged.
    pub categories: BTreeMap<String, bool>,
    /// Category → score in 0..1.
    pub scores: BTreeMap<String, f64>,
}

/// (category, phrase, weight): phrases are lower-case words separated by
/// single spaces.
const RULES: &[(&str, &str, f64)] = &[
    // harassment
    ("harassment", "idiot", 0.4),
    ("harassment", "moron", 0.4),
    ("harassment", "loser", 0.4),
    ("harassment", "stupid", 0.4),
    ("harassment", "dumb", 0.4),
    ("harassment", "pathetic", 0.4),
    ("harassment", "worthless", 0.4),
    ("harassment", "imbecile", 0.4),
    ("harassment", "shut up", 0.4),
    ("harassment", "you idiot", 1.0),
    ("harassment", "you moron", 1.0),
    ("harassment", "you are worthless", 1.0),
    ("harassment", "nobody likes you", 1.0),
    ("harassment", "go die", 1.0),
    ("harassment/threatening", "i know where you live", 1.0),
    ("harassment/threatening", "watch your back", 1.0),
    ("harassment/threatening", "you will regret", 1.0),
    ("harassment/threatening", "i will find you", 1.0),
    ("harassment/threatening", "i will hurt you", 1.0),
    // hate
    ("hate", "subhuman", 1.0),
    ("hate", "vermin", 0.4),
    ("hate", "inferior race", 1.0),
    ("hate", "master race", 1.0),
    ("hate", "go back to your country", 1.0),
    ("hate", "white power", 1.0),
    ("hate", "sieg heil", 1.0),
    ("hate/threatening", "ethnic cleansing", 1.0),
    ("hate/threatening", "exterminate them", 1.0),
    // self-harm
    ("self-harm", "self harm", 1.0),
    ("self-harm", "suicide", 0.4),
    ("self-harm", "overdose", 0.4),
    ("self-harm/intent", "kill myself", 1.0),
    ("self-harm/intent", "end my life", 1.0),
    ("self-harm/intent", "want to die", 1.0),
    ("self-harm/intent", "cut myself", 1.0),
    ("self-harm/instructions", "how to kill yourself", 1.0),
    ("harassment/threatening", "kill yourself", 1.0),
    // sexual
    ("sexual", "porn", 1.0),
    ("sexual", "xxx", 0.4),
    ("sexual", "nsfw", 0.4),
    ("sexual", "nudes", 1.0),
    ("sexual", "nude", 0.4),
    ("sexual", "horny", 0.4),
    ("sexual", "onlyfans", 0.4),
    ("sexual", "explicit", 0.4),
    // violence
    ("violence", "kill", 0.4),
    ("violence", "murder", 0.4),
    ("violence", "shoot", 0.4),
    ("violence", "stab", 0.4),
    ("violence", "bomb", 0.4),
    ("violence", "massacre", 1.0),
    ("violence", "behead", 1.0),
    ("violence", "i will kill", 1.0),
    ("violence", "beat you up", 1.0),
    ("violence/graphic", "blood everywhere", 1.0),
    ("violence/graphic", "gore", 0.4),
    // illicit
    ("illicit", "cocaine", 0.4),
    ("illicit", "heroin", 0.4),
    ("illicit", "meth", 0.4),
    ("illicit", "buy drugs", 1.0),
    ("illicit", "stolen credit card", 1.0),
    ("illicit", "stolen credit cards", 1.0),
    ("illicit", "counterfeit", 0.4),
    ("illicit", "hack into", 1.0),
    ("illicit/violent", "make a bomb", 1.0),
    ("illicit/violent", "buy a gun illegally", 1.0),
    // spam
    ("spam", "click here", 0.4),
    ("spam", "free money", 1.0),
    ("spam", "buy now", 0.4),
    ("spam", "limited offer", 0.4),
    ("spam", "act now", 0.4),
    ("spam", "guaranteed income", 1.0),
    ("spam", "work from home", 0.4),
    ("spam", "dm me for", 0.4),
];

/// Every category the built-in classifier scores.
pub fn builtin_categories() -> Vec<&'static str> {
    let mut v: Vec<&str> = RULES.iter().map(|(c, ..)| *c).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Undoes the usual character swaps (`1d10t` → `idiot`, `$tupid` → `stupid`).
fn unswap(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        c => c,
    }
}

/// The text's words: lower case, swaps undone in words that mix letters
/// and such characters, split on everything but letters, digits and `'`.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .flat_map(|raw| {
            let lower = raw.to_lowercase();
            let has_letter = lower.chars().any(char::is_alphabetic);
            let w: String = if has_letter {
                lower.chars().map(unswap).collect()
            } else {
                lower
            };
            w.split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The built-in classifier's verdict on `text` at `threshold`.
pub fn classify(text: &str, threshold: f64) -> Verdict {
    let words = words(text);
    let mut sums: BTreeMap<String, f64> = builtin_categories().into_iter().map(|c| (c.to_owned(), 0.0)).collect();
    for (category, phrase, weight) in RULES {
        let parts: Vec<&str> = phrase.split(' ').collect();
        let hits = words
            .windows(parts.len())
            .filter(|w| w.iter().zip(&parts).all(|(a, b)| a == b))
            .count();
        if hits > 0
            && let Some(s) = sums.get_mut(*category)
        {
            *s += weight * f64::from(u32::try_from(hits).unwrap_or(u32::MAX));
        }
    }
    // links: three or more in one text read as spam
    let links = text.matches("http://").count() + text.matches("https://").count();
    if links >= 3
        && let Some(s) = sums.get_mut("spam")
    {
        *s += 1.0;
    }
    let scores: BTreeMap<String, f64> = sums
        .into_iter()
        .map(|(c, s)| (c, ((1.0 - (-s).exp()) * 1000.0).round() / 1000.0))
        .collect();
    let categories = scores.iter().map(|(c, s)| (c.clone(), *s >= threshold)).collect();
    Verdict { categories, scores }
}

/// Whether category `name` is selected by `wanted` (empty: all).
fn selected(name: &str, wanted: &[String]) -> bool {
    wanted.is_empty()
        || wanted
            .iter()
            .any(|w| name == w || name.strip_prefix(w.as_str()).is_some_and(|r| r.starts_with('/')))
}

/// The output: `verdict` narrowed to `wanted`.
fn output(verdict: &Verdict, wanted: &[String], provider: &str, model: Option<&str>) -> Result<Value, ActionError> {
    if let Some(w) = wanted
        .iter()
        .find(|w| !verdict.categories.keys().any(|c| selected(c, std::slice::from_ref(w))))
    {
        let known: Vec<&str> = verdict.categories.keys().map(String::as_str).collect();
        return Err(ActionError::fatal(format!(
            "{NAME}: category `{w}` is not one the {provider} provider scores ({})",
            known.join(", ")
        )));
    }
    let categories: BTreeMap<&String, bool> = verdict
        .categories
        .iter()
        .filter(|(c, _)| selected(c, wanted))
        .map(|(c, f)| (c, *f))
        .collect();
    let scores: BTreeMap<&String, f64> = verdict
        .scores
        .iter()
        .filter(|(c, _)| selected(c, wanted))
        .map(|(c, s)| (c, *s))
        .collect();
    let flagged: Vec<&String> = categories.iter().filter(|(_, f)| **f).map(|(c, _)| *c).collect();
    Ok(json!({
        "flagged": !flagged.is_empty(),
        "categories": categories,
        "categoryScores": scores,
        "flaggedCategories": flagged,
        "provider": provider,
        "model": model,
    }))
}

/// The MODERATE_CONTENT action.
#[derive(Debug)]
pub struct ModerateContent {
    http: LazyClient,
}

impl ModerateContent {
    /// An action obeying `policy`; its HTTP client is built on first use.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
        }
    }

    async fn remote(
        &self,
        ctx: &ActionContext,
        text: &str,
        conn: &ModerationConnection,
    ) -> Result<(Verdict, Option<String>), ActionError> {
        let endpoint = Endpoint::post(
            NAME,
            join(NAME, conn.base_url.as_deref().unwrap_or(OPENAI_URL), "moderations")?,
        );
        let key = conn.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        let auth = key.map(|k| sensitive(NAME, &format!("Bearer {k}"))).transpose()?;
        let mut body = json!({ "input": text });
        if let Some(m) = &conn.model {
            body["model"] = json!(m);
        }
        let answer = endpoint
            .send(ctx, &self.http, CALL_TIMEOUT, |mut r| {
                r = r.json(&body);
                if let Some(a) = auth {
                    r = r.header("authorization", a);
                }
                r
            })
            .await?;
        let label = endpoint.label();
        let v = answer.json();
        if !answer.status.is_success() {
            let detail = v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned);
            let secrets: Vec<String> = key.map(str::to_owned).into_iter().collect();
            return Err(failure(&label, &answer, detail, &secrets));
        }
        let result = v
            .pointer("/results/0")
            .ok_or_else(|| ActionError::retryable(format!("{label}: the answer has no `results`")))?;
        let categories: BTreeMap<String, bool> = result
            .get("categories")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_bool().unwrap_or(false)))
                    .collect()
            })
            .ok_or_else(|| ActionError::retryable(format!("{label}: the answer has no `categories`")))?;
        let scores = result
            .get("category_scores")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0))).collect())
            .unwrap_or_default();
        let model = v.get("model").and_then(Value::as_str).map(str::to_owned);
        Ok((Verdict { categories, scores }, model))
    }
}

#[async_trait::async_trait]
impl Action for ModerateContent {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: ModerateContentConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid {NAME} config: {e}")))?;
        if cfg.text.len() > MAX_TEXT_BYTES {
            return Err(ActionError::fatal(format!(
                "{NAME}: `text` is {} bytes, over the {MAX_TEXT_BYTES}-byte limit",
                cfg.text.len()
            )));
        }
        let connection = match (cfg.provider, &ctx.connection) {
            (ModerationProvider::Auto, Some(s)) => Some(
                serde_json::from_value::<ModerationConnection>(s.clone())
                    .map_err(|e| ActionError::fatal(format!("{NAME}: the moderation connection is invalid: {e}")))?,
            ),
            _ => None,
        };
        let out = match connection {
            Some(conn) => {
                let (verdict, model) = self.remote(&ctx, &cfg.text, &conn).await?;
                output(&verdict, &cfg.categories, "openai-compatible", model.as_deref())?
            }
            None => {
                let verdict = classify(&cfg.text, cfg.threshold.unwrap_or(DEFAULT_THRESHOLD));
                output(&verdict, &cfg.categories, "builtin", None)?
            }
        };
        ctx.logger.log(
            LogLevel::Info,
            &format!(
                "{NAME} ({}): {}",
                out["provider"].as_str().unwrap_or(""),
                if out["flagged"] == json!(true) {
                    format!("flagged {}", out["flaggedCategories"])
                } else {
                    "not flagged".to_owned()
                }
            ),
            None,
        );
        Ok(Outcome::Completed(out))
    }
}

pub(crate) fn action(p: &HttpPolicy) -> (ActionSpec, Arc<dyn Action>) {
    (
        ActionSpec {
            name: NAME,
            description: "Check text against moderation categories: through the workspace's OpenAI-moderation-compatible \
                          `moderation` connection, or the built-in offline classifier (word and phrase lists) when \
                          there is none.",
            category: Category::Ai,
            config_schema: schema_of::<ModerateContentConfig>(),
            example: json!({"text": "{{ input.text }}", "categories": ["harassment", "hate", "violence"]}),
            required_permissions: &["ai:moderate"],
            output: "{ flagged, categories: { name: bool }, categoryScores: { name: 0..1 }, flaggedCategories: [name], provider: openai-compatible | builtin, model }",
            security: "With a moderation connection the text goes to that provider (its API key is a workspace secret); \
                       the built-in classifier keeps it on the worker. 429 and 5xx retry after the provider's \
                       Retry-After; other 4xx are fatal.",
            block: false,
            implemented: true,
            connection: Some(ConnectionUse {
                optional: true,
                ..ConnectionUse::of("moderation")
            }),
        },
        Arc::new(ModerateContent::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(text: &str) -> Vec<String> {
        let v = classify(text, DEFAULT_THRESHOLD);
        v.categories.into_iter().filter(|(_, f)| *f).map(|(c, _)| c).collect()
    }

    #[test]
    fn the_builtin_classifier_flags_by_category() {
        assert!(flagged("What a lovely morning at the market!").is_empty());
        assert_eq!(flagged("you idiot"), ["harassment"]);
        // one weak word is not enough, two are
        assert!(flagged("that was a dumb idea").is_empty());
        assert_eq!(flagged("dumb and pathetic"), ["harassment"]);
        assert_eq!(flagged("I know where you live."), ["harassment/threatening"]);
        assert_eq!(flagged("I want to die"), ["self-harm/intent"]);
        // swapped characters are undone
        assert_eq!(flagged("y0u 1d10t"), ["harassment"]);
        assert_eq!(flagged("FREE MONEY!!!"), ["spam"]);
        assert_eq!(
            flagged("see https://a.example https://b.example https://c.example"),
            ["spam"]
        );
        // phrases match whole words only
        assert!(flagged("skill and killjoy").is_empty());
        let v = classify("you idiot", DEFAULT_THRESHOLD);
        // "you idiot" (1.0) and "idiot" (0.4): 1 - e^-1.4, to 3 places
        assert_eq!(v.scores["harassment"], 0.753);
        assert_eq!(v.scores["hate"], 0.0);
        // a lower threshold flags single weak words
        assert!(classify("dumb", 0.3).categories["harassment"]);
    }

    #[test]
    fn categories_narrow_the_verdict_and_unknown_ones_are_refused() {
        let v = classify("I know where you live, you idiot", DEFAULT_THRESHOLD);
        let all = output(&v, &[], "builtin", None).unwrap();
        assert_eq!(all["flagged"], true);
        assert_eq!(
            all["flaggedCategories"],
            json!(["harassment", "harassment/threatening"])
        );
        let narrowed = output(&v, &["harassment".into()], "builtin", None).unwrap();
        assert_eq!(
            narrowed["categories"],
            json!({"harassment": true, "harassment/threatening": true})
        );
        let other = output(&v, &["sexual".into(), "spam".into()], "builtin", None).unwrap();
        assert_eq!(other["flagged"], false);
        assert_eq!(other["categoryScores"], json!({"sexual": 0.0, "spam": 0.0}));
        let e = output(&v, &["weather".into()], "builtin", None).unwrap_err();
        assert!(
            e.to_string()
                .contains("category `weather` is not one the builtin provider scores"),
            "{e}"
        );
        // `harass` is not a prefix category of `harassment`
        assert!(output(&v, &["harass".into()], "builtin", None).is_err());
    }
}
