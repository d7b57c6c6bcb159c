//! Avro schema definitions (the JSON form AVRO and JSON schemas carry) and Avro's schema
//! resolution rules: whether a reader schema can read data written with a writer schema.
//!
//! This follows Avro's `SchemaCompatibility.checkReaderWriterCompatibility`, which Pulsar's
//! BACKWARD / FORWARD / FULL checks are built on: reader fields missing from the writer need a
//! default, writer fields missing from the reader are skipped, numeric types promote (int to
//! long, float, double; long to float, double; float to double), string and bytes convert,
//! unions resolve branch by branch, enum symbols written must be known to the reader (or the
//! reader has a default), and named types must keep their name (or list it as an alias).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

/// One Avro type. Named types are stored once in [`AvroSchema::named`] and referred to by
/// their full name, so recursive records need no cycles in the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum AvroType {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int` (also under the date and time-millis logical types).
    Int,
    /// `long`.
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `bytes`.
    Bytes,
    /// `string`.
    String,
    /// `array` of items.
    Array(Box<AvroType>),
    /// `map` with string keys.
    Map(Box<AvroType>),
    /// A union of branches.
    Union(Vec<AvroType>),
    /// A record, enum or fixed, by full name.
    Named(String),
}

/// A named type's definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Named {
    /// A record (or error) and its fields.
    Record {
        /// Aliases the record may also be known by.
        aliases: Vec<String>,
        /// Its fields, in order.
        fields: Vec<Field>,
    },
    /// An enum.
    Enum {
        /// Aliases.
        aliases: Vec<String>,
        /// Its symbols.
        symbols: Vec<String>,
        /// Symbol used for unknown ones.
        default: Option<String>,
    },
    /// A fixed-size byte array.
    Fixed {
        /// Aliases.
        aliases: Vec<String>,
        /// Its size in bytes.
        size: u64,
    },
}

/// A record field.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Other names it was known by.
    pub aliases: Vec<String>,
    /// Its type.
    pub ty: AvroType,
    /// Whether it declares a default (even `null`).
    pub has_default: bool,
}

/// A parsed schema: the root type and every named type it defines.
#[derive(Clone, Debug, PartialEq)]
pub struct AvroSchema {
    /// The root type.
    pub root: AvroType,
    /// Named types by full name.
    pub named: HashMap<String, Named>,
}

/// Why a schema definition does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Avro schema: {reason}")]
pub struct AvroParseError {
    /// What is wrong.
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> AvroParseError {
    AvroParseError {
        reason: reason.into(),
    }
}

impl AvroSchema {
    /// Parses a schema definition (JSON text).
    ///
    /// # Errors
    /// Text that is not JSON or not an Avro schema.
    pub fn parse(definition: &[u8]) -> Result<Self, AvroParseError> {
        let json: Value =
            serde_json::from_slice(definition).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let mut named = HashMap::new();
        let root = parse_type(&json, None, &mut named)?;
        Ok(Self { root, named })
    }

