//! Service URL parsing: `pulsar://host[:port]` to a `host:port` to dial.

use super::ClientError;

/// Default port of `pulsar://` URLs.
const DEFAULT_PORT: u16 = 6650;

/// Turns `pulsar://host[:port][/]` (or a bare `host:port`) into `host:port`. With several hosts
/// (`pulsar://a:6650,b:6650`) the first is used.
///
/// # Errors
/// [`ClientError::InvalidUrl`] for other schemes (TLS and HTTP lookup are not supported), an
/// empty host or a bad port.
pub fn socket_address(url: &str) -> Result<String, ClientError> {
    let invalid = |reason| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = match url.split_once("://") {
        Some(("pulsar", rest)) => rest,
        Some(("pulsar+ssl", _)) => return Err(invalid("TLS is not supported; use pulsar://")),
        Some(_) => return Err(invalid("only pulsar:// URLs are supported")),
        None => url,
    };
    let rest = rest.trim_end_matches('/');
    let first = rest.split(',').next().unwrap_or_default();
    if first.is_empty() || first.contains('/') {
        return Err(invalid("expected pulsar://host[:port]"));
    }
    // An IPv6 literal is bracketed; its colons are not a port separator.
    let (host, port) = match first.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port = port.parse::<u16>().map_err(|_| invalid("bad port"))?;
            (host, port)
        }
        _ => (first, DEFAULT_PORT),
    };
    if host.is_empty() || host == "[]" {
        return Err(invalid("empty host"));
    }
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pulsar_urls_and_bare_addresses() {
        assert_eq!(
            socket_address("pulsar://localhost:6650").unwrap(),
            "localhost:6650"
        );
        assert_eq!(
            socket_address("pulsar://localhost").unwrap(),
            "localhost:6650"
        );
        assert_eq!(socket_address("pulsar://h:1/").unwrap(), "h:1");
        assert_eq!(socket_address("pulsar://a:1,b:2").unwrap(), "a:1");
        assert_eq!(socket_address("pulsar://[::1]:7000").unwrap(), "[::1]:7000");
        assert_eq!(socket_address("pulsar://[::1]").unwrap(), "[::1]:6650");
        assert_eq!(socket_address("127.0.0.1:0").unwrap(), "127.0.0.1:0");
    }

    #[test]
    fn rejects_other_schemes_and_garbage() {
        for bad in [
            "pulsar+ssl://h:6651",
            "http://h:8080",
            "pulsar://",
            "pulsar://:6650",
            "pulsar://h:x",
            "pulsar://h:70000",
            "pulsar://h/path",
        ] {
            assert!(
                matches!(socket_address(bad), Err(ClientError::InvalidUrl { .. })),
                "{bad} should be rejected"
            );
        }
    }
}
