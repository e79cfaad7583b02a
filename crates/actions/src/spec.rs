//! What the catalog says about each action.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Action families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Social networks.
    Social,
    /// Messages to people.
    Notification,
    /// Language models and text analysis.
    Ai,
    /// Data shaping, storage, HTTP.
    Data,
    /// Control flow: delays, branches, loops.
    Control,
}

impl Category {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Social => "social",
            Self::Notification => "notification",
            Self::Ai => "ai",
            Self::Data => "data",
            Self::Control => "control",
        }
    }
}

/// The catalog entry of one action type.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionSpec {
    /// Catalog name, e.g. `TRIGGER_WEBHOOK`.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Family.
    pub category: Category,
    /// JSON Schema of the config (generated from the typed config struct).
    pub config_schema: Value,
    /// A config that validates against the schema.
    pub example: Value,
    /// Permissions a token must hold to publish a workflow using it.
    pub required_permissions: &'static [&'static str],
    /// What the output looks like.
    pub output: &'static str,
    /// Security notes for operators.
    pub security: &'static str,
    /// A control-flow block (`type: condition/switch/loop` in the DSL), not
    /// usable as a step's `action`.
    pub block: bool,
    /// Whether a worker can execute it in this build (false: it fails with a
    /// "not configured" error until its integration lands).
    pub implemented: bool,
    /// The workspace connection it uses, if any (see [`crate::connections`]).
    pub connection: Option<ConnectionUse>,
}

/// The connection kind a step's config needs (`None`: none applies).
pub type KindOf = fn(Option<&Value>) -> Option<&'static str>;

/// How an action uses a workspace connection: a config's `connection` (or
/// the field [`ConnectionUse::name_field`] names) names one of the kind,
/// else the workspace's default of the kind is used.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConnectionUse {
    /// The kind: `smtp`, `slack`; for an action whose kind depends on its
    /// config (a social post's `platform`), what the catalog shows
    /// (`mastodon, bluesky or x`).
    pub kind: &'static str,
    /// Config fields that, when set, make the connection unnecessary (a
    /// Slack step's own `webhookUrl` or `token`).
    pub unless: &'static [&'static str],
    /// The action works without one (CREATE_NOTIFICATION delivers to its
    /// webhook only when the workspace has one).
    pub optional: bool,
    /// The config field naming the connection: `connection`, or
    /// `accountId` for the social actions.
    #[serde(skip)]
    pub name_field: &'static str,
    /// The kind a config needs, when it depends on the config (the social
    /// actions: their `platform`); `None` in the result: no connection
    /// applies to that config.
    #[serde(skip)]
    pub kind_of: Option<KindOf>,
}

impl ConnectionUse {
    /// A use of the connection kind `kind`, named in `config.connection`,
    /// required unless optional.
    pub const fn of(kind: &'static str) -> Self {
        Self {
            kind,
            unless: &[],
            optional: false,
            name_field: "connection",
            kind_of: None,
        }
    }

    /// Whether a step with `config` needs a connection.
    pub fn needed_by(&self, config: Option<&Value>) -> bool {
        !self.optional && !self.unless.iter().any(|f| config.and_then(|c| c.get(*f)).is_some())
    }

    /// The kind of connection a step with `config` uses (`None`: none).
    pub fn kind_for(&self, config: Option<&Value>) -> Option<&'static str> {
        match self.kind_of {
            Some(f) => f(config),
            None => Some(self.kind),
        }
    }

    /// The connection a step with `config` names, if it names one.
    pub fn name_in<'a>(&self, config: Option<&'a Value>) -> Option<&'a Value> {
        config.and_then(|c| c.get(self.name_field))
    }
}

/// The JSON Schema of a config type, inlined (no `$ref`s) so it can be
/// shown and validated on its own.
pub fn schema_of<T: JsonSchema>() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
    });
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut v = schema.to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
    }
    v
}
