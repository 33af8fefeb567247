//! The HTTP long-polling wire format (`POST /nacos/v1/cs/configs/listener`), Nacos group keys,
//! and the md5 of config content. Pure: no I/O, no clock.
//!
//! # Format
//! The request's `Listening-Configs` value is a concatenation of records
//! `dataId ␂ group ␂ md5 [␂ tenant] ␁` (␂ = U+0002, ␁ = U+0001). The reply, when something
//! changed, is the form-URL-encoded concatenation of `dataId ␂ group [␂ tenant] ␁` followed by
//! one `\n`, e.g. `app.yaml%02DEFAULT_GROUP%02dev%01\n`.
//!
//! Java's server (`MD5Util.getClientMd5Map`) is stricter than this parser in two places, on
//! purpose: it ignores a last record that lacks its `␁`, and it throws on records with fewer than
//! three fields and on empty records. We accept all three, because a lenient reading never changes
//! what a well-formed request means.

use std::borrow::Cow;
use std::fmt;

use md5::{Digest, Md5};

/// Separates the fields of one record (Java `WORD_SEPARATOR`).
pub const WORD_SEPARATOR: char = '\u{2}';

/// Ends one record (Java `LINE_SEPARATOR`).
pub const LINE_SEPARATOR: char = '\u{1}';

/// Fewest fields in one record: `dataId␂group` (md5 taken as `""`).
const RECORD_FIELDS_COUNT_MIN: usize = 2;

/// Most fields in one record: `dataId␂group␂md5␂tenant`.
const RECORD_FIELDS_COUNT_MAX: usize = 4;

const _: () = assert!(RECORD_FIELDS_COUNT_MIN <= RECORD_FIELDS_COUNT_MAX);

/// Length of an md5 digest in lowercase hex characters.
pub const MD5_HEX_LEN: usize = 32;

/// One key a long-polling client listens on, with the md5 of the content it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenEntry {
    pub data_id: String,
    pub group: String,
    /// The md5 the client holds; `""` means it holds nothing.
    pub md5: String,
    /// The client's own spelling of the namespace (`""`, `"public"`, or an id). It is echoed back
    /// unchanged in the reply, because clients match their cache keys exactly.
    pub tenant: String,
}

/// Why a `Listening-Configs` value was refused. Every kind renders as Nacos's message
/// `invalid probeModify` (HTTP 400, `caused: invalid probeModify;`); `reason` is for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenParseError {
    /// The value is empty or whitespace only.
    Blank,
    /// The value needed a second URL decoding and held a malformed `%` escape.
    BadEscape,
    /// A record has fewer than 2 fields (`record_index` counts non-empty records from 0).
    TooFewFields { record_index: usize },
    /// A record has more than 4 fields.
    TooManyFields { record_index: usize },
    /// More records than the caller's limit.
    TooManyEntries { entries_max: usize },
}

impl ListenParseError {
    /// A short explanation for logs; the client only ever sees `invalid probeModify`.
    pub fn reason(&self) -> &'static str {
        match self {
            ListenParseError::Blank => "blank Listening-Configs",
            ListenParseError::BadEscape => "malformed percent escape",
            ListenParseError::TooFewFields { .. } => "record with fewer than 2 fields",
            ListenParseError::TooManyFields { .. } => "record with more than 4 fields",
            ListenParseError::TooManyEntries { .. } => "too many listen records",
        }
    }
}

impl fmt::Display for ListenParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid probeModify")
    }
}

impl std::error::Error for ListenParseError {}

/// Parses a `Listening-Configs` value (already decoded once by the HTTP layer) into at most
/// `entries_max` entries, in request order. Duplicates are kept; the caller decides.
///
/// Java decodes the value a second time (`URLDecoder.decode` in `ConfigController.listener`), so
/// a client may send it encoded twice. We decode again only when the value holds no separator
/// but does hold `%01` or `%02`: a value that already has separators is final, and decoding it
/// again could only corrupt a `%` or `+` inside an id.
pub fn parse_listening_configs(
    value: &str,
    entries_max: usize,
) -> Result<Vec<ListenEntry>, ListenParseError> {
    if value.trim().is_empty() {
        return Err(ListenParseError::Blank);
    }
    let decoded = decode_again_if_needed(value)?;
    let records_count_upper = decoded.matches(LINE_SEPARATOR).count() + 1;
    let mut entries = Vec::with_capacity(records_count_upper.min(entries_max));
    // Splitting on ␁ also yields a last record without its ␁, which we accept.
    for record in decoded.split(LINE_SEPARATOR).filter(|r| !r.is_empty()) {
        let record_index = entries.len();
        if record_index >= entries_max {
            return Err(ListenParseError::TooManyEntries { entries_max });
        }
        entries.push(parse_record(record, record_index)?);
    }
    debug_assert!(entries.len() <= entries_max);
    Ok(entries)
}

