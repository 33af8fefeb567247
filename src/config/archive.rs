//! The Nacos console's export/import zip format, which is how users move configs out of Java
//! Nacos and into nacore. Pure: bytes in, bytes out, no I/O.
//!
//! # Format (read from `alibaba/nacos`: `cfg/controller/ConfigController` export/exportV2/
//! importAndPublishConfig, `cfg/utils/ZipUtils`, `cfg/utils/YamlParserUtil`,
//! `cfg/model/ConfigMetadata`)
//! - Every config is one entry named `<group>/<dataId>` holding the content as UTF-8.
//! - **v1** (`?export=true`) adds `.meta.yml`, only when some config has an appName, with one
//!   line per such config: `<group>.<dataId with its last '.' replaced by '~'>.app=<appName>`,
//!   each ended by `\r\n`. Import splits on any run of `\r`/`\n`. Nothing else survives v1.
//! - **v2** (`?exportV2=true`, and the only format 3.x's console writes or reads) adds
//!   `.metadata.yml`, a SnakeYAML dump of `metadata:` → a list of maps with the keys `appName,
//!   configTags, dataId, desc, group, type` in that order, null values left out.
//! - Import takes the first root entry named `.meta.yml` or `.metadata.yml` as the metadata, and
//!   the name of that entry picks the format. Entries whose name is not two `/`-separated parts
//!   are reported as unrecognized. v2 also reports entries missing from the metadata
//!   (`未在元数据中找到: <name>`) and metadata rows without an entry (`未在文件中找到: g/d`),
//!   and refuses the whole file when a row has a blank dataId, group or type.
//!
//! The YAML here is the small subset Nacos writes, read leniently: a block list of flat maps
//! whose values are plain, single-quoted or double-quoted scalars, possibly folded over several
//! lines. Like Java's own reader, values are taken as text: `null` is the string "null".

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Name of the v1 metadata entry (Java `CONFIG_EXPORT_METADATA`).
pub const META_V1_NAME: &str = ".meta.yml";

/// Name of the v2 metadata entry (Java `CONFIG_EXPORT_METADATA_NEW`).
pub const META_V2_NAME: &str = ".metadata.yml";

/// Separates group and dataId in an entry name (Java `CONFIG_EXPORT_ITEM_FILE_SEPARATOR`).
const PATH_SEPARATOR: char = '/';

/// The type Nacos gives a config without one; v2 import refuses a blank type, so export writes
/// this instead.
const CONFIG_TYPE_DEFAULT: &str = "text";

/// Java's unrecognized-item prefix for a v2 entry that has no metadata row.
pub const NOT_IN_METADATA_PREFIX: &str = "未在元数据中找到: ";

/// Java's unrecognized-item prefix for a v2 metadata row that has no entry.
pub const NOT_IN_FILES_PREFIX: &str = "未在文件中找到: ";

/// Largest buffer reserved up front for one entry, whatever its header claims; the real bound
/// is the caller's byte limit, enforced while reading.
const ENTRY_RESERVE_BYTES_MAX: u64 = 1024 * 1024;

/// One config as it travels through an archive. Empty strings stand for Java's nulls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveItem {
    pub group: String,
    pub data_id: String,
    pub content: String,
    pub app_name: String,
    pub desc: String,
    /// The Nacos type name (`yaml`, `text`, …); `""` after a v1 import, where the caller
    /// applies its publish default.
    pub config_type: String,
    /// Comma-separated tags as stored (`config_tags`); only v2 carries them.
    pub config_tags: String,
}

/// Which layout an imported archive used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `.meta.yml` or no metadata at all.
    V1,
    /// `.metadata.yml`.
    V2,
}

/// What an import found: the configs to publish and Java's `unrecognizedData` item names.
/// `succCount`, `skipCount` and `failData` come from publishing `items` under the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub format: ArchiveFormat,
    pub items: Vec<ArchiveItem>,
    /// Each is one `{"itemName": …}` of `unrecognizedData`, worded as Java words it.
    pub unrecognized: Vec<String>,
}

/// Why an archive was refused as a whole. `code` and `message` are Nacos's import result codes
/// (`cfg/result/code/ResultCodeEnum` in 2.x, English in 3.x `api/model/v2/ErrorCode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// Not a zip, or an entry that cannot be read (encrypted, unknown compression, corrupt).
    ParsingFailed(String),
    /// More entries than the caller allows (Nacos has no such limit; reported as a parse failure).
    TooManyEntries { entries_max: usize },
    /// More uncompressed bytes than the caller allows (a zip bomb guard, likewise).
    TooLarge { total_bytes_max: u64 },
    /// The metadata entry is malformed, or a v2 row lacks dataId, group or type.
    MetadataIllegal(String),
    /// Nothing importable was found.
    DataEmpty,
}

impl ImportError {
    /// Nacos's result code for this failure.
    pub fn code(&self) -> u32 {
        match self {
            ImportError::MetadataIllegal(_) => 100_002,
            ImportError::ParsingFailed(_)
            | ImportError::TooManyEntries { .. }
            | ImportError::TooLarge { .. } => 100_004,
            ImportError::DataEmpty => 100_005,
        }
    }

    /// Nacos 2.x's message for `code` (what the Java console shows).
    pub fn message(&self) -> &'static str {
        match self.code() {
            100_002 => "导入的元数据非法",
            100_004 => "解析数据失败",
            _ => "导入的文件数据为空",
        }
    }

    /// Nacos 3.x's English message for `code`.
    pub fn message_en(&self) -> &'static str {
        match self.code() {
            100_002 => "Imported metadata is invalid",
            100_004 => "Failed to parse data",
            _ => "Imported file data is empty",
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = self.message_en();
        match self {
            ImportError::ParsingFailed(detail) => write!(f, "{summary}: {detail}"),
            ImportError::TooManyEntries { entries_max } => {
                write!(f, "{summary}: more than {entries_max} zip entries")
            }
            ImportError::TooLarge { total_bytes_max } => {
                write!(
                    f,
                    "{summary}: more than {total_bytes_max} uncompressed bytes"
                )
            }
            ImportError::MetadataIllegal(detail) => write!(f, "{summary}: {detail}"),
            ImportError::DataEmpty => f.write_str(summary),
        }
    }
}

impl std::error::Error for ImportError {}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/// Builds the zip Java's console would download: v1 (`.meta.yml` with appNames) or v2
/// (`.metadata.yml`). Fails when an item cannot be represented: an empty group or dataId, one
/// containing `/`, a duplicate, or (v1) an appName containing a line break.
pub fn export_zip(items: &[ArchiveItem], v2: bool) -> Result<Vec<u8>, String> {
    for item in items {
        check_exportable(item, v2)?;
    }
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for item in items {
        let name = format!("{}{PATH_SEPARATOR}{}", item.group, item.data_id);
        add_entry(&mut writer, &name, &item.content, options)?;
    }
    // Java appends the metadata after the configs.
    if v2 {
        add_entry(
            &mut writer,
            META_V2_NAME,
            &render_metadata_v2(items),
            options,
        )?;
    } else if let Some(meta) = render_meta_v1(items) {
        add_entry(&mut writer, META_V1_NAME, &meta, options)?;
    }
    let cursor = writer.finish().map_err(|e| format!("zip finish: {e}"))?;
    Ok(cursor.into_inner())
}