    /// Whether `self`, as the reader, can read data written with `writer`; on failure, why not.
    ///
    /// # Errors
    /// The first incompatibility found, as text.
    pub fn can_read(&self, writer: &AvroSchema) -> Result<(), String> {
        let mut check = Check {
            reader: self,
            writer,
            assumed: HashSet::new(),
        };
        check.types(&self.root, &writer.root, "")
    }
}

fn parse_type(
    json: &Value,
    namespace: Option<&str>,
    named: &mut HashMap<String, Named>,
) -> Result<AvroType, AvroParseError> {
    match json {
        Value::String(name) => {
            Ok(primitive(name).unwrap_or_else(|| AvroType::Named(full_name(name, namespace))))
        }
        Value::Array(branches) => branches
            .iter()
            .map(|b| parse_type(b, namespace, named))
            .collect::<Result<Vec<_>, _>>()
            .map(AvroType::Union),
        Value::Object(object) => parse_object(object, namespace, named),
        other => Err(invalid(format!("unexpected {other} where a type belongs"))),
    }
}

fn primitive(name: &str) -> Option<AvroType> {
    Some(match name {
        "null" => AvroType::Null,
        "boolean" => AvroType::Boolean,
        "int" => AvroType::Int,
        "long" => AvroType::Long,
        "float" => AvroType::Float,
        "double" => AvroType::Double,
        "bytes" => AvroType::Bytes,
        "string" => AvroType::String,
        _ => return None,
    })
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    match namespace.filter(|ns| !ns.is_empty() && !name.contains('.')) {
        Some(ns) => format!("{ns}.{name}"),
        None => name.to_owned(),
    }
}

fn strings(object: &Map<String, Value>, key: &str) -> Vec<String> {
    object
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn parse_object(
    object: &Map<String, Value>,
    namespace: Option<&str>,
    named: &mut HashMap<String, Named>,
) -> Result<AvroType, AvroParseError> {
    let kind = object
        .get("type")
        .ok_or_else(|| invalid("a type object without \"type\""))?;
    let Some(kind) = kind.as_str() else {
        // {"type": {...}} or {"type": [...]}: the nested type, annotations aside.
        return parse_type(kind, namespace, named);
    };
    match kind {
        "record" | "error" | "enum" | "fixed" => parse_named(kind, object, namespace, named),
        "array" => {
            let items = object
                .get("items")
                .ok_or_else(|| invalid("an array without \"items\""))?;
            Ok(AvroType::Array(Box::new(parse_type(
                items, namespace, named,
            )?)))
        }
        "map" => {
            let values = object
                .get("values")
                .ok_or_else(|| invalid("a map without \"values\""))?;
            Ok(AvroType::Map(Box::new(parse_type(
                values, namespace, named,
            )?)))
        }
        // A primitive with annotations (logicalType...), or a reference to a named type.
        other => parse_type(&Value::String(other.to_owned()), namespace, named),
    }
}

fn parse_named(
    kind: &str,
    object: &Map<String, Value>,
    namespace: Option<&str>,
    named: &mut HashMap<String, Named>,
) -> Result<AvroType, AvroParseError> {
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("a {kind} without a name")))?;
    let own_namespace = object
        .get("namespace")
        .and_then(Value::as_str)
        .or(namespace);
    let full = full_name(name, own_namespace);
    // Names inside take the namespace of the full name.
    let inner_namespace = full.rsplit_once('.').map(|(ns, _)| ns.to_owned());
    let aliases = strings(object, "aliases");
    let definition = match kind {
        "enum" => Named::Enum {
            aliases,
            symbols: strings(object, "symbols"),
            default: object
                .get("default")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        "fixed" => Named::Fixed {
            aliases,
            size: object
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid(format!("fixed {full} without a size")))?,
        },
        _ => {
            // Registered before the fields so they may refer to the record itself.
            named.insert(
                full.clone(),
                Named::Record {
                    aliases: aliases.clone(),
                    fields: Vec::new(),
                },
            );
            let fields = object
                .get("fields")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(format!("record {full} without fields")))?
                .iter()
                .map(|f| parse_field(f, inner_namespace.as_deref(), named))
                .collect::<Result<Vec<_>, _>>()?;
            Named::Record { aliases, fields }
        }
    };
    named.insert(full.clone(), definition);
    Ok(AvroType::Named(full))
}

fn parse_field(
    json: &Value,
    namespace: Option<&str>,
    named: &mut HashMap<String, Named>,
) -> Result<Field, AvroParseError> {
    let object = json
        .as_object()
        .ok_or_else(|| invalid("a record field that is not an object"))?;
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("a record field without a name"))?;
    let ty = object
        .get("type")
        .ok_or_else(|| invalid(format!("field {name} without a type")))?;
    Ok(Field {
        name: name.to_owned(),
        aliases: strings(object, "aliases"),
        ty: parse_type(ty, namespace, named)?,
        has_default: object.contains_key("default"),
    })
}

/// The unqualified part of a full name.
fn simple(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

struct Check<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    /// Named pairs being compared further up: assumed compatible (recursive types).
    assumed: HashSet<(String, String)>,
}

