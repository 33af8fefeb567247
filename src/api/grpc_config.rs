//! The config center's gRPC requests (nacos-config-protocol.md §4): query, publish, remove
//! and batch listen, answered with `resultCode`, `errorCode` and `success` always consistent
//! (Go reads `success`, the others `resultCode`). Accepted on any registered connection,
//! whatever module it was labelled for (nacos_rust_client sends config on a naming one).

use serde_json::{json, Map, Value};

use crate::api::grpc::Answer;
use crate::api::wall_clock_ms;
use crate::config::command::{checked_content, gray_of, ConfigCommand, Publish};
use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::config::item::{normalise_type, ConfigMeta, ReaderLabels};
use crate::config::key::{check_tag, ConfigKey};
use crate::config::store::Listener;
use crate::grpc::conn::Connection;
use crate::shard::CoreHandle;

/// Nacos's "config not found" error code (`ConfigQueryResponse.CONFIG_NOT_FOUND`).
const CONFIG_NOT_FOUND: u32 = 300;
const INVALID_PARAM: u32 = 400;
const SERVER_ERROR: u32 = 500;

/// Handles a config request type; `None` for types that are not config requests.
pub async fn handle(
    core: &CoreHandle,
    connection: &Connection,
    kind: &str,
    body: &Value,
) -> Option<Answer> {
    let answer = match kind {
        "ConfigQueryRequest" => query(core, connection, body).await,
        "ConfigPublishRequest" => publish(core, connection, body).await,
        "ConfigRemoveRequest" => remove(core, connection, body).await,
        "ConfigBatchListenRequest" => batch_listen(core, connection, body).await,
        _ => return None,
    };
    Some(answer)
}

fn text<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

/// A non-blank string field (Python and Java send blank and `null` fields alike).
fn non_blank<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    text(body, field).filter(|v| !v.trim().is_empty())
}

fn key_of(body: &Value) -> ConfigResult<ConfigKey> {
    ConfigKey::parse(
        text(body, "dataId"),
        text(body, "group"),
        text(body, "tenant"),
    )
}

fn labels_of(connection: &Connection, tag: Option<&str>) -> ReaderLabels {
    let mut ips = vec![connection.client_ip()];
    let peer = connection.remote.ip().to_string();
    if !ips.contains(&peer) {
        ips.push(peer);
    }
    ReaderLabels {
        ips,
        tag_param: tag.map(str::to_string),
        tag_header: None,
    }
}

fn answer(kind: &str, result_code: u32, error_code: u32, mut fields: Map<String, Value>) -> Answer {
    fields.insert("resultCode".into(), json!(result_code));
    fields.insert("errorCode".into(), json!(error_code));
    fields.insert("success".into(), json!(result_code == 200));
    (
        kind.to_string(),
        Value::Object(fields).to_string().into_bytes(),
    )
}

fn failure(kind: &str, error: &ConfigError) -> Answer {
    let error_code = match error.kind {
        ConfigErrorKind::MissingParam
        | ConfigErrorKind::ParamCheck
        | ConfigErrorKind::Invalid
        | ConfigErrorKind::LimitReached => INVALID_PARAM,
        ConfigErrorKind::NotFound => CONFIG_NOT_FOUND,
        _ => SERVER_ERROR,
    };
    let message = match error.kind {
        ConfigErrorKind::ParamCheck => format!("Param check invalid:{}", error.message),
        _ => error.message.clone(),
    };
    let mut fields = Map::new();
    fields.insert("message".into(), json!(message));
    answer(kind, SERVER_ERROR, error_code, fields)
}

async fn query(core: &CoreHandle, connection: &Connection, body: &Value) -> Answer {
    const KIND: &str = "ConfigQueryResponse";
    let key = match key_of(body) {
        Ok(key) => key,
        Err(error) => return failure(KIND, &error),
    };
    let tag = non_blank(body, "tag");
    if let Some(Err(error)) = tag.map(check_tag) {
        return failure(KIND, &error);
    }
    let Some(served) = core.get_config(&key, labels_of(connection, tag)).await else {
        let mut fields = Map::new();
        fields.insert("message".into(), json!("config data not exist"));
        fields.insert("lastModified".into(), json!(0));
        fields.insert("beta".into(), json!(false));
        return answer(KIND, SERVER_ERROR, CONFIG_NOT_FOUND, fields);
    };
    let item = &served.item;
    let mut fields = Map::new();
    let content = String::from_utf8_lossy(&item.content);
    fields.insert("content".into(), json!(content));
    fields.insert(
        "encryptedDataKey".into(),
        json!(item.meta.encrypted_data_key),
    );
    fields.insert("contentType".into(), json!(item.meta.config_type));
    fields.insert("md5".into(), json!(item.md5));
    fields.insert("lastModified".into(), json!(item.modified_ms));
    fields.insert("beta".into(), json!(served.beta));
    // Go and Python decode `tag` as a bool: only a served tag gray sends one.
    if let Some(tag) = &served.tag {
        fields.insert("tag".into(), json!(tag));
    }
    answer(KIND, 200, 0, fields)
}

