//! Request parameters: the query string merged with a form body, for every method (Spring's
//! form-content filter does the same for Nacos). Query values come first, as in Tomcat's
//! parameter map. Values are percent-decoded, but a `%` that starts no valid escape is kept
//! as is, because Go clients put unencoded JSON into PUT bodies.

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: &str, form_body: Option<&[u8]>) -> Params {
        let mut params = Params::default();
        params.extend_from(query);
        if let Some(body) = form_body {
            params.extend_from(&String::from_utf8_lossy(body));
        }
        params
    }

    fn extend_from(&mut self, encoded: &str) {
        for pair in encoded.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.pairs.push((decode(name), decode(value)));
        }
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
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
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&hi), Some(&lo)) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    out.push(hex(hi) << 4 | hex(lo));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    debug_assert!(out.len() <= bytes.len());
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