fn check_exportable(item: &ArchiveItem, v2: bool) -> Result<(), String> {
    let parts = [("group", &item.group), ("dataId", &item.data_id)];
    for (field, value) in parts {
        if value.is_empty() {
            return Err(format!("cannot export a config with an empty {field}"));
        }
        if value.contains(PATH_SEPARATOR) {
            return Err(format!("cannot export {field} '{value}': it contains '/'"));
        }
    }
    let app_name_breaks = item.app_name.contains(['\r', '\n']);
    if !v2 && app_name_breaks {
        return Err(format!(
            "appName of '{}' has a line break; use v2",
            item.data_id
        ));
    }
    Ok(())
}

fn add_entry(
    writer: &mut ZipWriter<Cursor<Vec<u8>>>,
    name: &str,
    text: &str,
    options: SimpleFileOptions,
) -> Result<(), String> {
    writer
        .start_file(name, options)
        .map_err(|e| format!("zip entry '{name}': {e}"))?;
    writer
        .write_all(text.as_bytes())
        .map_err(|e| format!("zip entry '{name}': {e}"))
}

/// The key Java's v1 metadata uses: `group.dataId.app`, the dataId's last `.` made `~`.
fn meta_v1_key(group: &str, data_id: &str) -> String {
    match data_id.rfind('.') {
        Some(dot) => format!("{group}.{}~{}.app", &data_id[..dot], &data_id[dot + 1..]),
        None => format!("{group}.{data_id}.app"),
    }
}

/// `.meta.yml`, or `None` when no item has an appName (Java writes no file then).
fn render_meta_v1(items: &[ArchiveItem]) -> Option<String> {
    let mut meta = String::new();
    for item in items.iter().filter(|i| !i.app_name.trim().is_empty()) {
        meta.push_str(&meta_v1_key(&item.group, &item.data_id));
        meta.push('=');
        meta.push_str(&item.app_name);
        meta.push_str("\r\n");
    }
    if meta.is_empty() {
        None
    } else {
        Some(meta)
    }
}

/// `.metadata.yml` in SnakeYAML's block layout. Empty appName, configTags and desc are left
/// out, as Java leaves out nulls; an empty type is written as `text`.
fn render_metadata_v2(items: &[ArchiveItem]) -> String {
    if items.is_empty() {
        return "metadata: []\n".to_owned();
    }
    let mut out = String::from("metadata:\n");
    for item in items {
        let config_type = if item.config_type.is_empty() {
            CONFIG_TYPE_DEFAULT
        } else {
            item.config_type.as_str()
        };
        // (key, value, written when empty); SnakeYAML orders bean properties by name.
        let fields = [
            ("appName", item.app_name.as_str(), false),
            ("configTags", item.config_tags.as_str(), false),
            ("dataId", item.data_id.as_str(), true),
            ("desc", item.desc.as_str(), false),
            ("group", item.group.as_str(), true),
            ("type", config_type, true),
        ];
        let mut item_started = false;
        for (key, value, required) in fields {
            if value.is_empty() && !required {
                continue;
            }
            out.push_str(if item_started { "  " } else { "- " });
            item_started = true;
            out.push_str(key);
            out.push_str(": ");
            yaml_scalar_into(value, &mut out);
            out.push('\n');
        }
    }
    out
}

/// Writes `value` as a plain scalar when that reads back unchanged in any YAML reader, and as
/// a double-quoted scalar otherwise.
fn yaml_scalar_into(value: &str, out: &mut String) {
    if yaml_plain_is_safe(value) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Plain only for text made of letters, digits, `._-/` and inner single spaces, starting with a
/// letter, `_` or `/`, and not a YAML 1.1 boolean or null word.
fn yaml_plain_is_safe(value: &str) -> bool {
    const RESERVED: [&str; 10] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    let Some(first) = value.chars().next() else {
        return false;
    };
    if !(first.is_alphabetic() || first == '_' || first == '/') {
        return false;
    }
    if value.ends_with(' ') || value.contains("  ") {
        return false;
    }
    let chars_ok = value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ' '));
    chars_ok && !RESERVED.iter().any(|word| value.eq_ignore_ascii_case(word))
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

/// One zip entry read as text (UTF-8, invalid bytes replaced, as Java's `toString("UTF-8")`).
struct EntryText {
    name: String,
    text: String,
}

struct Unzipped {
    metadata: Option<EntryText>,
    entries: Vec<EntryText>,
}

/// Reads a Nacos export in either format. At most `entries_max` zip entries (directories
/// included) and `total_bytes_max` uncompressed bytes are read; past either the whole archive is
/// refused. Ids are not validated here: publishing each item does that.
pub fn import_zip(
    bytes: &[u8],
    entries_max: usize,
    total_bytes_max: u64,
) -> Result<ImportOutcome, ImportError> {
    let unzipped = unzip_bounded(bytes, entries_max, total_bytes_max)?;
    let is_v2 = unzipped
        .metadata
        .as_ref()
        .is_some_and(|m| m.name == META_V2_NAME);
    let outcome = if is_v2 {
        import_v2(unzipped, entries_max)?
    } else {
        import_v1(unzipped)?
    };
    if outcome.items.is_empty() {
        return Err(ImportError::DataEmpty);
    }
    Ok(outcome)
}

fn unzip_bounded(
    bytes: &[u8],
    entries_max: usize,
    total_bytes_max: u64,
) -> Result<Unzipped, ImportError> {
    let parse_failed = |e: zip::result::ZipError| ImportError::ParsingFailed(e.to_string());
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(parse_failed)?;
    if archive.len() > entries_max {
        return Err(ImportError::TooManyEntries { entries_max });
    }
    let mut unzipped = Unzipped {
        metadata: None,
        entries: Vec::with_capacity(archive.len()),
    };
    let mut bytes_left = total_bytes_max;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(parse_failed)?;
        if file.is_dir() {
            continue;
        }
        // Java's ZipInputStream reads names as UTF-8 whatever the header flag says.
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let data = read_bounded(&mut file, bytes_left, total_bytes_max)?;
        debug_assert!(data.len() as u64 <= bytes_left);
        bytes_left -= data.len() as u64;
        let text = match String::from_utf8(data) {
            Ok(text) => text,
            Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
        };
        let is_metadata = name == META_V1_NAME || name == META_V2_NAME;
        if is_metadata && unzipped.metadata.is_none() {
            unzipped.metadata = Some(EntryText { name, text });
        } else {
            unzipped.entries.push(EntryText { name, text });
        }
    }
    Ok(unzipped)
}

