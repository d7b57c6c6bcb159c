//! Just enough `multipart/form-data` for Pulsar's connector requests: named parts with their
//! bytes (`sourceConfig`, `sinkConfig`, `data`, `url`...).

use std::collections::BTreeMap;

/// The `boundary` parameter of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// The `name` of a part from its `Content-Disposition` header.
fn part_name(headers: &str) -> Option<String> {
    headers.split("\r\n").find_map(|line| {
        let (header, value) = line.split_once(':')?;
        if !header.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        value.split(';').find_map(|p| {
            let (key, v) = p.split_once('=')?;
            (key.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
        })
    })
}

/// The parts of a multipart body by name.
///
/// # Errors
/// A description of what is malformed.
pub fn parts(body: &[u8], boundary: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut out = BTreeMap::new();
    let mut at = find(body, delimiter, 0).ok_or("no multipart boundary in the body")?;
    loop {
        let after = at + delimiter.len();
        if body.get(after..after + 2) == Some(b"--") {
            return Ok(out);
        }
        let headers_start = after + 2;
        let headers_end =
            find(body, b"\r\n\r\n", headers_start).ok_or("unterminated part headers")?;
        let headers =
            String::from_utf8_lossy(body.get(headers_start..headers_end).unwrap_or_default());
        let content_start = headers_end + 4;
        let next = find(body, delimiter, content_start).ok_or("unterminated multipart body")?;
        // The part's content ends with the CRLF before the next delimiter.
        let content_end = next.saturating_sub(2).max(content_start);
        let name = part_name(&headers).ok_or("a part has no name")?;
        out.insert(
            name,
            body.get(content_start..content_end)
                .unwrap_or_default()
                .to_vec(),
        );
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_split_by_name() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"sourceConfig\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nbuiltin://file\r\n--XyZ--\r\n";
        let parts = parts(body, "XyZ").unwrap();
        assert_eq!(parts["sourceConfig"], b"{\"a\":1}");
        assert_eq!(parts["url"], b"builtin://file");
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert!(boundary("application/json").is_none());
        assert!(super::parts(b"garbage", "XyZ").is_err());
    }
}