/// Returns the value to split: itself, or its form-URL decoding when it was encoded twice.
fn decode_again_if_needed(value: &str) -> Result<Cow<'_, str>, ListenParseError> {
    let has_separator = value.contains([WORD_SEPARATOR, LINE_SEPARATOR]);
    if has_separator {
        return Ok(Cow::Borrowed(value));
    }
    let has_encoded_separator = value.contains("%01") || value.contains("%02");
    if !has_encoded_separator {
        return Ok(Cow::Borrowed(value));
    }
    form_url_decode(value).map(Cow::Owned)
}

/// Splits one non-empty record into an entry.
fn parse_record(record: &str, record_index: usize) -> Result<ListenEntry, ListenParseError> {
    debug_assert!(!record.is_empty());
    let mut fields: [&str; RECORD_FIELDS_COUNT_MAX] = [""; RECORD_FIELDS_COUNT_MAX];
    let mut fields_count: usize = 0;
    for field in record.split(WORD_SEPARATOR) {
        if fields_count == RECORD_FIELDS_COUNT_MAX {
            return Err(ListenParseError::TooManyFields { record_index });
        }
        fields[fields_count] = field;
        fields_count += 1;
    }
    if fields_count < RECORD_FIELDS_COUNT_MIN {
        return Err(ListenParseError::TooFewFields { record_index });
    }
    // Missing fields stay "": md5 "" (holds nothing) and tenant "" (default namespace).
    let [data_id, group, md5, tenant] = fields;
    Ok(ListenEntry {
        data_id: data_id.to_owned(),
        group: group.to_owned(),
        md5: md5.to_owned(),
        tenant: tenant.to_owned(),
    })
}

/// Decodes `application/x-www-form-urlencoded` text the way Java's `URLDecoder` does: `+` is a
/// space, `%XX` is a byte, the bytes are UTF-8 (invalid sequences become U+FFFD), and a `%` that
/// does not start two hex digits is an error.
fn form_url_decode(text: &str) -> Result<String, ListenParseError> {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut index: usize = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'+' {
            out.push(b' ');
            index += 1;
        } else if byte == b'%' {
            let high = bytes.get(index + 1).copied().and_then(hex_value);
            let low = bytes.get(index + 2).copied().and_then(hex_value);
            match (high, low) {
                (Some(high), Some(low)) => out.push(high << 4 | low),
                _ => return Err(ListenParseError::BadEscape),
            }
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    Ok(match String::from_utf8(out) {
        Ok(decoded) => decoded,
        Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
    })
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Encodes the long-polling reply for the changed keys `(dataId, group, tenant)`, the tenant
/// spelled as that client sent it (omitted when empty). Empty input gives `""` with no newline,
/// which is Java's empty 200 on timeout.
pub fn encode_changed(keys: &[(&str, &str, &str)]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let text_bytes: usize = keys
        .iter()
        .map(|(d, g, t)| d.len() + g.len() + t.len())
        .sum();
    // Each key adds at most 3 escapes of 3 bytes; a text byte grows to at most 3 bytes.
    let mut out = String::with_capacity(text_bytes + keys.len() * 9 + 1);
    for (data_id, group, tenant) in keys {
        form_url_encode_into(data_id, &mut out);
        out.push_str("%02");
        form_url_encode_into(group, &mut out);
        if !tenant.is_empty() {
            out.push_str("%02");
            form_url_encode_into(tenant, &mut out);
        }
        out.push_str("%01");
    }
    // Java writes the reply with `println`.
    out.push('\n');
    out
}

/// `text` encoded by Java's `URLEncoder` rules (the `tag` response header).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    form_url_encode_into(text, &mut out);
    out
}

/// Appends `text` encoded by Java's `URLEncoder` rules over UTF-8: ASCII letters, digits and
/// `.-*_` are kept, a space becomes `+`, every other byte becomes `%XX` in uppercase hex.
fn form_url_encode_into(text: &str, out: &mut String) {
    const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        let kept = byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'*' | b'_');
        if kept {
            out.push(char::from(byte));
        } else if byte == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
    }
}

