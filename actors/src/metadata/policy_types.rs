//! Value types of namespace and topic policies, with Pulsar's JSON shapes: rate limits,
//! schema compatibility strategies and authorization actions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A dispatch rate limit (Pulsar's `DispatchRate`): at most this many messages and bytes per
/// `rate_period_in_second` seconds. A value of -1 (or 0) turns that dimension off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DispatchRate {
    /// Messages per period; -1 or 0: no message limit.
    pub dispatch_throttling_rate_in_msg: i32,
    /// Bytes per period; -1 or 0: no byte limit.
    pub dispatch_throttling_rate_in_byte: i64,
    /// Pulsar's "relative to the publish rate" flag (stored; Geminga treats rates as absolute).
    pub relative_to_publish_rate: bool,
    /// Length of the period the rates count over, in seconds (at least 1).
    pub rate_period_in_second: i32,
}

impl Default for DispatchRate {
    fn default() -> Self {
        Self {
            dispatch_throttling_rate_in_msg: -1,
            dispatch_throttling_rate_in_byte: -1,
            relative_to_publish_rate: false,
            rate_period_in_second: 1,
        }
    }
}

impl DispatchRate {
    /// The limits as a [`RateLimit`], or `None` when both dimensions are off.
    pub fn limit(&self) -> Option<RateLimit> {
        RateLimit::new(
            i64::from(self.dispatch_throttling_rate_in_msg),
            self.dispatch_throttling_rate_in_byte,
            self.rate_period_in_second,
        )
    }
}

/// A publish rate limit (Pulsar's `PublishRate`): messages and bytes per second, -1 off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublishRate {
    /// Messages per second; -1 or 0: no message limit.
    pub publish_throttling_rate_in_msg: i32,
    /// Bytes per second; -1 or 0: no byte limit.
    pub publish_throttling_rate_in_byte: i64,
}

impl Default for PublishRate {
    fn default() -> Self {
        Self {
            publish_throttling_rate_in_msg: -1,
            publish_throttling_rate_in_byte: -1,
        }
    }
}

impl PublishRate {
    /// The limits as a [`RateLimit`] over one second, or `None` when both are off.
    pub fn limit(&self) -> Option<RateLimit> {
        RateLimit::new(
            i64::from(self.publish_throttling_rate_in_msg),
            self.publish_throttling_rate_in_byte,
            1,
        )
    }
}

/// A normalised rate limit: `messages` and/or `bytes` per `period_secs` (a `None` dimension is
/// unlimited; at least one is set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages per period.
    pub messages: Option<u64>,
    /// Bytes per period.
    pub bytes: Option<u64>,
    /// Seconds per period (at least 1).
    pub period_secs: u32,
}

impl RateLimit {
    /// A limit from Pulsar's numbers (values <= 0 are off); `None` when nothing is limited.
    pub fn new(messages: i64, bytes: i64, period_secs: i32) -> Option<Self> {
        let positive = |v: i64| u64::try_from(v).ok().filter(|v| *v > 0);
        let limit = Self {
            messages: positive(messages),
            bytes: positive(bytes),
            period_secs: u32::try_from(period_secs).unwrap_or(1).max(1),
        };
        (limit.messages.is_some() || limit.bytes.is_some()).then_some(limit)
    }
}

/// How a new schema must relate to the versions before it (Pulsar's
/// `SchemaCompatibilityStrategy`). `Undefined` defers to the next level (topic, namespace,
/// broker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum SchemaCompatibilityStrategy {
    /// Not set here.
    #[default]
    Undefined,
    /// No schema change is accepted.
    AlwaysIncompatible,
    /// Every schema change is accepted.
    AlwaysCompatible,
    /// The new schema reads data written with the latest one.
    Backward,
    /// The latest schema reads data written with the new one.
    Forward,
    /// Both backward and forward with the latest.
    Full,
    /// Backward with every earlier version.
    BackwardTransitive,
    /// Forward with every earlier version.
    ForwardTransitive,
    /// Full with every earlier version.
    FullTransitive,
}