/// Reads one entry, refusing it once it passes `bytes_left`. The declared size is checked
/// first for a cheap refusal, but only the bytes actually inflated are trusted.
fn read_bounded(
    file: &mut impl Read,
    bytes_left: u64,
    total_bytes_max: u64,
) -> Result<Vec<u8>, ImportError> {
    let too_large = ImportError::TooLarge { total_bytes_max };
    let reserve_bytes = usize::try_from(bytes_left.min(ENTRY_RESERVE_BYTES_MAX)).unwrap_or(0);
    let mut data = Vec::with_capacity(reserve_bytes);
    let mut limited = file.by_ref().take(bytes_left.saturating_add(1));
    limited
        .read_to_end(&mut data)
        .map_err(|e| ImportError::ParsingFailed(format!("reading entry: {e}")))?;
    if data.len() as u64 > bytes_left {
        return Err(too_large);
    }
    Ok(data)
}

/// `(group, dataId)` when `name` is exactly two non-empty `/`-separated parts.
fn split_entry_name(name: &str) -> Option<(&str, &str)> {
    let (group, data_id) = name.split_once(PATH_SEPARATOR)?;
    let two_parts = !group.is_empty() && !data_id.is_empty() && !data_id.contains(PATH_SEPARATOR);
    if two_parts {
        Some((group, data_id))
    } else {
        None
    }
}

fn import_v1(unzipped: Unzipped) -> Result<ImportOutcome, ImportError> {
    let app_names = match &unzipped.metadata {
        Some(meta) => parse_meta_v1(&meta.text)?,
        None => HashMap::new(),
    };
    let mut items = Vec::with_capacity(unzipped.entries.len());
    let mut unrecognized = Vec::new();
    for entry in unzipped.entries {
        let Some((group, data_id)) = split_entry_name(&entry.name) else {
            unrecognized.push(entry.name);
            continue;
        };
        let app_name = app_names
            .get(&meta_v1_key(group, data_id))
            .cloned()
            .unwrap_or_default();
        items.push(ArchiveItem {
            group: group.to_owned(),
            data_id: data_id.to_owned(),
            content: entry.text,
            app_name,
            ..ArchiveItem::default()
        });
    }
    Ok(ImportOutcome {
        format: ArchiveFormat::V1,
        items,
        unrecognized,
    })
}

/// `key=appName` lines separated by any run of `\r`/`\n`. Java refuses a line that does not
/// split into exactly two parts on `=`; we refuse a non-empty line without `=`, skip blank lines
/// (which Java refuses when leading), and keep any further `=` in the value.
fn parse_meta_v1(text: &str) -> Result<HashMap<String, String>, ImportError> {
    let mut app_names = HashMap::new();
    for line in text.split(['\r', '\n']).filter(|line| !line.is_empty()) {
        let Some((key, app_name)) = line.split_once('=') else {
            return Err(ImportError::MetadataIllegal(format!(
                "{META_V1_NAME} line '{line}'"
            )));
        };
        app_names.insert(key.to_owned(), app_name.to_owned());
    }
    Ok(app_names)
}

fn import_v2(unzipped: Unzipped, entries_max: usize) -> Result<ImportOutcome, ImportError> {
    let meta_text = unzipped.metadata.as_ref().map_or("", |m| m.text.as_str());
    let rows = parse_metadata_v2(meta_text, entries_max)?;
    if rows.is_empty() {
        return Err(ImportError::MetadataIllegal(
            "empty metadata list".to_owned(),
        ));
    }
    for row in &rows {
        let blank = [&row.data_id, &row.group, &row.config_type]
            .iter()
            .any(|v| v.trim().is_empty());
        if blank {
            return Err(ImportError::MetadataIllegal(
                "a metadata row lacks dataId, group or type".to_owned(),
            ));
        }
    }
    let known: HashSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.group.as_str(), r.data_id.as_str()))
        .collect();
    let mut unrecognized = Vec::new();
    // Later entries with the same name win, as in Java's map.
    let mut contents: HashMap<(String, String), String> = HashMap::new();
    for entry in unzipped.entries {
        let Some((group, data_id)) = split_entry_name(&entry.name) else {
            unrecognized.push(entry.name);
            continue;
        };
        if !known.contains(&(group, data_id)) {
            unrecognized.push(format!("{NOT_IN_METADATA_PREFIX}{}", entry.name));
            continue;
        }
        contents.insert((group.to_owned(), data_id.to_owned()), entry.text);
    }
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (row.group.clone(), row.data_id.clone());
        let Some(content) = contents.get(&key) else {
            unrecognized.push(format!(
                "{NOT_IN_FILES_PREFIX}{}/{}",
                row.group, row.data_id
            ));
            continue;
        };
        items.push(ArchiveItem {
            content: content.clone(),
            ..row
        });
    }
    Ok(ImportOutcome {
        format: ArchiveFormat::V2,
        items,
        unrecognized,
    })
}

// ---------------------------------------------------------------------------------------------
// The YAML subset of `.metadata.yml`
// ---------------------------------------------------------------------------------------------

/// Where the `metadata:` list starts.
enum MetadataStart {
    /// `metadata: []` or `metadata:` with nothing under it.
    Empty,
    /// A block list starting at this line index.
    Block(usize),
}

/// One list item under construction: its key column and its `(key, raw lines)` fields.
struct RawItem<'a> {
    key_indent: Option<usize>,
    fields: Vec<(String, Vec<&'a str>)>,
}

/// Parses `.metadata.yml` into rows (content left empty), at most `rows_max` of them.
fn parse_metadata_v2(text: &str, rows_max: usize) -> Result<Vec<ArchiveItem>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let start_index = match find_metadata_start(&lines)? {
        MetadataStart::Empty => return Ok(Vec::new()),
        MetadataStart::Block(start_index) => start_index,
    };
    let raw_items = split_block_list(&lines[start_index..], start_index, rows_max)?;
    let mut rows = Vec::with_capacity(raw_items.len());
    for raw_item in raw_items {
        rows.push(decode_row(raw_item)?);
    }
    Ok(rows)
}

fn find_metadata_start(lines: &[&str]) -> Result<MetadataStart, ImportError> {
    for (index, line) in lines.iter().enumerate() {
        if yaml_line_is_skippable(line) || line.starts_with([' ', '\t', '-']) {
            continue;
        }
        let Some(rest) = line.strip_prefix("metadata:") else {
            continue;
        };
        let rest = strip_yaml_comment(rest).trim();
        if rest.is_empty() {
            return Ok(MetadataStart::Block(index + 1));
        }
        if rest == "[]" || rest == "~" || rest == "null" {
            return Ok(MetadataStart::Empty);
        }
        return Err(illegal_at(
            index,
            "only a block list is supported under 'metadata:'",
        ));
    }
    Err(ImportError::MetadataIllegal(
        "no 'metadata:' key".to_owned(),
    ))
}

/// Blank lines, comments, and document markers.
fn yaml_line_is_skippable(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed == "..."
}

/// Cuts a ` #comment` off a plain text fragment.
fn strip_yaml_comment(text: &str) -> &str {
    if text.trim_start().starts_with('#') {
        return "";
    }
    match text.find(" #") {
        Some(at) => &text[..at],
        None => text,
    }
}

