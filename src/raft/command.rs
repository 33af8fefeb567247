//! What one Raft log entry carries: a naming write or a config-center write. Entries written
//! before the config center existed hold a bare naming command and still decode.

use crate::config::command::ConfigCommand;
use crate::naming::op::DurableCommand;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RaftCommand {
    Naming(DurableCommand),
    Config(ConfigCommand),
    /// Not a write: answered once this node has applied everything committed before it was
    /// asked (a read index), so a read after it sees every acknowledged write. Never encoded
    /// into the log (`skip` makes encoding it an error).
    #[serde(skip)]
    ReadBarrier,
    // --- auth ---
    Auth(crate::auth::AuthCommand),
}

impl From<DurableCommand> for RaftCommand {
    fn from(command: DurableCommand) -> RaftCommand {
        RaftCommand::Naming(command)
    }
}

impl From<ConfigCommand> for RaftCommand {
    fn from(command: ConfigCommand) -> RaftCommand {
        RaftCommand::Config(command)
    }
}

/// Decodes an entry's data, old (bare naming command) or new.
pub fn decode(data: &[u8]) -> Result<RaftCommand, serde_json::Error> {
    serde_json::from_slice::<RaftCommand>(data)
        .or_else(|_| serde_json::from_slice::<DurableCommand>(data).map(RaftCommand::Naming))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_entries_still_decode() {
        let old = DurableCommand::SetSwitch {
            entry: "a".into(),
            value: "b".into(),
        };
        let bare = serde_json::to_vec(&old).unwrap();
        assert_eq!(decode(&bare).unwrap(), RaftCommand::Naming(old.clone()));
        let new = serde_json::to_vec(&RaftCommand::Naming(old.clone())).unwrap();
        assert_eq!(decode(&new).unwrap(), RaftCommand::Naming(old));
        let config = RaftCommand::Config(ConfigCommand::RemoveNamespace { id: "x".into() });
        assert_eq!(
            decode(&serde_json::to_vec(&config).unwrap()).unwrap(),
            config
        );
        assert!(decode(b"{}").is_err());
    }
}
