//! `multipart/form-data` bodies (RFC 7578), for uploads such as the config import zip. Only
//! what a form upload needs: the boundary from `Content-Type`, each part's `name` and
//! `filename` from `Content-Disposition`, and its bytes. Parts are slices of the body.

use bytes::Bytes;

use crate::limits::MULTIPART_PARTS_MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    NotMultipart,
    NoBoundary,
    Malformed(&'static str),
    TooManyParts,
}

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MultipartError::NotMultipart => f.write_str("the body is not multipart/form-data"),
            MultipartError::NoBoundary => f.write_str("multipart body without a boundary"),
            MultipartError::Malformed(what) => write!(f, "malformed multipart body: {what}"),
            MultipartError::TooManyParts => {
                write!(
                    f,
                    "multipart body with more than {MULTIPART_PARTS_MAX} parts"
                )
            }
        }
    }
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::NotMultipart);
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or(MultipartError::NoBoundary)
}

/// Splits `body` into its parts.
pub fn parse(content_type: &str, body: &Bytes) -> Result<Vec<Part>, MultipartError> {
    let boundary = boundary(content_type)?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or(MultipartError::Malformed("no first boundary"))?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        at = skip_line_end(body, at).ok_or(MultipartError::Malformed("boundary line"))?;
        let head_end = find(body, b"\r\n\r\n", at).ok_or(MultipartError::Malformed("part head"))?;
        let head = std::str::from_utf8(&body[at..head_end])
            .map_err(|_| MultipartError::Malformed("part head is not UTF-8"))?;
        let content_at = head_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(delimiter);
        let content_end =
            find(body, &closing, content_at).ok_or(MultipartError::Malformed("unclosed part"))?;
        if parts.len() >= MULTIPART_PARTS_MAX {
            return Err(MultipartError::TooManyParts);
        }
        let (name, filename) = disposition(head)?;
        parts.push(Part {
            name,
            filename,
            content: body.slice(content_at..content_end),
        });
        at = content_end + 2;
    }
}

fn skip_line_end(body: &[u8], at: usize) -> Option<usize> {
    let rest = body.get(at..)?;
    if rest.starts_with(b"\r\n") {
        Some(at + 2)
    } else if rest.starts_with(b"\n") {
        Some(at + 1)
    } else {
        None
    }
}

/// `name` and `filename` of a part's `Content-Disposition: form-data; name="…"`.
fn disposition(head: &str) -> Result<(String, Option<String>), MultipartError> {
    let line = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })
        .ok_or(MultipartError::Malformed(
            "part without Content-Disposition",
        ))?;
    let field = |wanted: &str| {
        line.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(wanted)
                .then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let name = field("name").ok_or(MultipartError::Malformed("part without a name"))?;
    Ok((name, field("filename")))
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=----x1";

    #[test]
    fn parts_and_names() {
        let body = Bytes::from_static(
            b"------x1\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\nOVERWRITE\r\n\
              ------x1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\
              Content-Type: application/zip\r\n\r\nPK\x03\x04\r\n\r\nbin\r\n------x1--\r\n",
        );
        let parts = parse(TYPE, &body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), &parts[0].content[..]),
            ("policy", &b"OVERWRITE"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("a.zip"));
        assert_eq!(&parts[1].content[..], b"PK\x03\x04\r\n\r\nbin");
        let preamble = Bytes::from_static(
            b"ignored\r\n------x1\r\nContent-Disposition: form-data; name=a\r\n\r\n\x00\x01\r\n------x1--",
        );
        let parts = parse(TYPE, &preamble).unwrap();
        assert_eq!(
            (parts[0].name.as_str(), &parts[0].content[..]),
            ("a", &b"\x00\x01"[..])
        );
    }

    #[test]
    fn refusals() {
        let body = Bytes::from_static(
            b"------x1\r\nContent-Disposition: form-data\r\n\r\nv\r\n------x1--",
        );
        assert_eq!(
            boundary("application/json"),
            Err(MultipartError::NotMultipart)
        );
        assert_eq!(
            boundary("multipart/form-data"),
            Err(MultipartError::NoBoundary)
        );
        assert!(matches!(
            parse(TYPE, &body),
            Err(MultipartError::Malformed(_))
        ));
        let unclosed =
            Bytes::from_static(b"------x1\r\nContent-Disposition: form-data; name=a\r\n\r\nv");
        assert!(matches!(
            parse(TYPE, &unclosed),
            Err(MultipartError::Malformed(_))
        ));
        assert!(parse(TYPE, &Bytes::from_static(b"garbage")).is_err());
        let many: String = (0..=MULTIPART_PARTS_MAX)
            .map(|i| format!("------x1\r\nContent-Disposition: form-data; name=p{i}\r\n\r\nv\r\n"))
            .chain(std::iter::once("------x1--".to_string()))
            .collect();
        assert_eq!(
            parse(TYPE, &Bytes::from(many)),
            Err(MultipartError::TooManyParts)
        );
    }
}