fn illegal_at(line_index: usize, what: &str) -> ImportError {
    ImportError::MetadataIllegal(format!("{META_V2_NAME} line {}: {what}", line_index + 1))
}

/// Groups the lines of the block list into items and their fields' raw lines. A line more
/// indented than the item's keys continues the last field; the list ends at the next
/// unindented line that is not an item.
fn split_block_list<'a>(
    lines: &[&'a str],
    first_line_index: usize,
    rows_max: usize,
) -> Result<Vec<RawItem<'a>>, ImportError> {
    let mut items: Vec<RawItem<'a>> = Vec::new();
    let mut list_indent: Option<usize> = None;
    for (offset, &line) in lines.iter().enumerate() {
        let line_index = first_line_index + offset;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = &line[indent..];
        let current = items.last_mut();
        if let Some(item) = current {
            let key_indent = item.key_indent.unwrap_or(usize::MAX);
            let continues =
                body.trim().is_empty() || (indent > key_indent && key_indent != usize::MAX);
            if continues {
                if let Some((_, raw_lines)) = item.fields.last_mut() {
                    raw_lines.push(line);
                }
                continue;
            }
        }
        if body.trim_start().starts_with('#') || body.trim().is_empty() {
            continue;
        }
        if body == "-" || body.starts_with("- ") {
            if *list_indent.get_or_insert(indent) != indent {
                return Err(illegal_at(line_index, "list items are not aligned"));
            }
            if items.len() >= rows_max {
                return Err(ImportError::TooManyEntries {
                    entries_max: rows_max,
                });
            }
            items.push(start_item(body, indent, line_index)?);
            continue;
        }
        let Some(list_indent) = list_indent else {
            if indent == 0 {
                break;
            }
            return Err(illegal_at(line_index, "expected a list item"));
        };
        if indent == 0 {
            // An unindented key after the list: the list is over.
            break;
        }
        if indent <= list_indent {
            return Err(illegal_at(line_index, "a key not inside a list item"));
        }
        add_field_line(items.last_mut(), body, indent, line_index)?;
    }
    Ok(items)
}

/// Starts an item from a `- key: value` (or bare `-`) line.
fn start_item<'a>(
    body: &'a str,
    indent: usize,
    line_index: usize,
) -> Result<RawItem<'a>, ImportError> {
    let after_dash = &body[1..];
    let rest = after_dash.trim_start_matches(' ');
    let mut item = RawItem {
        key_indent: None,
        fields: Vec::new(),
    };
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(item);
    }
    let key_indent = indent + 1 + (after_dash.len() - rest.len());
    add_field_line(Some(&mut item), rest, key_indent, line_index)?;
    Ok(item)
}

/// Adds a `key: value` line at `indent` to `item`, fixing the item's key column on first use.
fn add_field_line<'a>(
    item: Option<&mut RawItem<'a>>,
    body: &'a str,
    indent: usize,
    line_index: usize,
) -> Result<(), ImportError> {
    let Some(item) = item else {
        return Err(illegal_at(line_index, "a key outside any list item"));
    };
    if *item.key_indent.get_or_insert(indent) != indent {
        return Err(illegal_at(line_index, "keys of one item are not aligned"));
    }
    let (key, value) =
        split_key_line(body).ok_or_else(|| illegal_at(line_index, "expected 'key: value'"))?;
    item.fields.push((key, vec![value]));
    Ok(())
}

/// Splits `key: value` (the key possibly quoted) into the key and the raw value text.
fn split_key_line(body: &str) -> Option<(String, &str)> {
    let quote = body.chars().next().filter(|c| *c == '"' || *c == '\'');
    if let Some(quote) = quote {
        let close = body[1..].find(quote)? + 1;
        let rest = body[close + 1..].strip_prefix(':')?;
        let value_ok = rest.is_empty() || rest.starts_with([' ', '\t']);
        return value_ok.then(|| (body[1..close].to_owned(), rest));
    }
    if let Some(at) = body.find(": ") {
        return Some((body[..at].trim_end().to_owned(), &body[at + 2..]));
    }
    let key = body.trim_end().strip_suffix(':')?;
    Some((key.trim_end().to_owned(), ""))
}

/// Turns an item's raw fields into a row, ignoring keys Nacos does not read.
fn decode_row(raw_item: RawItem<'_>) -> Result<ArchiveItem, ImportError> {
    let mut row = ArchiveItem::default();
    for (key, raw_lines) in raw_item.fields {
        let slot = match key.as_str() {
            "group" => &mut row.group,
            "dataId" => &mut row.data_id,
            "desc" => &mut row.desc,
            "type" => &mut row.config_type,
            "appName" => &mut row.app_name,
            "configTags" => &mut row.config_tags,
            _ => continue,
        };
        *slot = decode_scalar(&raw_lines)
            .map_err(|what| ImportError::MetadataIllegal(format!("value of '{key}': {what}")))?;
    }
    Ok(row)
}

/// Decodes one scalar value spread over `raw_lines` (the text after `key:`, then continuation
/// lines). Plain, single-quoted and double-quoted scalars are supported.
fn decode_scalar(raw_lines: &[&str]) -> Result<String, &'static str> {
    let Some(first) = raw_lines.first() else {
        return Ok(String::new());
    };
    let mut first = first.trim_start();
    if let Some(untagged) = first.strip_prefix("!!str ") {
        first = untagged.trim_start();
    }
    let quote = first.chars().next().filter(|c| *c == '\'' || *c == '"');
    if let Some(quote) = quote {
        let mut joined = String::from(first);
        for line in &raw_lines[1..] {
            joined.push('\n');
            joined.push_str(line);
        }
        return decode_quoted(&joined, quote);
    }
    if first.starts_with(['|', '>', '&', '*', '!', '[', '{', '@', '`']) {
        return Err("unsupported YAML construct");
    }
    let mut plain_lines: Vec<&str> = vec![strip_yaml_comment(first)];
    for line in &raw_lines[1..] {
        if line.trim_start().starts_with('#') {
            break;
        }
        plain_lines.push(strip_yaml_comment(line));
    }
    while plain_lines.len() > 1 && plain_lines.last().is_some_and(|l| l.trim().is_empty()) {
        plain_lines.pop();
    }
    let joined = plain_lines.join("\n");
    Ok(fold_flow_lines(joined.trim(), false))
}

/// Decodes a quoted scalar whose opening quote starts `text`; only blanks and comments may
/// follow the closing quote.
fn decode_quoted(text: &str, quote: char) -> Result<String, &'static str> {
    debug_assert!(text.starts_with(quote));
    let inner = &text[1..];
    let close = find_closing_quote(inner, quote).ok_or("unterminated quoted value")?;
    let trailing = inner[close + 1..].trim();
    if !trailing.is_empty() && !trailing.starts_with('#') {
        return Err("text after a quoted value");
    }
    let double = quote == '"';
    let folded = fold_flow_lines(&inner[..close], double);
    if double {
        unescape_double_quoted(&folded)
    } else {
        Ok(folded.replace("''", "'"))
    }
}

