//! Flags shared by the namespace and topic policy commands (deduplication, rates,
//! permissions), named as pulsar-admin's, and the JSON bodies they turn into.

use clap::Args;
use serde_json::{json, Value};

/// `--enable` / `--disable`.
#[derive(Debug, Args)]
pub struct EnableDisable {
    /// Turn it on.
    #[arg(short = 'e', long = "enable", conflicts_with = "disable")]
    pub enable: bool,
    /// Turn it off.
    #[arg(short = 'd', long = "disable")]
    pub disable: bool,
}

impl EnableDisable {
    /// The flag given, or the usage text when neither was.
    ///
    /// # Errors
    /// Neither `--enable` nor `--disable` was given.
    pub fn value(&self) -> Result<bool, String> {
        if !self.enable && !self.disable {
            return Err("give --enable or --disable".into());
        }
        Ok(self.enable)
    }
}

/// pulsar-admin's dispatch rate flags (`-md`, `-bd`, `-dt`, `-rp` are rewritten to these).
#[derive(Debug, Args)]
pub struct DispatchRateArgs {
    /// Messages dispatched per period (-1: no limit).
    #[arg(
        long = "msg-dispatch-rate",
        default_value_t = -1,
        allow_negative_numbers = true
    )]
    pub msg_rate: i32,
    /// Bytes dispatched per period (-1: no limit).
    #[arg(
        long = "byte-dispatch-rate",
        default_value_t = -1,
        allow_negative_numbers = true
    )]
    pub byte_rate: i64,
    /// The period, in seconds.
    #[arg(long = "dispatch-rate-period", default_value_t = 1)]
    pub period: i32,
    /// Pulsar's rate relative to the publish rate (stored; Geminga applies rates as given).
    #[arg(long = "relative-to-publish-rate")]
    pub relative: bool,
}

impl DispatchRateArgs {
    /// Pulsar's `DispatchRate` document.
    pub fn body(&self) -> Value {
        json!({
            "dispatchThrottlingRateInMsg": self.msg_rate,
            "dispatchThrottlingRateInByte": self.byte_rate,
            "relativeToPublishRate": self.relative,
            "ratePeriodInSecond": self.period,
        })
    }
}

/// pulsar-admin's publish rate flags.
#[derive(Debug, Args)]
pub struct PublishRateArgs {
    /// Messages published per second (-1: no limit).
    #[arg(
        short = 'm',
        long = "msg-publish-rate",
        default_value_t = -1,
        allow_negative_numbers = true
    )]
    pub msg_rate: i32,
    /// Bytes published per second (-1: no limit).
    #[arg(
        short = 'b',
        long = "byte-publish-rate",
        default_value_t = -1,
        allow_negative_numbers = true
    )]
    pub byte_rate: i64,
}

impl PublishRateArgs {
    /// Pulsar's `PublishRate` document.
    pub fn body(&self) -> Value {
        json!({
            "publishThrottlingRateInMsg": self.msg_rate,
            "publishThrottlingRateInByte": self.byte_rate,
        })
    }
}

/// `--role` and `--actions` of `grant-permission`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The client role.
    #[arg(long = "role")]
    pub role: String,
    /// Actions to grant: produce, consume, functions, sources, sinks, packages (comma
    /// separated).
    #[arg(long = "actions", required = true)]
    pub actions: Vec<String>,
}

impl GrantArgs {
    /// The JSON list of actions the admin API takes.
    pub fn body(&self) -> Value {
        json!(super::admin::comma_list(&self.actions))
    }
}

/// Rewrites pulsar-admin's two-letter short flags, which clap cannot declare, into their long
/// forms; `None` for any other argument.
pub fn long_form(arg: &str) -> Option<&'static str> {
    Some(match arg {
        "-md" => "--msg-dispatch-rate",
        "-bd" => "--byte-dispatch-rate",
        "-dt" => "--dispatch-rate-period",
        "-rp" => "--relative-to-publish-rate",
        "-ap" => "--applied",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_become_pulsar_documents() {
        let rate = DispatchRateArgs {
            msg_rate: 10,
            byte_rate: -1,
            period: 2,
            relative: false,
        };
        assert_eq!(rate.body()["dispatchThrottlingRateInMsg"], 10);
        assert_eq!(rate.body()["ratePeriodInSecond"], 2);
        let publish = PublishRateArgs {
            msg_rate: -1,
            byte_rate: 1024,
        };
        assert_eq!(publish.body()["publishThrottlingRateInByte"], 1024);
        let grant = GrantArgs {
            role: "r".into(),
            actions: vec!["produce,consume".into()],
        };
        assert_eq!(grant.body(), json!(["produce", "consume"]));
    }

    #[test]
    fn neither_enable_nor_disable_is_a_usage_error() {
        let flags = EnableDisable {
            enable: false,
            disable: false,
        };
        assert!(flags.value().is_err());
    }
}
