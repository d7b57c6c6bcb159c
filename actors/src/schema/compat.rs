//! Compatibility strategies applied to schema versions.

use super::avro::AvroSchema;
use crate::metadata::{SchemaCompatibilityStrategy as Strategy, SchemaData, SchemaVersion};

/// Which way data must be readable between two versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// The new schema reads the old one's data.
    Backward,
    /// The old schema reads the new one's data.
    Forward,
    /// Both.
    Full,
}

/// Whether `new` may be added after the versions in force (`existing`, oldest first).
///
/// # Errors
/// Why not, as text.
pub fn check_compatible(
    existing: &[SchemaVersion],
    new: &SchemaData,
    strategy: Strategy,
) -> Result<(), String> {
    let live: Vec<&SchemaVersion> = existing.iter().filter(|v| !v.deleted).collect();
    let Some(latest) = live.last() else {
        return Ok(());
    };
    let (direction, transitive) = match strategy {
        Strategy::AlwaysCompatible => return Ok(()),
        Strategy::AlwaysIncompatible => {
            return Err(format!(
            "the compatibility strategy is ALWAYS_INCOMPATIBLE and the topic has schema version {}",
            latest.version
        ))
        }
        Strategy::Backward => (Direction::Backward, false),
        Strategy::Forward => (Direction::Forward, false),
        Strategy::BackwardTransitive => (Direction::Backward, true),
        Strategy::ForwardTransitive => (Direction::Forward, true),
        // FULL, and UNDEFINED should it get here (the broker default is FULL).
        Strategy::FullTransitive => (Direction::Full, true),
        Strategy::Full | Strategy::Undefined => (Direction::Full, false),
    };
    let targets: Vec<&SchemaVersion> = if transitive {
        live.clone()
    } else {
        vec![*latest]
    };
    for old in targets {
        pair(&old.schema, new, direction).map_err(|reason| {
            format!(
                "{} incompatible with schema version {} under {strategy}: {reason}",
                new_label(new),
                old.version
            )
        })?;
    }
    Ok(())
}

/// Whether a consumer with `schema` can read what the topic's versions wrote, as Pulsar's
/// `checkConsumerCompatibility`: a version in force equal to it always can; BACKWARD,
/// FORWARD, FORWARD_TRANSITIVE and FULL check the latest version backward; the transitive
/// strategies and ALWAYS_INCOMPATIBLE check every version under the strategy itself.
///
/// # Errors
/// Why not, as text.
pub fn check_consumer(
    existing: &[SchemaVersion],
    schema: &SchemaData,
    strategy: Strategy,
) -> Result<(), String> {
    if existing
        .iter()
        .any(|v| !v.deleted && v.schema.same_as(schema))
    {
        return Ok(());
    }
    match strategy {
        Strategy::AlwaysCompatible => Ok(()),
        Strategy::Backward
        | Strategy::Forward
        | Strategy::ForwardTransitive
        | Strategy::Full
        | Strategy::Undefined => check_compatible(existing, schema, Strategy::Backward),
        other => check_compatible(existing, schema, other),
    }
}

fn new_label(schema: &SchemaData) -> String {
    let name = serde_json::to_value(schema.schema_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("the new {name} schema is")
}

/// One old/new pair: same type, and for AVRO/JSON readable in `direction`.
fn pair(old: &SchemaData, new: &SchemaData, direction: Direction) -> Result<(), String> {
    if old.schema_type != new.schema_type {
        return Err(format!(
            "the schema type changes from {:?} to {:?}",
            old.schema_type, new.schema_type
        ));
    }
    if !old.schema_type.is_struct() {
        // Primitive types carry no definition: the same type is the same schema.
        return Ok(());
    }
    let (old_avro, new_avro) = match (AvroSchema::parse(&old.data), AvroSchema::parse(&new.data)) {
        (Ok(o), Ok(n)) => (o, n),
        // Pulsar accepts JSON schemas in its older, non-Avro format without checking them.
        _ if old.schema_type == crate::metadata::SchemaType::Json => return Ok(()),
        (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
    };
    if matches!(direction, Direction::Backward | Direction::Full) {
        new_avro
            .can_read(&old_avro)
            .map_err(|e| format!("the new schema cannot read data of the old one ({e})"))?;
    }
    if matches!(direction, Direction::Forward | Direction::Full) {
        old_avro
            .can_read(&new_avro)
            .map_err(|e| format!("the old schema cannot read data of the new one ({e})"))?;
    }
    Ok(())
}
