//! The bounded label values of request metrics: a fixed set of endpoint names (`api`), the
//! protocol and the status class. Whatever a client sends maps onto these, so a flood of
//! random paths or request types cannot grow the number of series.

/// What a request did, whatever protocol carried it. Unknown paths and types are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Register,
    Deregister,
    UpdateInstance,
    Beat,
    List,
    GetInstance,
    BatchRegister,
    Subscribe,
    Service,
    ServiceList,
    Operator,
    ConfigGet,
    ConfigPublish,
    ConfigDelete,
    ConfigListen,
    ConfigHistory,
    ConfigOther,
    Namespace,
    Health,
    Cluster,
    ServerCheck,
    Metrics,
    Other,
}

/// How many `Api` values there are.
pub const API_COUNT: usize = 23;

impl Api {
    /// Every value, in `index` order.
    pub const ALL: [Api; API_COUNT] = [
        Api::Register,
        Api::Deregister,
        Api::UpdateInstance,
        Api::Beat,
        Api::List,
        Api::GetInstance,
        Api::BatchRegister,
        Api::Subscribe,
        Api::Service,
        Api::ServiceList,
        Api::Operator,
        Api::ConfigGet,
        Api::ConfigPublish,
        Api::ConfigDelete,
        Api::ConfigListen,
        Api::ConfigHistory,
        Api::ConfigOther,
        Api::Namespace,
        Api::Health,
        Api::Cluster,
        Api::ServerCheck,
        Api::Metrics,
        Api::Other,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The `api` label value.
    pub fn name(self) -> &'static str {
        match self {
            Api::Register => "register",
            Api::Deregister => "deregister",
            Api::UpdateInstance => "update_instance",
            Api::Beat => "beat",
            Api::List => "list",
            Api::GetInstance => "get_instance",
            Api::BatchRegister => "batch_register",
            Api::Subscribe => "subscribe",
            Api::Service => "service",
            Api::ServiceList => "service_list",
            Api::Operator => "operator",
            Api::ConfigGet => "config_get",
            Api::ConfigPublish => "config_publish",
            Api::ConfigDelete => "config_delete",
            Api::ConfigListen => "config_listen",
            Api::ConfigHistory => "config_history",
            Api::ConfigOther => "config_other",
            Api::Namespace => "namespace",
            Api::Health => "health",
            Api::Cluster => "cluster",
            Api::ServerCheck => "server_check",
            Api::Metrics => "metrics",
            Api::Other => "other",
        }
    }
}

const _: () = assert!(Api::Other as usize + 1 == API_COUNT);

/// The protocol a request came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
}

pub const PROTOCOL_COUNT: usize = 2;

impl Protocol {
    pub const ALL: [Protocol; PROTOCOL_COUNT] = [Protocol::Http, Protocol::Grpc];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
        }
    }
}

/// Status classes counted: 1xx to 5xx (anything else counts as 5xx).
pub const STATUS_CLASS_COUNT: usize = 5;
pub const STATUS_CLASS_NAMES: [&str; STATUS_CLASS_COUNT] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The class index of an HTTP status (or a Nacos result code, which follows the same
/// hundreds).
pub fn status_class(status: u16) -> usize {
    let class = usize::from(status / 100).clamp(1, STATUS_CLASS_COUNT);
    debug_assert!(class >= 1);
    class - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL` lists every value at its own index, and names are distinct.
    #[test]
    fn all_in_index_order() {
        for (index, api) in Api::ALL.iter().enumerate() {
            assert_eq!(api.index(), index);
        }
        let mut names: Vec<_> = Api::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), API_COUNT);
        assert_eq!(status_class(200), 1);
        assert_eq!(status_class(404), 3);
        assert_eq!(status_class(0), 0);
        assert_eq!(status_class(999), 4);
    }
}
