//! The log sink, for debugging: every message goes to the broker's log (`output: log`, the
//! default, at info level under the `geminga::connectors::log` target) or to its standard
//! output (`output: stdout`, one line per message).

use std::io::Write;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::parse;
use crate::connectors::{
    api::{ConnectorFuture, Sink, SinkContext, SinkRecord},
    ConnectorError,
};

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Output {
    Log,
    Stdout,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogSinkConfig {
    #[serde(default = "default_output")]
    output: Output,
}

fn default_output() -> Output {
    Output::Log
}

/// Checks the config and builds the sink.
pub(super) fn build(configs: &Map<String, Value>) -> Result<Box<dyn Sink>, ConnectorError> {
    let config: LogSinkConfig = parse(configs, "log sink")?;
    Ok(Box::new(LogSink {
        output: config.output,
        name: String::new(),
    }))
}

struct LogSink {
    output: Output,
    name: String,
}

impl Sink for LogSink {
    fn open(&mut self, context: SinkContext) -> ConnectorFuture<'_, ()> {
        self.name = context.id.instance_name(context.instance);
        Box::pin(async { Ok(()) })
    }

    fn write(&mut self, records: Vec<SinkRecord>) -> ConnectorFuture<'_, ()> {
        Box::pin(async move {
            match self.output {
                Output::Log => {
                    for r in &records {
                        tracing::info!(
                            target: "geminga::connectors::log",
                            connector = %self.name,
                            topic = %r.topic,
                            key = r.key.as_deref().unwrap_or(""),
                            value = %String::from_utf8_lossy(&r.value),
                            "message"
                        );
                    }
                }
                Output::Stdout => {
                    let mut out = std::io::stdout().lock();
                    for r in &records {
                        let line = format!(
                            "{} {} {}\n",
                            self.name,
                            r.topic,
                            String::from_utf8_lossy(&r.value)
                        );
                        out.write_all(line.as_bytes())
                            .map_err(|e| ConnectorError::external("stdout", e))?;
                    }
                    out.flush()
                        .map_err(|e| ConnectorError::external("stdout", e))?;
                }
            }
            Ok(())
        })
    }
}