/// Byte offset of the closing quote in `inner` (the text after the opening quote).
fn find_closing_quote(inner: &str, quote: char) -> Option<usize> {
    let mut chars = inner.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            let doubled = quote == '\'' && chars.peek().is_some_and(|(_, next)| *next == '\'');
            if !doubled {
                return Some(at);
            }
            chars.next();
        }
    }
    None
}

/// YAML line folding for flow scalars: lines are trimmed where they meet, one line break
/// becomes a space, and each blank line becomes `\n`. In double quotes a `\` ending a line
/// joins it to the next with nothing between.
fn fold_flow_lines(text: &str, double: bool) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let last_index = lines.len() - 1;
    let mut out = String::with_capacity(text.len());
    let mut breaks_count: usize = 0;
    let mut escaped_join = false;
    for (index, raw_line) in lines.iter().enumerate() {
        let mut line = *raw_line;
        if index > 0 {
            line = line.trim_start_matches([' ', '\t']);
        }
        if index < last_index {
            line = line.trim_end_matches([' ', '\t']);
        }
        if index > 0 {
            if line.is_empty() && index < last_index {
                breaks_count += 1;
                continue;
            }
            if !escaped_join {
                if breaks_count == 0 {
                    out.push(' ');
                }
                for _ in 0..breaks_count {
                    out.push('\n');
                }
            }
            breaks_count = 0;
        }
        out.push_str(line);
        escaped_join = double && index < last_index && ends_with_odd_backslashes(line);
        if escaped_join {
            out.pop();
        }
    }
    out
}

fn ends_with_odd_backslashes(line: &str) -> bool {
    let backslashes_count = line.len() - line.trim_end_matches('\\').len();
    backslashes_count % 2 == 1
}

/// Resolves YAML double-quoted escapes.
fn unescape_double_quoted(text: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next().ok_or("dangling backslash")?;
        let hex_digits_count = match escaped {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_digits_count > 0 {
            out.push(read_hex_char(&mut chars, hex_digits_count)?);
            continue;
        }
        out.push(match escaped {
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            _ => return Err("unknown escape"),
        });
    }
    Ok(out)
}

