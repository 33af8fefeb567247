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
        let mut params = Params {
            text: String::with_capacity(query.len() + body_bytes),
            pairs: Vec::new(),
        };
        params.extend_from(query);
        if let Some(body) = form_body {
            match std::str::from_utf8(body) {
                Ok(text) => params.extend_from(text),
                Err(_) => params.extend_from(&String::from_utf8_lossy(body)),
            }
        }
        params
    }

    fn extend_from(&mut self, encoded: &str) {
        for pair in encoded.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = self.push_decoded(name);
            let value = self.push_decoded(value);
            self.pairs.push((name, value));
        }
    }

    fn push_decoded(&mut self, raw: &str) -> Span {
        let start = self.text.len();
        decode_into(raw, &mut self.text);
        // Bodies are capped far below 4 GiB (REQUEST_BODY_BYTES_MAX).
        debug_assert!(self.text.len() <= u32::MAX as usize);
        Span {
            start: start as u32,
            end: self.text.len() as u32,
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

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Percent-decodes `raw` (`+` is a space); invalid escapes and invalid UTF-8 are kept lossily.
pub fn decode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    decode_into(raw, &mut out);
    out
}

/// `decode`, appending to `out`. Runs without escapes are copied whole.
fn decode_into(raw: &str, out: &mut String) {
    let bytes = raw.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        out.push_str(raw);
        return;
    };
    let mut decoded = Vec::with_capacity(bytes.len());
    decoded.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&hi), Some(&lo)) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    decoded.push(hex(hi) << 4 | hex(lo));
                    i += 2;
                }
                _ => decoded.push(b'%'),
            },
            _ => {
                let run = bytes[i..]
                    .iter()
                    .position(|&b| b == b'%' || b == b'+')
                    .unwrap_or(bytes.len() - i);
                decoded.extend_from_slice(&bytes[i..i + run]);
                i += run;
                continue;
            }
        }
        i += 1;
    }
    debug_assert!(decoded.len() <= bytes.len());
    match std::str::from_utf8(&decoded) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(&decoded)),
    }
}

fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

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