impl SchemaCompatibilityStrategy {
    /// Every strategy, in Pulsar's order.
    pub const ALL: [Self; 9] = [
        Self::Undefined,
        Self::AlwaysIncompatible,
        Self::AlwaysCompatible,
        Self::Backward,
        Self::Forward,
        Self::Full,
        Self::BackwardTransitive,
        Self::ForwardTransitive,
        Self::FullTransitive,
    ];

    /// Pulsar's name, e.g. `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Undefined => "UNDEFINED",
            Self::AlwaysIncompatible => "ALWAYS_INCOMPATIBLE",
            Self::AlwaysCompatible => "ALWAYS_COMPATIBLE",
            Self::Backward => "BACKWARD",
            Self::Forward => "FORWARD",
            Self::Full => "FULL",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// `self`, or `fallback` when `self` is undefined.
    pub fn or(self, fallback: Self) -> Self {
        if self == Self::Undefined {
            fallback
        } else {
            self
        }
    }
}

impl fmt::Display for SchemaCompatibilityStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaCompatibilityStrategy {
    type Err = String;

    /// Pulsar's names, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!(
                    "unknown schema compatibility strategy {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What a role may do (Pulsar's `AuthAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthAction {
    /// Publish.
    Produce,
    /// Subscribe and consume.
    Consume,
    /// Manage functions.
    Functions,
    /// Manage sources.
    Sources,
    /// Manage sinks.
    Sinks,
    /// Manage packages.
    Packages,
}

impl AuthAction {
    /// Every action.
    pub const ALL: [Self; 6] = [
        Self::Produce,
        Self::Consume,
        Self::Functions,
        Self::Sources,
        Self::Sinks,
        Self::Packages,
    ];

    /// Pulsar's name, e.g. `produce`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Produce => "produce",
            Self::Consume => "consume",
            Self::Functions => "functions",
            Self::Sources => "sources",
            Self::Sinks => "sinks",
            Self::Packages => "packages",
        }
    }
}

impl FromStr for AuthAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown action {s:?}; expected produce, consume, functions, sources, sinks or packages")
            })
    }
}

/// Role -> the actions granted to it.
pub type Grants = BTreeMap<String, BTreeSet<AuthAction>>;

/// Permissions kept in a namespace's policies (Pulsar's `AuthPolicies`): grants on the
/// namespace, grants per topic (by full topic name), and subscription roles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthPolicies {
    /// Grants on every topic of the namespace.
    pub namespace_auth: Grants,
    /// Full topic name -> grants on that topic only.
    pub destination_auth: BTreeMap<String, Grants>,
    /// Subscription prefix -> roles allowed to use it.
    pub subscription_auth_roles: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_with_nothing_positive_are_off() {
        assert_eq!(DispatchRate::default().limit(), None);
        let rate = DispatchRate {
            dispatch_throttling_rate_in_msg: 10,
            rate_period_in_second: 0,
            ..DispatchRate::default()
        };
        let limit = rate.limit().unwrap();
        assert_eq!(
            (limit.messages, limit.bytes, limit.period_secs),
            (Some(10), None, 1)
        );
        assert_eq!(
            PublishRate {
                publish_throttling_rate_in_msg: 0,
                publish_throttling_rate_in_byte: 0
            }
            .limit(),
            None
        );
    }

    #[test]
    fn pulsar_json_shapes() {
        let rate: DispatchRate = serde_json::from_str(
            r#"{"dispatchThrottlingRateInMsg":5,"dispatchThrottlingRateInByte":100,"ratePeriodInSecond":2}"#,
        )
        .unwrap();
        assert_eq!(rate.dispatch_throttling_rate_in_byte, 100);
        assert!(!rate.relative_to_publish_rate);
        let s: SchemaCompatibilityStrategy = serde_json::from_str("\"FULL_TRANSITIVE\"").unwrap();
        assert_eq!(s, SchemaCompatibilityStrategy::FullTransitive);
        assert_eq!(
            "backward".parse(),
            Ok(SchemaCompatibilityStrategy::Backward)
        );
        assert!("sideways".parse::<SchemaCompatibilityStrategy>().is_err());
        let actions: BTreeSet<AuthAction> =
            serde_json::from_str(r#"["consume","produce"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&actions).unwrap(),
            r#"["produce","consume"]"#
        );
    }
}