fn read_hex_char(
    chars: &mut std::str::Chars<'_>,
    digits_count: usize,
) -> Result<char, &'static str> {
    let mut code: u32 = 0;
    for _ in 0..digits_count {
        let digit = chars
            .next()
            .and_then(|d| d.to_digit(16))
            .ok_or("bad hex escape")?;
        code = code * 16 + digit;
    }
    char::from_u32(code).ok_or("escape is not a character")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRIES_MAX: usize = 1000;
    const TOTAL_BYTES_MAX: u64 = 1024 * 1024;

    /// Bytes written by Java 17's `ZipOutputStream` exactly as `ZipUtils.zip` writes them
    /// (streamed deflate entries with data descriptors, UTF-8 names): a v1 export with a
    /// Chinese config and a 3-level path.
    const JAVA_V1_ZIP_HEX: &str = concat!(
        "504b03041400080808007248825d00000000000000000000000015000000544553545f494d504f52542f7465",
        "7374312e796d6c2b492d2eb1522801928600504b070806eba9b40b0000000b000000504b0304140008080800",
        "7248825d0000000000000000000000000f000000e7bb842fe9858de7bdae2e79616d6c7b39659d95c2d3863d",
        "00504b07082cb9f2dc0a00000008000000504b03041400080808007248825d00000000000000000000000026",
        "000000544553545f494d504f52542f5355425f47524f55502f74657374352e70726f70657274696573abb035",
        "0400504b07087ea8959e0500000003000000504b03041400080808007248825d000000000000000000000000",
        "090000002e6d6574612e796d6c0b710d0e89f7f40df00f0ad12b492d2e31acabcccdd14b2c28b005f11c0b0a",
        "0c79b99eef6ed17bd9dafb7cefbabaca44a8ecd35d539e4f59c1cb0500504b0708e9c6e3da3c000000400000",
        "00504b010214001400080808007248825d06eba9b40b0000000b000000150000000000000000000000000000",
        "000000544553545f494d504f52542f74657374312e796d6c504b010214001400080808007248825d2cb9f2dc",
        "0a000000080000000f000000000000000000000000004e000000e7bb842fe9858de7bdae2e79616d6c504b01",
        "0214001400080808007248825d7ea8959e050000000300000026000000000000000000000000009500000054",
        "4553545f494d504f52542f5355425f47524f55502f74657374352e70726f70657274696573504b0102140014",
        "00080808007248825de9c6e3da3c000000400000000900000000000000000000000000ee0000002e6d657461",
        "2e796d6c504b050600000000040004000b010000610100000000",
    );

    fn item(group: &str, data_id: &str, content: &str) -> ArchiveItem {
        ArchiveItem {
            group: group.to_owned(),
            data_id: data_id.to_owned(),
            content: content.to_owned(),
            ..ArchiveItem::default()
        }
    }

    /// Builds a zip the way Java's `ZipUtils.zip` does: one deflated entry per (name, text).
    fn java_zip(entries: &[(&str, &str)]) -> Vec<u8> {
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn import(bytes: &[u8]) -> Result<ImportOutcome, ImportError> {
        import_zip(bytes, ENTRIES_MAX, TOTAL_BYTES_MAX)
    }

    fn entry_names(zip_bytes: &[u8]) -> Vec<String> {
        let mut archive = ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
        (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
            .collect()
    }

    fn entry_text(zip_bytes: &[u8], name: &str) -> String {
        let mut archive = ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    fn sample_items() -> Vec<ArchiveItem> {
        let mut with_app = item(
            "DEFAULT_GROUP",
            "app.service.yaml",
            "server:\n  port: 8080\n",
        );
        with_app.app_name = "order-service".to_owned();
        with_app.config_type = "yaml".to_owned();
        with_app.desc = "the order service".to_owned();
        let mut chinese = item("组", "配置.properties", "名字=值\n");
        chinese.app_name = "应用".to_owned();
        chinese.config_type = "properties".to_owned();
        chinese.config_tags = "a,b".to_owned();
        let plain = item("G2", "no-extension", "text");
        vec![with_app, chinese, plain]
    }

    /// v1 keeps content and appName (nothing else) through export and import.
    #[test]
    fn v1_round_trip() {
        let items = sample_items();
        let zip_bytes = export_zip(&items, false).unwrap();
        let names = entry_names(&zip_bytes);
        let expected_names = [
            "DEFAULT_GROUP/app.service.yaml",
            "组/配置.properties",
            "G2/no-extension",
            ".meta.yml",
        ];
        assert_eq!(names, expected_names);
        let meta = entry_text(&zip_bytes, META_V1_NAME);
        assert_eq!(
            meta,
            "DEFAULT_GROUP.app.service~yaml.app=order-service\r\n组.配置~properties.app=应用\r\n"
        );
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(outcome.format, ArchiveFormat::V1);
        assert!(outcome.unrecognized.is_empty());
        let expected: Vec<ArchiveItem> = items
            .iter()
            .map(|i| ArchiveItem {
                desc: String::new(),
                config_type: String::new(),
                config_tags: String::new(),
                ..i.clone()
            })
            .collect();
        assert_eq!(outcome.items, expected);
    }

    /// v1 writes no `.meta.yml` when no config has an appName.
    #[test]
    fn v1_without_app_names_has_no_meta() {
        let zip_bytes = export_zip(&[item("G", "a", "1"), item("G", "b", "2")], false).unwrap();
        assert_eq!(entry_names(&zip_bytes), ["G/a", "G/b"]);
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(
            outcome.items,
            vec![item("G", "a", "1"), item("G", "b", "2")]
        );
    }

    /// v2 keeps every field through export and import.
    #[test]
    fn v2_round_trip() {
        let items = sample_items();
        let zip_bytes = export_zip(&items, true).unwrap();
        let names = entry_names(&zip_bytes);
        assert_eq!(names.last().map(String::as_str), Some(META_V2_NAME));
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(outcome.format, ArchiveFormat::V2);
        assert!(outcome.unrecognized.is_empty());
        let mut expected = items;
        expected[2].config_type = CONFIG_TYPE_DEFAULT.to_owned();
        assert_eq!(outcome.items, expected);
    }

    /// The v2 metadata is laid out as SnakeYAML lays it out (YamlParserUtilTest's string).
    #[test]
    fn v2_metadata_matches_snakeyaml_layout() {
        let mut first = item("testGroup1", "testData1", "");
        first.config_type = "text".to_owned();
        let mut second = item("testGroup2", "testData2", "");
        second.config_type = "yaml".to_owned();
        second.app_name = "testAppName".to_owned();
        second.desc = "test desc".to_owned();
        let expected = "metadata:\n- dataId: testData1\n  group: testGroup1\n  type: text\n\
                        - appName: testAppName\n  dataId: testData2\n  desc: test desc\n  \
                        group: testGroup2\n  type: yaml\n";
        assert_eq!(render_metadata_v2(&[first, second]), expected);
        assert_eq!(render_metadata_v2(&[]), "metadata: []\n");
    }

    /// Values that would not read back as the same string when plain are double-quoted, and
    /// survive the round trip.
    #[test]
    fn v2_round_trips_awkward_values() {
        let awkward = [
            "a: b",
            "# not a comment",
            "it's",
            "say \"hi\"",
            "two\nlines",
            "123",
            "true",
            "null",
            " padded ",
            "tab\there",
            "back\\slash",
            "中文描述，带标点",
            "",
            "~",
            "-dash",
            "x #y",
        ];
        let items: Vec<ArchiveItem> = awkward
            .iter()
            .enumerate()
            .map(|(index, desc)| ArchiveItem {
                desc: (*desc).to_owned(),
                app_name: (*desc).to_owned(),
                config_type: "text".to_owned(),
                ..item("G", &format!("d{index}"), "c")
            })
            .collect();
        let outcome = import(&export_zip(&items, true).unwrap()).unwrap();
        assert_eq!(outcome.items, items);
    }

    /// The import from Nacos's own integration test (ConfigExportAndImportAPIConfigITCase
    /// testImport): mixed line endings in `.meta.yml`, and a 3-level path left unrecognized.
    #[test]
    fn java_v1_layout_imports() {
        let meta = "TEST_IMPORT.test1~yml.app=testApp1\rTEST_IMPORT.test2~txt.app=testApp2\r\n\
                    TEST_IMPORT.test3~properties.app=testApp3\nTEST_IMPORT_2.test4~properties.app=testApp4";
        let zip_bytes = java_zip(&[
            ("TEST_IMPORT/test1.yml", "test: test1"),
            ("TEST_IMPORT/test2.txt", "test: test1"),
            ("TEST_IMPORT/test3.properties", "test.test1.value=test"),
            ("TEST_IMPORT_2/test4.properties", "test.test4.value=test"),
            (
                "TEST_IMPORT/SUB_GROUP/test5.properties",
                "test.test5.value=test",
            ),
            (".meta.yml", meta),
        ]);
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(outcome.format, ArchiveFormat::V1);
        assert_eq!(
            outcome.unrecognized,
            ["TEST_IMPORT/SUB_GROUP/test5.properties"]
        );
        let got: Vec<(&str, &str, &str)> = outcome
            .items
            .iter()
            .map(|i| (i.group.as_str(), i.data_id.as_str(), i.app_name.as_str()))
            .collect();
        let expected = [
            ("TEST_IMPORT", "test1.yml", "testApp1"),
            ("TEST_IMPORT", "test2.txt", "testApp2"),
            ("TEST_IMPORT", "test3.properties", "testApp3"),
            ("TEST_IMPORT_2", "test4.properties", "testApp4"),
        ];
        assert_eq!(got, expected);
        assert_eq!(outcome.items[2].content, "test.test1.value=test");
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        let digits = hex.as_bytes();
        let pair_value = |pair: &[u8]| {
            let text = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(text, 16).unwrap()
        };
        digits.chunks(2).map(pair_value).collect()
    }

    #[test]
    fn java_zip_output_stream_bytes_import() {
        let outcome = import(&hex_bytes(JAVA_V1_ZIP_HEX)).unwrap();
        assert_eq!(outcome.format, ArchiveFormat::V1);
        let mut first = item("TEST_IMPORT", "test1.yml", "test: test1");
        first.app_name = "testApp1".to_owned();
        let mut chinese = item("组", "配置.yaml", "键: 值");
        chinese.app_name = "应用".to_owned();
        assert_eq!(outcome.items, vec![first, chinese]);
        assert_eq!(
            outcome.unrecognized,
            ["TEST_IMPORT/SUB_GROUP/test5.properties"]
        );
    }

    /// Directory entries are skipped; entries with an empty part are unrecognized.
    #[test]
    fn directories_skipped_and_odd_paths_unrecognized() {
        let options = SimpleFileOptions::default();
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        writer.add_directory("G/", options).unwrap();
        for (name, text) in [("G/a", "1"), ("/b", "2"), ("top", "4"), ("G//c", "5")] {
            writer.start_file(name, options).unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        let zip_bytes = writer.finish().unwrap().into_inner();
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(outcome.items, vec![item("G", "a", "1")]);
        assert_eq!(outcome.unrecognized, ["/b", "top", "G//c"]);
    }

    /// Only the first metadata entry counts; a second one is just an unrecognized entry, and
    /// a `.meta.yml` inside a group is an ordinary config.
    #[test]
    fn first_metadata_entry_wins() {
        let zip_bytes = java_zip(&[
            ("G/a", "1"),
            (".meta.yml", "G.a.app=app1"),
            (
                ".metadata.yml",
                "metadata:\n- dataId: a\n  group: G\n  type: text\n",
            ),
            ("G/.meta.yml", "x"),
        ]);
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(outcome.format, ArchiveFormat::V1);
        assert_eq!(outcome.unrecognized, [".metadata.yml"]);
        assert_eq!(outcome.items[0].app_name, "app1");
        assert_eq!(outcome.items[1], item("G", ".meta.yml", "x"));
    }

    /// Nacos's testImportV2MetadataNotFind and testImportV2ConfigIgnore, with Java's wording.
    #[test]
    fn v2_reports_entries_and_rows_without_a_partner() {
        let meta = "metadata:\n- dataId: notExist\n  group: TEST_IMPORT2\n  type: yaml\n\
                    - dataId: test3.yml\n  group: TEST_IMPORT2\n  type: yaml";
        let zip_bytes = java_zip(&[
            ("TEST_IMPORT2/test3.yml", "test: test3"),
            ("TEST_IMPORT2/ignore.yml", "test: test4"),
            ("TEST_IMPORT2/a/b", "deep"),
            (".metadata.yml", meta),
        ]);
        let outcome = import(&zip_bytes).unwrap();
        assert_eq!(outcome.items.len(), 1);
        assert_eq!(outcome.items[0].data_id, "test3.yml");
        assert_eq!(outcome.items[0].config_type, "yaml");
        let expected_unrecognized = [
            "未在元数据中找到: TEST_IMPORT2/ignore.yml",
            "TEST_IMPORT2/a/b",
            "未在文件中找到: TEST_IMPORT2/notExist",
        ];
        assert_eq!(outcome.unrecognized, expected_unrecognized);
    }

    /// Nacos's testImportV2MetadataError: a row without dataId refuses the whole file.
    #[test]
    fn v2_row_without_data_id_is_illegal() {
        let meta = "metadata:\n- appName: testAppName\n  desc: test desc\n  group: TEST_IMPORT\n  type: yaml";
        let zip_bytes = java_zip(&[
            ("TEST_IMPORT2/test2", "test: test2"),
            (".metadata.yml", meta),
        ]);
        let err = import(&zip_bytes).unwrap_err();
        assert!(matches!(err, ImportError::MetadataIllegal(_)));
        assert_eq!(err.code(), 100_002);
        assert_eq!(err.message(), "导入的元数据非法");
        assert_eq!(err.message_en(), "Imported metadata is invalid");
    }

    #[test]
    fn v2_empty_or_garbled_metadata_is_illegal() {
        for meta in [
            "metadata: []\n",
            "",
            "other: 1\n",
            "metadata: [{dataId: a}]\n",
            "metadata:\n- dataId: 'a\n",
        ] {
            let zip_bytes = java_zip(&[("G/a", "1"), (".metadata.yml", meta)]);
            let err = import(&zip_bytes).unwrap_err();
            assert!(
                matches!(err, ImportError::MetadataIllegal(_)),
                "{meta:?}: {err:?}"
            );
        }
    }

    #[test]
    fn v1_line_without_equals_is_illegal() {
        let zip_bytes = java_zip(&[("G/a", "1"), (".meta.yml", "G.a.app=x\r\nbroken\r\n")]);
        let err = import(&zip_bytes).unwrap_err();
        assert!(matches!(err, ImportError::MetadataIllegal(_)));
    }

    #[test]
    fn nothing_importable_is_data_empty() {
        let zip_bytes = java_zip(&[("a/b/c", "1")]);
        let err = import(&zip_bytes).unwrap_err();
        assert_eq!(err, ImportError::DataEmpty);
        assert_eq!(err.code(), 100_005);
        assert_eq!(err.message(), "导入的文件数据为空");
    }

    #[test]
    fn not_a_zip_fails_to_parse() {
        let err = import(b"definitely not a zip").unwrap_err();
        assert!(matches!(err, ImportError::ParsingFailed(_)));
        assert_eq!(err.code(), 100_004);
    }

    #[test]
    fn too_many_entries_rejected() {
        let names: Vec<String> = (0..5).map(|i| format!("G/d{i}")).collect();
        let entries: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
        let zip_bytes = java_zip(&entries);
        assert_eq!(
            import_zip(&zip_bytes, 5, TOTAL_BYTES_MAX)
                .unwrap()
                .items
                .len(),
            5
        );
        let err = import_zip(&zip_bytes, 4, TOTAL_BYTES_MAX).unwrap_err();
        assert_eq!(err, ImportError::TooManyEntries { entries_max: 4 });
    }

    /// v2 metadata rows are bounded by the same entry limit.
    #[test]
    fn too_many_metadata_rows_rejected() {
        let meta = "metadata:\n- dataId: a\n  group: G\n  type: text\n".to_owned()
            + &"- dataId: b\n  group: G\n  type: text\n".repeat(3);
        let zip_bytes = java_zip(&[("G/a", "1"), (".metadata.yml", &meta)]);
        let err = import_zip(&zip_bytes, 3, TOTAL_BYTES_MAX).unwrap_err();
        assert_eq!(err, ImportError::TooManyEntries { entries_max: 3 });
    }

    /// The byte limit counts every entry, and is exact.
    #[test]
    fn total_bytes_limit_is_exact() {
        let zip_bytes = java_zip(&[("G/a", "12345"), ("G/b", "67890")]);
        assert_eq!(
            import_zip(&zip_bytes, ENTRIES_MAX, 10).unwrap().items.len(),
            2
        );
        let err = import_zip(&zip_bytes, ENTRIES_MAX, 9).unwrap_err();
        assert_eq!(err, ImportError::TooLarge { total_bytes_max: 9 });
    }

    /// A zip bomb: 8 MiB of zeros deflate to a few KiB, and are refused after 1 MiB.
    #[test]
    fn zip_bomb_refused() {
        let zeros = "0".repeat(8 * 1024 * 1024);
        let zip_bytes = java_zip(&[("G/bomb", &zeros)]);
        assert!(zip_bytes.len() < 64 * 1024);
        let err = import_zip(&zip_bytes, ENTRIES_MAX, TOTAL_BYTES_MAX).unwrap_err();
        assert_eq!(
            err,
            ImportError::TooLarge {
                total_bytes_max: TOTAL_BYTES_MAX
            }
        );
    }

    /// Invalid UTF-8 content is kept with replacement characters, as Java's decoder does.
    #[test]
    fn invalid_utf8_content_is_replaced() {
        let options = SimpleFileOptions::default();
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        writer.start_file("G/a", options).unwrap();
        writer.write_all(b"ok\xff").unwrap();
        let zip_bytes = writer.finish().unwrap().into_inner();
        assert_eq!(import(&zip_bytes).unwrap().items[0].content, "ok\u{fffd}");
    }

    #[test]
    fn export_rejects_unrepresentable_items() {
        assert!(export_zip(&[item("a/b", "d", "c")], true).is_err());
        assert!(export_zip(&[item("G", "", "c")], false).is_err());
        assert!(export_zip(&[item("G", "d", "c"), item("G", "d", "c2")], true).is_err());
        let mut broken_app = item("G", "d", "c");
        broken_app.app_name = "a\nb".to_owned();
        assert!(export_zip(&[broken_app.clone()], false).is_err());
        assert!(export_zip(&[broken_app], true).is_ok());
    }

    #[test]
    fn meta_v1_key_replaces_only_the_last_dot() {
        assert_eq!(meta_v1_key("G", "a.b.yaml"), "G.a.b~yaml.app");
        assert_eq!(meta_v1_key("G.x", "plain"), "G.x.plain.app");
        assert_eq!(meta_v1_key("G", "trailing."), "G.trailing~.app");
    }

    fn rows(yaml: &str) -> Vec<ArchiveItem> {
        parse_metadata_v2(yaml, ENTRIES_MAX).unwrap()
    }

    /// What SnakeYAML writes for long or multi-line values: wrapped plain scalars and
    /// single-quoted scalars whose line breaks are doubled.
    #[test]
    fn yaml_snakeyaml_folded_values() {
        let yaml =
            "metadata:\n- dataId: d\n  desc: a long description that SnakeYAML wrapped at\n    \
                    the eightieth column\n  group: 'it''s a\n\n    group'\n  type: \"a\\tb\\\n    \
                    c \\u4e2d\\x41\"\n";
        let got = rows(yaml);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].desc,
            "a long description that SnakeYAML wrapped at the eightieth column"
        );
        assert_eq!(got[0].group, "it's a\ngroup");
        assert_eq!(got[0].config_type, "a\tbc 中A");
    }

    /// `.metadata.yml` as PyYAML 6 emits it (SnakeYAML is a port of PyYAML's emitter, with the
    /// same defaults Nacos uses: block style, width 80, unicode kept), over awkward descs.
    const SNAKEYAML_STYLE_METADATA: &str = r#"metadata:
- dataId: d0
  desc: a long description that SnakeYAML would wrap at the eightieth column because
    it is long enough
  group: G
  type: text
- dataId: d1
  desc: 'two

    lines'
  group: G
  type: text
- dataId: d2
  desc: 'three


    breaks

    '
  group: G
  type: text
- dataId: d3
  desc: ' padded '
  group: G
  type: text
- dataId: d4
  desc: it's
  group: G
  type: text
- dataId: d5
  desc: say "hi"
  group: G
  type: text
- dataId: d6
  desc: 'a: b'
  group: G
  type: text
- dataId: d7
  desc: 'x #y'
  group: G
  type: text
- dataId: d8
  desc: 'null'
  group: G
  type: text
- dataId: d9
  desc: '123'
  group: G
  type: text
- dataId: d10
  desc: ''
  group: G
  type: text
- dataId: d11
  desc: "tab\there"
  group: G
  type: text
- dataId: d12
  desc: 中文描述，带标点 and a fairly long tail so that the emitter has to wrap this line
    too
  group: G
  type: text
- dataId: d13
  desc: 'trailing

    '
  group: G
  type: text
- dataId: d14
  desc: back\slash
  group: G
  type: text
- dataId: d15
  desc: "\x01ctl"
  group: G
  type: text
- dataId: d16
  desc: '- dash'
  group: G
  type: text
- dataId: d17
  desc: '''quoted'''
  group: G
  type: text
- dataId: d18
  desc: 'multi line with a very long first line that must be wrapped somewhere near
    eighty columns

    and a second'
  group: G
  type: text
"#;

    #[test]
    fn yaml_reads_snakeyaml_style_output() {
        let expected_descs = [
            "a long description that SnakeYAML would wrap at the eightieth column because it is long enough",
            "two\nlines",
            "three\n\nbreaks\n",
            " padded ",
            "it's",
            "say \"hi\"",
            "a: b",
            "x #y",
            "null",
            "123",
            "",
            "tab\there",
            "中文描述，带标点 and a fairly long tail so that the emitter has to wrap this line too",
            "trailing\n",
            "back\\slash",
            "\u{1}ctl",
            "- dash",
            "'quoted'",
            "multi line with a very long first line that must be wrapped somewhere near eighty columns\nand a second",
        ];
        let got = rows(SNAKEYAML_STYLE_METADATA);
        assert_eq!(got.len(), expected_descs.len());
        for (index, (row, desc)) in got.iter().zip(expected_descs).enumerate() {
            assert_eq!(row.desc, desc, "row {index}");
            assert_eq!(row.data_id, format!("d{index}"));
            assert_eq!(
                (row.group.as_str(), row.config_type.as_str()),
                ("G", "text")
            );
        }
    }

    /// Lenient reading: an indented list, comments, CRLF, a BOM, quoted keys, unknown keys,
    /// `key:` with no value, and other top-level keys around `metadata`.
    #[test]
    fn yaml_lenient_layouts() {
        let yaml = "\u{feff}# exported\r\nversion: 2\r\nmetadata:\r\n  - dataId: a # note\r\n    \
                    \"group\": G\r\n    type: text\r\n    extra: ignored\r\n    desc:\r\n\r\n  -\r\n    \
                    dataId: b\r\n    group: G\r\n    type: yaml\r\nafter: 1\r\n";
        let got = rows(yaml);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].data_id.as_str(), got[0].group.as_str()), ("a", "G"));
        assert_eq!(got[0].desc, "");
        assert_eq!(
            (got[1].data_id.as_str(), got[1].config_type.as_str()),
            ("b", "yaml")
        );
    }

    /// Like Java's reader, plain values are text: `null` stays "null".
    #[test]
    fn yaml_plain_values_are_text() {
        let got = rows("metadata:\n- dataId: 123\n  group: null\n  type: ~\n");
        assert_eq!(
            (got[0].data_id.as_str(), got[0].group.as_str()),
            ("123", "null")
        );
        assert_eq!(got[0].config_type, "~");
    }

    #[test]
    fn yaml_rejects_unsupported_constructs() {
        let bad = [
            "metadata:\n- dataId: |\n    a\n",
            "metadata:\n- dataId: \"a\\q\"\n",
            "metadata:\n- dataId: 'a' b\n",
            "metadata:\n- dataId: a\n group: misaligned\n",
            "metadata:\n  - dataId: a\n - dataId: b\n",
            "metadata:\n- just text\n",
        ];
        for yaml in bad {
            let err = parse_metadata_v2(yaml, ENTRIES_MAX).unwrap_err();
            assert!(
                matches!(err, ImportError::MetadataIllegal(_)),
                "{yaml:?}: {err:?}"
            );
        }
    }

    #[test]
    fn yaml_plain_safety() {
        for safe in ["testData1", "test desc", "a.b-c_d/e", "中文", "_x", "/path"] {
            assert!(yaml_plain_is_safe(safe), "{safe}");
        }
        for unsafe_value in [
            "", "1abc", "yes", "No", "a: b", "a ", "a  b", "-a", ".a", "a#b", "'q'",
        ] {
            assert!(!yaml_plain_is_safe(unsafe_value), "{unsafe_value}");
        }
    }
}
