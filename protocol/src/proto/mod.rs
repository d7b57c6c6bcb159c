//! Hand-written prost types for Pulsar's `PulsarApi.proto` (proto2, package `pulsar.proto`).
//!
//! Names, field attributes, derives and nested modules follow what `prost-build` generates from
//! the upstream `.proto`, so code written against another prost-generated copy (for example the
//! `pulsar` crate's `proto` module) reads the same here. No `protoc` is needed to build.
//!
//! Only the messages a broker serves are present. Transaction commands are listed in
//! [`base_command::Type`] but have no structs: prost skips unknown fields, so a transaction
//! command decodes as a [`BaseCommand`] with only `r#type` set, and the broker can answer it.
//!
//! Files are split by command family: `common` (ids, enums, schema), `metadata` (message
//! metadata), `connect`, `producer`, `consumer`, `lookup`, `schema_cmd` and `base` (the
//! [`BaseCommand`] envelope).

/// Declares a proto enum the way prost-build does: the derive set, `#[repr(i32)]`, and the
/// `as_str_name`/`from_str_name` pair keyed by the value names written in the `.proto`.
///
/// Each variant gets a generated doc line naming its proto value; extra docs may precede it.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $value:literal => $proto:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration,
        )]
        #[repr(i32)]
        pub enum $name {
            $(
                #[doc = concat!("`", $proto, " = ", stringify!($value), "` in the `.proto`.")]
                $(#[$vmeta])*
                $variant = $value,
            )+
        }

        impl $name {
            /// String value of the enum field names used in the ProtoBuf definition.
            ///
            /// The values are not transformed in any way and thus are considered stable
            /// (if the ProtoBuf definition does not change) and safe for programmatic use.
            pub fn as_str_name(&self) -> &'static str {
                match self {
                    $(Self::$variant => $proto,)+
                }
            }

            /// Creates an enum from field names used in the ProtoBuf definition.
            pub fn from_str_name(value: &str) -> ::core::option::Option<Self> {
                match value {
                    $($proto => ::core::option::Option::Some(Self::$variant),)+
                    _ => ::core::option::Option::None,
                }
            }
        }
    };
}

mod base;
mod common;
mod connect;
mod consumer;
mod lookup;
mod metadata;
mod producer;
mod schema_cmd;

pub use base::*;
pub use common::*;
pub use connect::*;
pub use consumer::*;
pub use lookup::*;
pub use metadata::*;
pub use producer::*;
pub use schema_cmd::*;