impl Check<'_> {
    fn types(&mut self, reader: &AvroType, writer: &AvroType, at: &str) -> Result<(), String> {
        use AvroType as T;
        match (reader, writer) {
            (_, T::Union(branches)) => branches.iter().try_for_each(|w| self.types(reader, w, at)),
            (T::Union(branches), _) => {
                if branches.iter().any(|r| self.quietly(r, writer, at)) {
                    Ok(())
                } else {
                    Err(format!(
                        "{at}: no branch of the reader's union reads the writer's {}",
                        describe(writer)
                    ))
                }
            }
            (T::Null, T::Null)
            | (T::Boolean, T::Boolean)
            | (T::Int, T::Int)
            | (T::Long, T::Long | T::Int)
            | (T::Float, T::Float | T::Long | T::Int)
            | (T::Double, T::Double | T::Float | T::Long | T::Int)
            | (T::Bytes | T::String, T::Bytes | T::String) => Ok(()),
            (T::Array(r), T::Array(w)) => self.types(r, w, &format!("{at}[]")),
            (T::Map(r), T::Map(w)) => self.types(r, w, &format!("{at}{{}}")),
            (T::Named(r), T::Named(w)) => self.named(r, w, at),
            _ => Err(format!(
                "{at}: the reader's {} cannot read the writer's {}",
                describe(reader),
                describe(writer)
            )),
        }
    }

    fn quietly(&mut self, reader: &AvroType, writer: &AvroType, at: &str) -> bool {
        self.types(reader, writer, at).is_ok()
    }

    fn named(&mut self, reader: &str, writer: &str, at: &str) -> Result<(), String> {
        let pair = (reader.to_owned(), writer.to_owned());
        if !self.assumed.insert(pair.clone()) {
            return Ok(());
        }
        let r = self.reader.named.get(reader);
        let w = self.writer.named.get(writer);
        let result = match (r, w) {
            (Some(r), Some(w)) => self.definitions(reader, r, writer, w, at),
            _ => Err(format!("{at}: unknown named type {reader} or {writer}")),
        };
        self.assumed.remove(&pair);
        result
    }

    fn definitions(
        &mut self,
        reader_name: &str,
        reader: &Named,
        writer_name: &str,
        writer: &Named,
        at: &str,
    ) -> Result<(), String> {
        let name_ok = |aliases: &[String]| {
            simple(reader_name) == simple(writer_name)
                || aliases.iter().any(|a| simple(a) == simple(writer_name))
        };
        let mismatch = || {
            format!("{at}: the reader's {reader_name} does not match the writer's {writer_name}")
        };
        match (reader, writer) {
            (
                Named::Record { aliases, fields },
                Named::Record {
                    fields: written, ..
                },
            ) => {
                if !name_ok(aliases) {
                    return Err(mismatch());
                }
                self.fields(fields, written, at)
            }
            (
                Named::Enum {
                    aliases,
                    symbols,
                    default,
                },
                Named::Enum {
                    symbols: written, ..
                },
            ) => {
                if !name_ok(aliases) {
                    return Err(mismatch());
                }
                match written.iter().find(|s| !symbols.contains(s)) {
                    Some(missing) if default.is_none() => Err(format!(
                        "{at}: the reader's enum {reader_name} lacks symbol {missing}"
                    )),
                    _ => Ok(()),
                }
            }
            (Named::Fixed { aliases, size }, Named::Fixed { size: written, .. }) => {
                if !name_ok(aliases) {
                    return Err(mismatch());
                }
                if size == written {
                    Ok(())
                } else {
                    Err(format!(
                        "{at}: fixed {reader_name} has size {size}, written {written}"
                    ))
                }
            }
            _ => Err(mismatch()),
        }
    }

    fn fields(&mut self, reader: &[Field], writer: &[Field], at: &str) -> Result<(), String> {
        for field in reader {
            let written = writer
                .iter()
                .find(|w| w.name == field.name || field.aliases.contains(&w.name));
            let path = if at.is_empty() {
                field.name.clone()
            } else {
                format!("{at}.{}", field.name)
            };
            match written {
                Some(w) => self.types(&field.ty, &w.ty, &path)?,
                None if field.has_default => {}
                None => {
                    return Err(format!(
                        "{path}: the reader's field has no default and the writer does not write it"
                    ))
                }
            }
        }
        Ok(())
    }
}

fn describe(ty: &AvroType) -> String {
    match ty {
        AvroType::Null => "null".into(),
        AvroType::Boolean => "boolean".into(),
        AvroType::Int => "int".into(),
        AvroType::Long => "long".into(),
        AvroType::Float => "float".into(),
        AvroType::Double => "double".into(),
        AvroType::Bytes => "bytes".into(),
        AvroType::String => "string".into(),
        AvroType::Array(_) => "array".into(),
        AvroType::Map(_) => "map".into(),
        AvroType::Union(_) => "union".into(),
        AvroType::Named(name) => name.clone(),
    }
}

#[cfg(test)]
mod tests;