fn publish_of(connection: &Connection, body: &Value) -> ConfigResult<Publish> {
    let key = key_of(body)?;
    let content = checked_content(text(body, "content"))?;
    let extra = body.get("additionMap").cloned().unwrap_or(Value::Null);
    let field = |name: &str| non_blank(&extra, name).unwrap_or("").to_string();
    let gray = gray_of(text(&extra, "betaIps"), text(&extra, "tag"))?;
    Ok(Publish {
        key,
        content: content.to_string(),
        app_name: text(&extra, "appName").map(str::to_string),
        meta: ConfigMeta {
            config_type: normalise_type(text(&extra, "type")),
            desc: field("desc"),
            usage: field("use"),
            effect: field("effect"),
            schema: field("schema"),
            tags: field("config_tags"),
            encrypted_data_key: field("encryptedDataKey"),
        },
        cas_md5: non_blank(body, "casMd5").map(str::to_string),
        gray,
        src_user: field("src_user"),
        src_ip: connection.client_ip(),
        at_ms: wall_clock_ms(),
    })
}

async fn publish(core: &CoreHandle, connection: &Connection, body: &Value) -> Answer {
    const KIND: &str = "ConfigPublishResponse";
    let publish = match publish_of(connection, body) {
        Ok(publish) => publish,
        Err(error) => return failure(KIND, &error),
    };
    match core
        .propose_config(ConfigCommand::Publish(Box::new(publish)))
        .await
    {
        Ok(()) => answer(KIND, 200, 0, Map::new()),
        Err(error) => failure(KIND, &error),
    }
}

async fn remove(core: &CoreHandle, connection: &Connection, body: &Value) -> Answer {
    const KIND: &str = "ConfigRemoveResponse";
    let key = match key_of(body) {
        Ok(key) => key,
        Err(error) => return failure(KIND, &error),
    };
    let gray_name = non_blank(body, "tag").map(|t| format!("tag_{}", t.trim()));
    let command = ConfigCommand::Remove {
        key,
        gray_name,
        src_user: String::new(),
        src_ip: connection.client_ip(),
        at_ms: wall_clock_ms(),
    };
    match core.propose_config(command).await {
        Ok(()) => answer(KIND, 200, 0, Map::new()),
        Err(error) => failure(KIND, &error),
    }
}

/// Registers (or, with `listen:false`, drops) the connection's listens and answers the keys
/// whose md5 differs, echoing the client's own spellings.
async fn batch_listen(core: &CoreHandle, connection: &Connection, body: &Value) -> Answer {
    const KIND: &str = "ConfigChangeBatchListenResponse";
    let listen = body.get("listen").and_then(Value::as_bool).unwrap_or(true);
    let contexts = body
        .get("configListenContexts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut entries = Vec::with_capacity(contexts.len());
    for context in &contexts {
        let key = match key_of(context) {
            Ok(key) => key,
            Err(error) => return failure(KIND, &error),
        };
        let listener = Listener {
            md5: text(context, "md5").unwrap_or("").to_string(),
            ip: connection.client_ip(),
            tenant_spelling: text(context, "tenant").unwrap_or("").to_string(),
        };
        entries.push((key, listener));
    }
    let labels = labels_of(connection, None);
    let changed = match core
        .listen_grpc(connection, entries.clone(), labels, listen)
        .await
    {
        Ok(changed) => changed,
        Err(error) => return failure(KIND, &error),
    };
    let changed: Vec<Value> = changed
        .into_iter()
        .filter_map(|i| contexts.get(i))
        .map(|c| {
            json!({
                "dataId": text(c, "dataId").unwrap_or(""),
                "group": text(c, "group").unwrap_or(""),
                "tenant": text(c, "tenant").unwrap_or(""),
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("changedConfigs".into(), Value::Array(changed));
    answer(KIND, 200, 0, fields)
}