/// The Nacos group key (`GroupKey2.getKey`): each part with `%` → `%25` and `+` → `%2B`, joined
/// by `+`, the tenant omitted when empty.
pub fn group_key(data_id: &str, group: &str, tenant: &str) -> String {
    let mut out = String::with_capacity(data_id.len() + group.len() + tenant.len() + 2);
    group_key_escape_into(data_id, &mut out);
    out.push('+');
    group_key_escape_into(group, &mut out);
    if !tenant.is_empty() {
        out.push('+');
        group_key_escape_into(tenant, &mut out);
    }
    out
}

fn group_key_escape_into(part: &str, out: &mut String) {
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            _ => out.push(c),
        }
    }
}

/// Reverses `group_key` into `(dataId, group, tenant)`, the tenant `""` when absent. `None` for
/// no `+`, more than two `+`, an empty group, or a `%` not followed by `25` or `2B` (uppercase,
/// as `GroupKey2.parseKey` requires).
pub fn parse_group_key(key: &str) -> Option<(String, String, String)> {
    // parts[0] = dataId, parts[1] = group, parts[2] = tenant.
    let mut parts: [String; 3] = Default::default();
    let mut part_index: usize = 0;
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '+' => {
                part_index += 1;
                if part_index >= parts.len() {
                    return None;
                }
            }
            '%' => {
                let escape = (chars.next()?, chars.next()?);
                let unescaped = match escape {
                    ('2', '5') => '%',
                    ('2', 'B') => '+',
                    _ => return None,
                };
                parts[part_index].push(unescaped);
            }
            _ => parts[part_index].push(c),
        }
    }
    if part_index == 0 {
        return None;
    }
    if parts[1].is_empty() {
        return None;
    }
    let [data_id, group, tenant] = parts;
    Some((data_id, group, tenant))
}

