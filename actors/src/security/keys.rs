//! Key and credential files named the way Pulsar names them: `data:` and `file:` URLs, plain
//! paths, or the content itself in base64.

use std::path::Path;

use base64::{engine::general_purpose, Engine};
use thiserror::Error;

/// Why a key could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The value is neither a URL, an existing file nor base64.
    #[error("{reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

/// Reads the bytes a Pulsar key setting names: `data:[<type>][;base64],<data>`,
/// `file:///path` (or `file:/path`), an existing file's path, or the bytes in base64.
///
/// # Errors
/// [`KeyError`] when the file cannot be read or the value is none of the forms.
pub fn read_key(value: &str) -> Result<Vec<u8>, KeyError> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix("data:") {
        return data_url(rest);
    }
    if let Some(rest) = value.strip_prefix("file:") {
        // `file:///p` and `file:/p` both name `/p`; `file://host/p` is not supported.
        let path = rest.strip_prefix("//").unwrap_or(rest);
        return read_file(path);
    }
    if Path::new(value).is_file() || value.starts_with('/') || value.starts_with("./") {
        // A path-looking value that is no file is reported as such, not decoded as base64.
        return read_file(value);
    }
    decode_base64(value).ok_or_else(|| KeyError::Invalid {
        reason: "expected data:, file:, an existing file or base64".to_owned(),
    })
}

fn read_file(path: &str) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

fn data_url(rest: &str) -> Result<Vec<u8>, KeyError> {
    let (meta, data) = rest.split_once(',').ok_or_else(|| KeyError::Invalid {
        reason: "a data: URL needs a comma before its data".to_owned(),
    })?;
    if meta.split(';').any(|p| p.eq_ignore_ascii_case("base64")) {
        decode_base64(data).ok_or_else(|| KeyError::Invalid {
            reason: "the data: URL's base64 does not decode".to_owned(),
        })
    } else {
        Ok(percent_encoding::percent_decode_str(data).collect())
    }
}

/// Standard or URL-safe base64, padded or not.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if text.is_empty() {
        return None;
    }
    general_purpose::STANDARD
        .decode(&text)
        .or_else(|_| general_purpose::STANDARD_NO_PAD.decode(&text))
        .or_else(|_| general_purpose::URL_SAFE.decode(&text))
        .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(&text))
        .ok()
}

/// `bytes` as PEM with `label`, unless they already are PEM text.
pub(crate) fn to_pem(bytes: &[u8], label: &str) -> Vec<u8> {
    if bytes.starts_with(b"-----BEGIN") || bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        return bytes.to_vec();
    }
    let body = general_purpose::STANDARD.encode(bytes);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem.into_bytes()
}
