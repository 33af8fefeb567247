//! Request parameters: the query string merged with a form body, for every method (Spring's
//! form-content filter does the same for Nacos). Query values come first, as in Tomcat's
//! parameter map. Values are percent-decoded, but a `%` that starts no valid escape is kept
//! as is, because Go clients put unencoded JSON into PUT bodies.

/// Decoded names and values live in one string; `pairs` holds their byte ranges, so parsing
/// a request costs two allocations however many parameters it has.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    text: String,
    pairs: Vec<(Span, Span)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Params {
    pub fn parse(query: &str, form_body: Option<&[u8]>) -> Params {
        let body_bytes = form_body.map_or(0, <[u8]>::len);
        let mut text = Vec::with_capacity(query.len() + body_bytes);
        let mut pairs = Vec::new();
        extend_from(query, &mut text, &mut pairs);
        if let Some(body) = form_body {
            match std::str::from_utf8(body) {
                Ok(body) => extend_from(body, &mut text, &mut pairs),
                Err(_) => extend_from(&String::from_utf8_lossy(body), &mut text, &mut pairs),
            }
        }
        Params {
            text: into_text(text),
            pairs,
        }
    }

    fn text_of(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| self.text_of(*n) == name)
            .map(|(_, v)| self.text_of(*v))
    }

    /// The first non-blank value of `name` (Nacos treats blank as absent almost everywhere).
    pub fn non_blank(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every (name, value) pair in order: the query's first, then the form body's.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs
            .iter()
            .map(|(n, v)| (self.text_of(*n), self.text_of(*v)))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

fn extend_from(encoded: &str, text: &mut Vec<u8>, pairs: &mut Vec<(Span, Span)>) {
    for pair in encoded.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = push_decoded(name, text);
        let value = push_decoded(value, text);
        pairs.push((name, value));
    }
}

fn push_decoded(raw: &str, text: &mut Vec<u8>) -> Span {
    let start = text.len();
    decode_into(raw, text);
    // Bodies are capped far below 4 GiB (REQUEST_BODY_BYTES_MAX).
    debug_assert!(text.len() <= u32::MAX as usize);
    Span {
        start: start as u32,
        end: text.len() as u32,
    }
}

/// `decode_into` only ever appends valid UTF-8, so this never takes the lossy branch.
fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Percent-decodes `raw` (`+` is a space); invalid escapes and invalid UTF-8 are kept lossily.
pub fn decode(raw: &str) -> String {
    let mut out = Vec::with_capacity(raw.len());
    decode_into(raw, &mut out);
    into_text(out)
}

/// `decode`, appending to `out`, which stays valid UTF-8. A value without escapes is copied
/// whole; decoded bytes are written into space reserved once and checked for UTF-8 only when
/// an escape produced a non-ASCII byte (unescaped bytes come from a `&str`, and an ASCII byte
/// put between them cannot split one of their sequences, which hold no ASCII).
fn decode_into(raw: &str, out: &mut Vec<u8>) {
    let bytes = raw.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        out.extend_from_slice(bytes);
        return;
    };
    let start = out.len();
    out.resize(start + bytes.len(), 0);
    let dst = &mut out[start..];
    dst[..first].copy_from_slice(&bytes[..first]);
    // Byte by byte: escaped JSON (a Java beat) has runs of a few bytes between escapes, too
    // short for a search-and-copy per run to pay off.
    let mut read = first;
    let mut written = first;
    let mut escaped_bits = 0u8;
    while read < bytes.len() {
        let byte = bytes[read];
        read += 1;
        dst[written] = match byte {
            b'+' => b' ',
            b'%' => match escape_at(bytes, read) {
                Some(decoded) => {
                    read += 2;
                    escaped_bits |= decoded;
                    decoded
                }
                None => b'%',
            },
            other => other,
        };
        written += 1;
    }
    debug_assert!(written <= bytes.len());
    out.truncate(start + written);
    if escaped_bits.is_ascii() {
        debug_assert!(std::str::from_utf8(&out[start..]).is_ok());
        return;
    }
    if std::str::from_utf8(&out[start..]).is_err() {
        let lossy = String::from_utf8_lossy(&out[start..]).into_owned();
        out.truncate(start);
        out.extend_from_slice(lossy.as_bytes());
    }
}

/// The byte escaped by the two hex digits at `bytes[at..at + 2]`, if they are hex digits.
fn escape_at(bytes: &[u8], at: usize) -> Option<u8> {
    let digits = bytes.get(at..at + 2)?;
    let hi = HEX_VALUE[digits[0] as usize];
    let lo = HEX_VALUE[digits[1] as usize];
    ((hi | lo) != NOT_HEX).then_some((hi << 4) | lo)
}

const NOT_HEX: u8 = 0xFF;

/// Hex digit values by byte; `NOT_HEX` for every other byte. A table, because a beat body is
/// mostly escapes and a branch per digit showed in profiles.
static HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Query and form merge; the query wins on duplicates.
    #[test]
    fn merge_query_and_form() {
        let p = Params::parse("a=1&b=2", Some(b"b=3&c=4"));
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("2"));
        assert_eq!(p.get("c"), Some("4"));
        assert_eq!(p.get("d"), None);
        assert_eq!(p.len(), 4);
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, [("a", "1"), ("b", "2"), ("b", "3"), ("c", "4")]);
    }

    /// Percent escapes and `+` decode; broken escapes survive literally.
    #[test]
    fn decoding() {
        assert_eq!(decode("a%20b+c"), "a b c");
        assert_eq!(decode("%7B%22k%22%3A%22v%22%7D"), r#"{"k":"v"}"#);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%E4%B8%AD"), "中");
        assert_eq!(decode("%FF"), "\u{FFFD}");
        assert_eq!(decode("中%20文+x"), "中 文 x");
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%41%"), "A%");
        assert_eq!(decode("%4g%41"), "%4gA");
    }

    /// A value that decodes to invalid UTF-8 turns lossy on its own; its neighbours keep
    /// their bytes.
    #[test]
    fn invalid_utf8_stays_in_its_value() {
        let p = Params::parse("a=%FF&b=%E4%B8%AD", Some(b"c=x%C3"));
        assert_eq!(p.get("a"), Some("\u{FFFD}"));
        assert_eq!(p.get("b"), Some("中"));
        assert_eq!(p.get("c"), Some("x\u{FFFD}"));
    }

    /// Unencoded JSON in a form body (Go v1 PUT) is read as sent.
    #[test]
    fn raw_json_in_form() {
        let body = br#"serviceName=s&metadata={"a":"b","c":"d"}&ip=1.2.3.4"#;
        let p = Params::parse("", Some(body));
        assert_eq!(p.get("metadata"), Some(r#"{"a":"b","c":"d"}"#));
        assert_eq!(p.get("ip"), Some("1.2.3.4"));
        assert_eq!(p.non_blank("x"), None);
        let p = Params::parse("flag&empty=", None);
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.non_blank("empty"), None);
    }
}