/// The md5 Nacos stores and compares: 32 lowercase hex characters, leading zeros kept, over the
/// content's bytes (UTF-8 for text).
pub fn md5_hex(content: &[u8]) -> String {
    const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(content);
    let mut out = String::with_capacity(MD5_HEX_LEN);
    for byte in digest {
        out.push(char::from(HEX_LOWER[usize::from(byte >> 4)]));
        out.push(char::from(HEX_LOWER[usize::from(byte & 0x0f)]));
    }
    debug_assert_eq!(out.len(), MD5_HEX_LEN);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRIES_MAX: usize = 10_000;

    fn entry(data_id: &str, group: &str, md5: &str, tenant: &str) -> ListenEntry {
        ListenEntry {
            data_id: data_id.to_owned(),
            group: group.to_owned(),
            md5: md5.to_owned(),
            tenant: tenant.to_owned(),
        }
    }

    fn parse(value: &str) -> Result<Vec<ListenEntry>, ListenParseError> {
        parse_listening_configs(value, ENTRIES_MAX)
    }

    /// A Java 1.x style 3-field record: no tenant field, so the tenant is "".
    #[test]
    fn three_field_record() {
        let got = parse("app.yaml\u{2}DEFAULT_GROUP\u{2}abc\u{1}").unwrap();
        assert_eq!(got, vec![entry("app.yaml", "DEFAULT_GROUP", "abc", "")]);
    }

    /// A 4-field record keeps the tenant as the client spelled it.
    #[test]
    fn four_field_record_keeps_spelling() {
        let got = parse("a\u{2}G\u{2}m\u{2}public\u{1}b\u{2}G\u{2}m\u{2}dev\u{1}").unwrap();
        assert_eq!(
            got,
            vec![entry("a", "G", "m", "public"), entry("b", "G", "m", "dev")]
        );
    }

    /// Python 2.0.11 always sends the 4th field, often empty; an empty md5 means "holds nothing".
    #[test]
    fn empty_tenant_and_md5_fields() {
        let got = parse("a\u{2}G\u{2}\u{2}\u{1}").unwrap();
        assert_eq!(got, vec![entry("a", "G", "", "")]);
    }

    /// Two fields are accepted, with md5 "".
    #[test]
    fn two_field_record_has_empty_md5() {
        let got = parse("a\u{2}G\u{1}").unwrap();
        assert_eq!(got, vec![entry("a", "G", "", "")]);
    }

    /// A last record without its ␁ is accepted, and empty records between ␁s are skipped.
    #[test]
    fn trailing_record_and_empty_records() {
        let got = parse("\u{1}a\u{2}G\u{2}m\u{1}\u{1}\u{1}b\u{2}G\u{2}n").unwrap();
        assert_eq!(
            got,
            vec![entry("a", "G", "m", ""), entry("b", "G", "n", "")]
        );
    }

    /// Chinese text passes through both the plain and the twice-encoded forms.
    #[test]
    fn chinese_data_id() {
        let plain = parse("配置.yaml\u{2}组\u{2}m\u{2}命名空间\u{1}").unwrap();
        assert_eq!(plain, vec![entry("配置.yaml", "组", "m", "命名空间")]);
        let mut encoded = String::new();
        form_url_encode_into("配置.yaml\u{2}组\u{2}m\u{2}命名空间\u{1}", &mut encoded);
        assert!(encoded.starts_with("%E9%85%8D%E7%BD%AE.yaml%02"));
        assert_eq!(parse(&encoded).unwrap(), plain);
    }

    /// A value URL-encoded once more than usual is decoded again (Java decodes twice).
    #[test]
    fn double_encoded_value() {
        let got =
            parse("app.yaml%02DEFAULT_GROUP%02d41d8cd98f00b204e9800998ecf8427e%02dev%01").unwrap();
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        assert_eq!(got, vec![entry("app.yaml", "DEFAULT_GROUP", md5, "dev")]);
        // `+` means space in a form value.
        let got = parse("my+app%02G%02m%01").unwrap();
        assert_eq!(got[0].data_id, "my app");
    }

    /// A value that already has separators is not decoded again: `%` and `+` stay literal.
    #[test]
    fn no_second_decode_when_separators_present() {
        let got = parse("a%01+b\u{2}G\u{2}m\u{1}").unwrap();
        assert_eq!(got, vec![entry("a%01+b", "G", "m", "")]);
    }

    /// Without any separator, plain or encoded, the value is one 1-field record.
    #[test]
    fn value_without_separators_is_rejected() {
        let err = parse("justtext").unwrap_err();
        assert_eq!(err, ListenParseError::TooFewFields { record_index: 0 });
        assert_eq!(err.to_string(), "invalid probeModify");
    }

    #[test]
    fn bad_escape_in_second_decode() {
        assert_eq!(
            parse("a%02G%02m%01%zz").unwrap_err(),
            ListenParseError::BadEscape
        );
        assert_eq!(
            parse("a%02G%02m%0").unwrap_err(),
            ListenParseError::BadEscape
        );
    }

    #[test]
    fn blank_value_rejected() {
        assert_eq!(parse("").unwrap_err(), ListenParseError::Blank);
        assert_eq!(parse("  \t").unwrap_err(), ListenParseError::Blank);
        assert_eq!(ListenParseError::Blank.to_string(), "invalid probeModify");
    }

    #[test]
    fn field_count_limits() {
        let err = parse("a\u{2}G\u{2}m\u{1}only\u{1}").unwrap_err();
        assert_eq!(err, ListenParseError::TooFewFields { record_index: 1 });
        let err = parse("a\u{2}G\u{2}m\u{2}t\u{2}x\u{1}").unwrap_err();
        assert_eq!(err, ListenParseError::TooManyFields { record_index: 0 });
        assert_eq!(err.to_string(), "invalid probeModify");
    }

    #[test]
    fn entry_count_limit() {
        let record = "a\u{2}G\u{2}m\u{1}";
        assert_eq!(
            parse_listening_configs(&record.repeat(3), 3).unwrap().len(),
            3
        );
        let err = parse_listening_configs(&record.repeat(4), 3).unwrap_err();
        assert_eq!(err, ListenParseError::TooManyEntries { entries_max: 3 });
        // Empty records do not count against the limit.
        let padded = format!("{record}\u{1}\u{1}{record}");
        assert_eq!(parse_listening_configs(&padded, 2).unwrap().len(), 2);
    }

    /// The exact reply from the protocol reference.
    #[test]
    fn encode_changed_reference_example() {
        let got = encode_changed(&[("app.yaml", "DEFAULT_GROUP", "dev")]);
        assert_eq!(got, "app.yaml%02DEFAULT_GROUP%02dev%01\n");
    }

    #[test]
    fn encode_changed_omits_empty_tenant_and_ends_once() {
        let got = encode_changed(&[("a", "G", ""), ("b", "G", "public")]);
        assert_eq!(got, "a%02G%01b%02G%02public%01\n");
        assert_eq!(encode_changed(&[]), "");
    }

    /// Java `URLEncoder` rules: `.-*_` kept, space → `+`, the rest `%XX` uppercase over UTF-8.
    #[test]
    fn encode_changed_uses_url_encoder_rules() {
        let got = encode_changed(&[("a b+c:d/*_-.~", "组", "")]);
        assert_eq!(got, "a+b%2Bc%3Ad%2F*_-.%7E%02%E7%BB%84%01\n");
    }

    /// What a Java 1.x client does with the reply: URL-decode, split on ␁ then ␂.
    #[test]
    fn encode_changed_round_trips_through_client_decoding() {
        let keys = [("配置 1.yaml", "G+1", "dev"), ("b%c", "G", "")];
        let reply = encode_changed(&keys);
        let decoded = form_url_decode(reply.trim_end()).unwrap();
        let lines: Vec<Vec<&str>> = decoded
            .split(LINE_SEPARATOR)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(WORD_SEPARATOR).collect())
            .collect();
        assert_eq!(
            lines,
            vec![vec!["配置 1.yaml", "G+1", "dev"], vec!["b%c", "G"]]
        );
    }

    #[test]
    fn group_key_escapes_and_omits_empty_tenant() {
        assert_eq!(
            group_key("app.yaml", "DEFAULT_GROUP", ""),
            "app.yaml+DEFAULT_GROUP"
        );
        assert_eq!(group_key("a+b", "g%1", "t"), "a%2Bb+g%251+t");
        assert_eq!(group_key("配置", "组", "命名"), "配置+组+命名");
    }

    #[test]
    fn group_key_round_trips() {
        let cases = [
            ("app.yaml", "DEFAULT_GROUP", ""),
            ("a+b%c", "+%", "t+%"),
            ("配置", "组", "命名"),
            ("", "G", "public"),
        ];
        for (data_id, group, tenant) in cases {
            let key = group_key(data_id, group, tenant);
            let parsed = parse_group_key(&key).unwrap();
            assert_eq!(
                parsed,
                (data_id.to_owned(), group.to_owned(), tenant.to_owned())
            );
        }
    }

    #[test]
    fn parse_group_key_rejects_malformed() {
        assert_eq!(parse_group_key("nogroup"), None);
        assert_eq!(parse_group_key("a+"), None);
        assert_eq!(parse_group_key("a+b+c+d"), None);
        assert_eq!(parse_group_key("a%2b+g"), None);
        assert_eq!(parse_group_key("a%41+g"), None);
        assert_eq!(parse_group_key("a+g%2"), None);
        assert_eq!(parse_group_key("a+g%"), None);
    }

    #[test]
    fn md5_of_empty_and_known_values() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        let chinese = md5_hex("你好".as_bytes());
        assert_eq!(chinese, "7eca689f0d3389d9dea66ae112e5cfd7");
    }

    /// md5("jk8ssl") = 0000000018e6137ac2caab16074784a6: leading zeros must be kept
    /// (the 1.2.x bug, nacos #2618).
    #[test]
    fn md5_keeps_leading_zeros() {
        let got = md5_hex(b"jk8ssl");
        assert_eq!(got, "0000000018e6137ac2caab16074784a6");
        assert_eq!(got.len(), MD5_HEX_LEN);
    }
}
