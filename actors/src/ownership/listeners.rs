//! Advertised listeners: the addresses a broker gives clients, per network.
//!
//! Pulsar's `advertisedListeners=internal:pulsar://10.0.0.1:6650,external:pulsar://b.example:6650`
//! names several address sets; a client picks one with its listener name (LOOKUP's
//! `advertised_listener_name`) and gets the default (`internalListenerName`) otherwise.

use std::collections::BTreeMap;

use thiserror::Error;

/// One listener's addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerAddress {
    /// `pulsar://host:port`.
    pub broker_url: Option<String>,
    /// `pulsar+ssl://host:port`.
    pub broker_url_tls: Option<String>,
    /// `http://host:port` of the admin API.
    pub http_url: Option<String>,
    /// `https://host:port` of the admin API.
    pub http_url_tls: Option<String>,
}

/// Why an `advertisedListeners` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// An item is not `name:scheme://host:port`.
    #[error("listener {item:?} is not name:scheme://host:port")]
    Malformed {
        /// The item as written.
        item: String,
    },
    /// The scheme is not pulsar, pulsar+ssl, http or https.
    #[error("listener {item:?} has an unknown scheme (use pulsar, pulsar+ssl, http or https)")]
    UnknownScheme {
        /// The item as written.
        item: String,
    },
    /// A listener names two URLs of the same scheme.
    #[error("listener {name} has more than one {scheme} address")]
    Duplicate {
        /// The listener.
        name: String,
        /// The scheme named twice.
        scheme: String,
    },
    /// A listener has no `pulsar://` or `pulsar+ssl://` address.
    #[error("listener {name} has no pulsar:// or pulsar+ssl:// address")]
    NoBrokerUrl {
        /// The listener.
        name: String,
    },
}

/// Parses Pulsar's `advertisedListeners` value (comma separated `name:url` items; a name may
/// appear once per scheme).
///
/// # Errors
/// A [`ListenerError`] naming the first bad item.
pub fn parse_listeners(value: &str) -> Result<BTreeMap<String, ListenerAddress>, ListenerError> {
    let mut listeners: BTreeMap<String, ListenerAddress> = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let malformed = || ListenerError::Malformed {
            item: item.to_owned(),
        };
        let (name, url) = item.split_once(':').ok_or_else(malformed)?;
        let (scheme, rest) = url.split_once("://").ok_or_else(malformed)?;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name || !valid_host_port(rest) {
            return Err(malformed());
        }
        let entry = listeners.entry(name.to_owned()).or_default();
        let slot = match scheme {
            "pulsar" => &mut entry.broker_url,
            "pulsar+ssl" => &mut entry.broker_url_tls,
            "http" => &mut entry.http_url,
            "https" => &mut entry.http_url_tls,
            _ => {
                return Err(ListenerError::UnknownScheme {
                    item: item.to_owned(),
                })
            }
        };
        if slot.is_some() {
            return Err(ListenerError::Duplicate {
                name: name.to_owned(),
                scheme: scheme.to_owned(),
            });
        }
        *slot = Some(url.trim_end_matches('/').to_owned());
    }
    if let Some((name, _)) = listeners
        .iter()
        .find(|(_, l)| l.broker_url.is_none() && l.broker_url_tls.is_none())
    {
        return Err(ListenerError::NoBrokerUrl { name: name.clone() });
    }
    Ok(listeners)
}

/// `host:port` with a non-empty host and a numeric port (IPv6 in brackets).
fn valid_host_port(text: &str) -> bool {
    let text = text.trim_end_matches('/');
    match text.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_group_urls_by_name() {
        let parsed = parse_listeners(
            "internal:pulsar://10.0.0.1:6650, internal:pulsar+ssl://10.0.0.1:6651,external:pulsar://b.example:6650,external:http://b.example:8080",
        )
        .unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed["internal"].broker_url.as_deref(),
            Some("pulsar://10.0.0.1:6650")
        );
        assert_eq!(
            parsed["internal"].broker_url_tls.as_deref(),
            Some("pulsar+ssl://10.0.0.1:6651")
        );
        assert_eq!(
            parsed["external"].http_url.as_deref(),
            Some("http://b.example:8080")
        );
        assert!(parse_listeners("").unwrap().is_empty());
    }

    #[test]
    fn bad_listener_values_are_refused() {
        for bad in [
            "pulsar://h:1",
            "a:ftp://h:1",
            "a:pulsar://h",
            "a:pulsar://:1",
            "a:pulsar://h:1,a:pulsar://h:2",
            "a:http://h:1",
            "bad name:pulsar://h:1",
        ] {
            assert!(parse_listeners(bad).is_err(), "{bad}");
        }
    }
}
