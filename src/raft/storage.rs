//! Durable raft storage in one LMDB environment: this file owns the raft log, the hard state,
//! the conf state, the log's truncation point (snapshot metadata), the applied index, and the
//! replicated state table the state machine writes through `apply`.
//!
//! Three named databases live in the environment:
//! - `raft_log`: entry index (u64, big-endian so LMDB's byte order is index order) → `Entry`
//!   encoded with protobuf 2.
//! - `raft_meta`: fixed string keys → hard state, conf state (protobuf), the (index, term) of the
//!   last entry dropped from the log, and the applied index (u64 big-endian).
//! - `raft_state`: opaque key bytes → value bytes, owned by the caller's state machine.
//!
//! Every multi-part change (one raft `Ready`, one batch of applied entries, one compaction) is one
//! write transaction, so one fsync, and a crash leaves either all of it or none of it on disk.
//!
//! Invariants, checked before writing and again after reading:
//! - The log is empty, or its first index is the truncation index + 1 and its indices are
//!   contiguous with non-decreasing terms.
//! - truncation index <= applied index <= hard_state.commit <= last index.

use std::fmt;
use std::path::Path;

use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64};
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

/// Named databases in the environment: log, meta and state.
const DATABASES_COUNT_MAX: u32 = 3;

/// Reader slots in the LMDB lock table. This is LMDB's own default, written out so the setting
/// is visible; one driver thread never holds more than a couple of read transactions at once.
const READERS_COUNT_MAX: u32 = 126;

/// Longest key LMDB accepts with its default build (`MDB_MAXKEYSIZE`); the state machine must
/// keep its keys at or below this, and LMDB also rejects empty keys.
pub const STATE_KEY_BYTES_MAX: usize = 511;

/// First byte of every snapshot's data, so a future layout can be told apart from this one.
const SNAPSHOT_FORMAT_VERSION: u8 = 1;

/// Snapshot data header: the version byte, then the pair count as u64 big-endian.
const SNAPSHOT_HEADER_BYTES: usize = 1 + 8;

/// Each key and value in snapshot data is prefixed by its length as u32 big-endian.
const SNAPSHOT_LENGTH_BYTES: usize = 4;

/// `max_size` value raft uses to mean "no limit" (`raft::NO_LIMIT`).
const ENTRIES_SIZE_BYTES_UNLIMITED: u64 = u64::MAX;

const DB_NAME_LOG: &str = "raft_log";
const DB_NAME_META: &str = "raft_meta";
const DB_NAME_STATE: &str = "raft_state";

const META_KEY_HARD_STATE: &str = "hard_state";
const META_KEY_CONF_STATE: &str = "conf_state";
const META_KEY_TRUNCATED: &str = "truncated_index_term";
const META_KEY_APPLIED_INDEX: &str = "applied_index";

const _: () = assert!(STATE_KEY_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(SNAPSHOT_HEADER_BYTES > SNAPSHOT_LENGTH_BYTES);

/// One state-table row: (key, value).
pub type StatePair = (Vec<u8>, Vec<u8>);

type LogDb = Database<U64<BigEndian>, Bytes>;
type MetaDb = Database<Str, Bytes>;
type StateDb = Database<Bytes, Bytes>;

/// Why a storage operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// LMDB (through heed) refused the operation: full map, I/O failure, bad key size, ...
    Lmdb(heed::Error),
    /// Bytes read from disk, or snapshot data received from a peer, break an invariant.
    Corrupt(String),
    /// The environment's directory could not be created.
    Io(std::io::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Lmdb(e) => write!(f, "raft storage: lmdb: {e}"),
            StoreError::Corrupt(what) => write!(f, "raft storage: corrupt: {what}"),
            StoreError::Io(e) => write!(f, "raft storage: io: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Lmdb(e) => Some(e),
            StoreError::Corrupt(_) => None,
            StoreError::Io(e) => Some(e),
        }
    }
}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> StoreError {
        StoreError::Lmdb(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> StoreError {
        StoreError::Io(e)
    }
}

/// raft-rs only knows its own error type; anything that is not a log-range answer becomes
/// `StorageError::Other`, which makes raft stop rather than continue on a broken disk.
impl From<StoreError> for raft::Error {
    fn from(e: StoreError) -> raft::Error {
        raft::Error::Store(StorageError::Other(Box::new(e)))
    }
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A position in the log: an entry's (index, term).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct LogPoint {
    index: u64,
    term: u64,
}

/// Where an index falls relative to the stored log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TermLookup {
    Found(u64),
    Compacted,
    Unavailable,
}

/// The log's current bounds: `first_index..=last_index`, empty when `last_index + 1 ==
/// first_index`; `truncated` is the entry just before `first_index`.
#[derive(Debug, Clone, Copy)]
struct LogBounds {
    truncated: LogPoint,
    first_index: u64,
    last_index: u64,
}

/// Raft storage over LMDB.
///
/// Design: there is no in-memory copy of the log; every call reads or writes the environment in
/// its own transaction. LMDB reads are memory-mapped and cheap, and keeping no cache means the
/// disk is the only truth, so a restart can never disagree with what raft was told before it.
/// Read transactions are opened without thread-local storage, so a read inside a write on the
/// same thread (or two reads at once) is allowed.
#[derive(Clone)]
pub struct LmdbStorage {
    env: Env<WithoutTls>,
    log: LogDb,
    meta: MetaDb,
    state: StateDb,
}

impl LmdbStorage {
    /// Opens (creating) the environment in `dir` (create the dir). `map_size_bytes`: LMDB map
    /// size; LMDB requires a multiple of the OS page size. A fresh store is empty: first_index 1,
    /// last_index 0, default HardState/ConfState.
    pub fn open(dir: &Path, map_size_bytes: usize) -> Result<LmdbStorage, StoreError> {
        assert!(
            map_size_bytes > 0,
            "an LMDB map of zero bytes cannot hold anything"
        );
        std::fs::create_dir_all(dir)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size_bytes);
        options.max_dbs(DATABASES_COUNT_MAX);
        options.max_readers(READERS_COUNT_MAX);
        // NO_META_SYNC: a commit fdatasyncs its data pages but writes the meta page without
        // a flush of its own; the next commit's fdatasync (or `sync`) makes it durable. LMDB
        // keeps its integrity under this flag (a power loss can only undo the last commit),
        // and it halves the flushes of a commit. The raft driver keeps durability by flushing
        // before anything that depends on a commit leaves the node: an acknowledged write is
        // answered only after the apply commit that follows its log commit, and a member sends
        // its persisted messages (votes, append acks) only after `sync` or such a commit.
        // A `kill -9` loses nothing either way: written pages are in the kernel's cache.
        // NO_SYNC / MAP_ASYNC would lose acknowledged entries on a power loss.
        // SAFETY: heed refuses to open one path twice in this process, and nothing else maps or
        // edits these files while the environment is open (nacore owns its data directory).
        // NO_META_SYNC is one of LMDB's documented trade-offs, kept safe as said above.
        unsafe {
            options.flags(heed::EnvFlags::NO_META_SYNC);
        }
        let env = unsafe { options.open(dir)? };
        let mut txn = env.write_txn()?;
        let log: LogDb = env.create_database(&mut txn, Some(DB_NAME_LOG))?;
        let meta: MetaDb = env.create_database(&mut txn, Some(DB_NAME_META))?;
        let state: StateDb = env.create_database(&mut txn, Some(DB_NAME_STATE))?;
        txn.commit()?;
        let storage = LmdbStorage {
            env,
            log,
            meta,
            state,
        };
        storage.check_on_open()?;
        Ok(storage)
    }

    /// Checks the stored invariants once at open, so a damaged store is refused before raft
    /// starts on it (raft itself would panic later, with a less useful message).
    fn check_on_open(&self) -> Result<(), StoreError> {
        let txn = self.env.read_txn()?;
        let bounds = self.log_bounds(&txn)?;
        let hard_state = self.hard_state_in(&txn)?;
        let applied_index = self.applied_index_in(&txn)?;
        self.conf_state_in(&txn)?;
        if applied_index < bounds.truncated.index {
            return Err(corrupt(format!(
                "applied index {applied_index} below truncated index {}",
                bounds.truncated.index
            )));
        }
        if hard_state.commit < applied_index {
            return Err(corrupt(format!(
                "commit {} below applied index {applied_index}",
                hard_state.commit
            )));
        }
        if hard_state.commit > bounds.last_index {
            return Err(corrupt(format!(
                "commit {} beyond last index {}",
                hard_state.commit, bounds.last_index
            )));
        }
        if bounds.last_index >= bounds.first_index {
            // Decoding the last entry checks its key against its own index.
            self.read_entry(&txn, bounds.last_index)?;
        }
        Ok(())
    }

    /// Sets the conf state (e.g. the initial voters of a new group) — own txn.
    pub fn set_conf_state(&self, cs: &ConfState) -> Result<(), StoreError> {
        let mut txn = self.env.write_txn()?;
        self.put_message(&mut txn, META_KEY_CONF_STATE, cs)?;
        txn.commit()?;
        self.sync()?;
        debug_assert_eq!(&self.conf_state()?, cs);
        Ok(())
    }

    /// Makes every commit so far durable (an fdatasync): the meta page of the last commit,
    /// which NO_META_SYNC leaves to the next flush.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.env.force_sync()?;
        Ok(())
    }

    /// Group commit of one raft `Ready`: in ONE write transaction (one fsync): if `snapshot` is
    /// Some, install it, then append `entries` (truncating any existing entries with index >= the
    /// first new one, as raft requires; continuity with the existing log is asserted), then store
    /// `hard_state` if Some.
    ///
    /// Installing a snapshot replaces the whole state table with the snapshot's data, sets the
    /// applied index to the snapshot index, drops every log entry, makes the snapshot's
    /// (index, term) the truncation point, takes the snapshot's conf state, and raises the
    /// stored commit (and term) to at least the snapshot's.
    pub fn persist_ready(
        &self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), StoreError> {
        let mut txn = self.env.write_txn()?;
        if let Some(snapshot) = snapshot {
            self.install_snapshot_in(&mut txn, snapshot)?;
        }
        self.append_in(&mut txn, entries)?;
        if let Some(hard_state) = hard_state {
            self.put_hard_state_in(&mut txn, hard_state)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores the commit index of a LightReady / committed-index change: updates only
    /// hard_state.commit. The commit index never goes backwards (asserted).
    pub fn set_commit(&self, commit: u64) -> Result<(), StoreError> {
        let mut txn = self.env.write_txn()?;
        let mut hard_state = self.hard_state_in(&txn)?;
        assert!(
            commit >= hard_state.commit,
            "commit index went backwards: {} -> {commit}",
            hard_state.commit
        );
        hard_state.commit = commit;
        self.put_hard_state_in(&mut txn, &hard_state)?;
        txn.commit()?;
        Ok(())
    }

    /// Applies state-machine changes for entries up to `applied_index` in ONE write txn: the
    /// `puts`, then the `deletes`, on the state table, plus the stored applied index.
    ///
    /// Asserted: the applied index does not go backwards, and it does not pass the stored
    /// commit index. The second one is raft's "persist commit before apply" rule: if applied
    /// were ahead of commit on disk, a restart with `Config.applied` would panic inside raft.
    pub fn apply(
        &self,
        applied_index: u64,
        puts: &[(Vec<u8>, Vec<u8>)],
        deletes: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        self.apply_at_commit(None, applied_index, puts, deletes)
    }

    /// `apply`, and first, when `commit` is Some, `set_commit` in the same transaction: a
    /// LightReady's commit index and the entries it commits cost one commit, not two.
    pub fn apply_at_commit(
        &self,
        commit: Option<u64>,
        applied_index: u64,
        puts: &[(Vec<u8>, Vec<u8>)],
        deletes: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let mut txn = self.env.write_txn()?;
        if let Some(commit) = commit {
            let mut hard_state = self.hard_state_in(&txn)?;
            assert!(
                commit >= hard_state.commit,
                "commit index went backwards: {} -> {commit}",
                hard_state.commit
            );
            hard_state.commit = commit;
            self.put_hard_state_in(&mut txn, &hard_state)?;
        }
        let applied_index_old = self.applied_index_in(&txn)?;
        assert!(
            applied_index >= applied_index_old,
            "applied index went backwards: {applied_index_old} -> {applied_index}"
        );
        let commit = self.hard_state_in(&txn)?.commit;
        assert!(
            applied_index <= commit,
            "applying {applied_index} before commit index {commit} was persisted"
        );
        for (key, value) in puts {
            debug_assert!(!key.is_empty(), "LMDB rejects empty keys");
            debug_assert!(key.len() <= STATE_KEY_BYTES_MAX, "state key too long");
            self.state.put(&mut txn, key, value)?;
        }
        for key in deletes {
            debug_assert!(!key.is_empty(), "LMDB rejects empty keys");
            self.state.delete(&mut txn, key)?;
        }
        self.put_u64(&mut txn, META_KEY_APPLIED_INDEX, applied_index)?;
        txn.commit()?;
        Ok(())
    }

    /// The index of the last entry whose effects are in the state table.
    pub fn applied_index(&self) -> Result<u64, StoreError> {
        let txn = self.env.read_txn()?;
        self.applied_index_in(&txn)
    }

    /// One value of the state table (a history row's content, read on demand), in its own
    /// read transaction.
    pub fn state_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        debug_assert!(!key.is_empty(), "LMDB rejects empty keys");
        let txn = self.env.read_txn()?;
        Ok(self.state.get(&txn, key)?.map(<[u8]>::to_vec))
    }

    /// Every (key, value) of the state table, in key order (used to rebuild memory at start).
    pub fn state_entries(&self) -> Result<Vec<StatePair>, StoreError> {
        let txn = self.env.read_txn()?;
        let count = self.state.len(&txn)?;
        let mut pairs = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        for pair in self.state.iter(&txn)? {
            let (key, value) = pair?;
            pairs.push((key.to_vec(), value.to_vec()));
        }
        debug_assert_eq!(pairs.len() as u64, count);
        debug_assert!(
            pairs.windows(2).all(|w| w[0].0 < w[1].0),
            "LMDB keeps keys in order"
        );
        Ok(pairs)
    }

    /// Discards log entries with index < `compact_index` (like `MemStorage::compact`; a no-op at
    /// or below the first index). `compact_index` must be <= applied_index + 1 and
    /// <= last_index + 1 (asserted). The term of `compact_index - 1` becomes the truncation
    /// point so `term(first_index - 1)` keeps answering. Own txn.
    pub fn compact(&self, compact_index: u64) -> Result<(), StoreError> {
        let mut txn = self.env.write_txn()?;
        let bounds = self.log_bounds(&txn)?;
        if compact_index <= bounds.first_index {
            return Ok(());
        }
        assert!(
            compact_index <= bounds.last_index + 1,
            "compact {compact_index} beyond last index {}",
            bounds.last_index
        );
        let applied_index = self.applied_index_in(&txn)?;
        assert!(
            compact_index <= applied_index + 1,
            "compact {compact_index} would drop unapplied entries (applied {applied_index})"
        );
        let truncated_index = compact_index - 1;
        let truncated_term = match self.term_lookup(&txn, truncated_index)? {
            TermLookup::Found(term) => term,
            other => {
                return Err(corrupt(format!(
                    "term of {truncated_index} inside the log: {other:?}"
                )))
            }
        };
        let dropped = self
            .log
            .delete_range(&mut txn, &(bounds.first_index..compact_index))?;
        if dropped as u64 != compact_index - bounds.first_index {
            return Err(corrupt(format!(
                "compact dropped {dropped} entries below {compact_index}"
            )));
        }
        let truncated = LogPoint {
            index: truncated_index,
            term: truncated_term,
        };
        self.put_truncated(&mut txn, truncated)?;
        txn.commit()?;
        debug_assert_eq!(self.first_index_now()?, compact_index);
        Ok(())
    }

    /// The first index `entries` can return (truncation index + 1).
    pub fn first_index_now(&self) -> Result<u64, StoreError> {
        let txn = self.env.read_txn()?;
        Ok(self.log_bounds(&txn)?.first_index)
    }

    /// The index of the last stored entry (the truncation index when the log is empty).
    pub fn last_index_now(&self) -> Result<u64, StoreError> {
        let txn = self.env.read_txn()?;
        Ok(self.log_bounds(&txn)?.last_index)
    }

    /// The stored hard state (default when none was stored yet).
    pub fn hard_state(&self) -> Result<HardState, StoreError> {
        let txn = self.env.read_txn()?;
        self.hard_state_in(&txn)
    }

    /// The stored conf state (default when none was stored yet).
    pub fn conf_state(&self) -> Result<ConfState, StoreError> {
        let txn = self.env.read_txn()?;
        self.conf_state_in(&txn)
    }

    // ---- Reads inside a transaction. `&RoTxn` also accepts a `&RwTxn`. ----

    fn get_meta<'t>(&self, txn: &'t RoTxn, key: &str) -> Result<Option<&'t [u8]>, StoreError> {
        Ok(self.meta.get(txn, key)?)
    }

    fn get_u64(&self, txn: &RoTxn, key: &str) -> Result<Option<u64>, StoreError> {
        let Some(bytes) = self.get_meta(txn, key)? else {
            return Ok(None);
        };
        let array: [u8; 8] = bytes
            .try_into()
            .map_err(|_| corrupt(format!("meta {key}: {} bytes, want 8", bytes.len())))?;
        Ok(Some(u64::from_be_bytes(array)))
    }

    fn applied_index_in(&self, txn: &RoTxn) -> Result<u64, StoreError> {
        Ok(self.get_u64(txn, META_KEY_APPLIED_INDEX)?.unwrap_or(0))
    }

    fn hard_state_in(&self, txn: &RoTxn) -> Result<HardState, StoreError> {
        match self.get_meta(txn, META_KEY_HARD_STATE)? {
            None => Ok(HardState::default()),
            Some(bytes) => {
                HardState::parse_from_bytes(bytes).map_err(|e| corrupt(format!("hard state: {e}")))
            }
        }
    }

    fn conf_state_in(&self, txn: &RoTxn) -> Result<ConfState, StoreError> {
        match self.get_meta(txn, META_KEY_CONF_STATE)? {
            None => Ok(ConfState::default()),
            Some(bytes) => {
                ConfState::parse_from_bytes(bytes).map_err(|e| corrupt(format!("conf state: {e}")))
            }
        }
    }

    fn truncated_in(&self, txn: &RoTxn) -> Result<LogPoint, StoreError> {
        let Some(bytes) = self.get_meta(txn, META_KEY_TRUNCATED)? else {
            return Ok(LogPoint::default());
        };
        if bytes.len() != 16 {
            return Err(corrupt(format!(
                "truncation point: {} bytes, want 16",
                bytes.len()
            )));
        }
        let (index_bytes, term_bytes) = bytes.split_at(8);
        let index = u64::from_be_bytes(index_bytes.try_into().map_err(|_| corrupt("index"))?);
        let term = u64::from_be_bytes(term_bytes.try_into().map_err(|_| corrupt("term"))?);
        Ok(LogPoint { index, term })
    }

    /// The log's bounds, checked against the truncation point.
    fn log_bounds(&self, txn: &RoTxn) -> Result<LogBounds, StoreError> {
        let truncated = self.truncated_in(txn)?;
        let first_key = self.log.first(txn)?.map(|(index, _)| index);
        let last_key = self.log.last(txn)?.map(|(index, _)| index);
        let (Some(first_index), Some(last_index)) = (first_key, last_key) else {
            let first_index = truncated.index + 1;
            return Ok(LogBounds {
                truncated,
                first_index,
                last_index: truncated.index,
            });
        };
        if first_index != truncated.index + 1 {
            return Err(corrupt(format!(
                "log starts at {first_index}, truncation point is {}",
                truncated.index
            )));
        }
        debug_assert!(last_index >= first_index);
        Ok(LogBounds {
            truncated,
            first_index,
            last_index,
        })
    }

    /// Decodes the entry stored at `index`, checking it is the entry for that index.
    fn read_entry(&self, txn: &RoTxn, index: u64) -> Result<Option<Entry>, StoreError> {
        match self.log.get(txn, &index)? {
            None => Ok(None),
            Some(bytes) => decode_entry(index, bytes).map(Some),
        }
    }

    fn term_lookup(&self, txn: &RoTxn, index: u64) -> Result<TermLookup, StoreError> {
        let bounds = self.log_bounds(txn)?;
        if index == bounds.truncated.index {
            return Ok(TermLookup::Found(bounds.truncated.term));
        }
        if index < bounds.first_index {
            return Ok(TermLookup::Compacted);
        }
        if index > bounds.last_index {
            return Ok(TermLookup::Unavailable);
        }
        match self.read_entry(txn, index)? {
            Some(entry) => Ok(TermLookup::Found(entry.term)),
            None => Err(corrupt(format!("entry {index} missing inside the log"))),
        }
    }

    /// Reads `[low, high)`, stopping early under raft's `limit_size` rule: the first entry is
    /// always returned; each further one only while the running total stays <= `max_size_bytes`.
    fn read_entries(
        &self,
        txn: &RoTxn,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StoreError> {
        debug_assert!(low <= high);
        let limit_bytes = max_size_bytes.unwrap_or(ENTRIES_SIZE_BYTES_UNLIMITED);
        let mut entries: Vec<Entry> = Vec::new();
        let mut size_bytes_total: u64 = 0;
        for pair in self.log.range(txn, &(low..high))? {
            let (index, bytes) = pair?;
            let entry = decode_entry(index, bytes)?;
            let expected = low + entries.len() as u64;
            if index != expected {
                return Err(corrupt(format!("log gap: want {expected}, found {index}")));
            }
            if let Some(previous) = entries.last() {
                if entry.term < previous.term {
                    return Err(corrupt(format!("term goes down at {index}")));
                }
            }
            size_bytes_total += u64::from(entry.compute_size());
            // With the unlimited value the total can never exceed it, so no special case.
            if !entries.is_empty() && size_bytes_total > limit_bytes {
                break;
            }
            entries.push(entry);
        }
        let limited = (entries.len() as u64) < high - low;
        if limited && size_bytes_total <= limit_bytes {
            return Err(corrupt(format!("log entries missing in [{low}, {high})")));
        }
        Ok(entries)
    }

    /// The state table in the snapshot data format (see `decode_snapshot_data`).
    fn encode_state_in(&self, txn: &RoTxn) -> Result<Vec<u8>, StoreError> {
        let mut data = Vec::with_capacity(SNAPSHOT_HEADER_BYTES);
        data.push(SNAPSHOT_FORMAT_VERSION);
        data.extend_from_slice(&0u64.to_be_bytes());
        let mut pairs_count: u64 = 0;
        for pair in self.state.iter(txn)? {
            let (key, value) = pair?;
            for part in [key, value] {
                let length = u32::try_from(part.len())
                    .map_err(|_| corrupt(format!("state part of {} bytes", part.len())))?;
                data.extend_from_slice(&length.to_be_bytes());
                data.extend_from_slice(part);
            }
            pairs_count += 1;
        }
        // The count is patched in after the loop, so it is exactly the number of pairs written.
        data[1..SNAPSHOT_HEADER_BYTES].copy_from_slice(&pairs_count.to_be_bytes());
        Ok(data)
    }

    // ---- Writes inside a write transaction. ----

    fn put_message(
        &self,
        txn: &mut RwTxn,
        key: &str,
        message: &impl protobuf::Message,
    ) -> Result<(), StoreError> {
        let bytes = message
            .write_to_bytes()
            .map_err(|e| corrupt(format!("encoding {key}: {e}")))?;
        self.meta.put(txn, key, &bytes)?;
        Ok(())
    }

    fn put_u64(&self, txn: &mut RwTxn, key: &str, value: u64) -> Result<(), StoreError> {
        self.meta.put(txn, key, &value.to_be_bytes())?;
        Ok(())
    }

    fn put_truncated(&self, txn: &mut RwTxn, point: LogPoint) -> Result<(), StoreError> {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&point.index.to_be_bytes());
        bytes[8..].copy_from_slice(&point.term.to_be_bytes());
        self.meta.put(txn, META_KEY_TRUNCATED, &bytes)?;
        debug_assert_eq!(self.truncated_in(txn)?, point);
        Ok(())
    }

    /// Stores a hard state; raft never moves the term or the commit index backwards.
    fn put_hard_state_in(&self, txn: &mut RwTxn, hard_state: &HardState) -> Result<(), StoreError> {
        let old = self.hard_state_in(txn)?;
        assert!(
            hard_state.term >= old.term,
            "term went backwards: {old:?} -> {hard_state:?}"
        );
        assert!(
            hard_state.commit >= old.commit,
            "commit went backwards: {old:?} -> {hard_state:?}"
        );
        debug_assert!(
            hard_state.commit <= self.log_bounds(txn)?.last_index,
            "commit {} beyond the persisted log",
            hard_state.commit
        );
        self.put_message(txn, META_KEY_HARD_STATE, hard_state)
    }

    /// Appends `entries`, first dropping any stored entry at or after the first new index.
    fn append_in(&self, txn: &mut RwTxn, entries: &[Entry]) -> Result<(), StoreError> {
        let Some(first_new) = entries.first() else {
            return Ok(());
        };
        assert_entries_continuous(entries);
        let bounds = self.log_bounds(txn)?;
        assert!(
            first_new.index >= bounds.first_index,
            "overwriting compacted entries: first index {}, appending {}",
            bounds.first_index,
            first_new.index
        );
        assert!(
            first_new.index <= bounds.last_index + 1,
            "gap in the log: last index {}, appending {}",
            bounds.last_index,
            first_new.index
        );
        let previous_index = first_new.index - 1;
        let previous_term = match self.term_lookup(txn, previous_index)? {
            TermLookup::Found(term) => term,
            other => return Err(corrupt(format!("term of {previous_index}: {other:?}"))),
        };
        assert!(
            first_new.term >= previous_term,
            "term goes down at {}: {previous_term} -> {}",
            first_new.index,
            first_new.term
        );
        self.log.delete_range(txn, &(first_new.index..))?;
        for entry in entries {
            let bytes = entry
                .write_to_bytes()
                .map_err(|e| corrupt(format!("encoding entry {}: {e}", entry.index)))?;
            self.log.put(txn, &entry.index, &bytes)?;
        }
        debug_assert_eq!(
            self.log_bounds(txn)?.last_index,
            entries[entries.len() - 1].index
        );
        Ok(())
    }

    fn install_snapshot_in(&self, txn: &mut RwTxn, snapshot: &Snapshot) -> Result<(), StoreError> {
        let metadata = snapshot.get_metadata();
        let point = LogPoint {
            index: metadata.index,
            term: metadata.term,
        };
        assert!(point.index > 0, "installing an empty snapshot");
        let bounds = self.log_bounds(txn)?;
        assert!(
            point.index > bounds.truncated.index,
            "snapshot {} is not newer than the truncation point {}",
            point.index,
            bounds.truncated.index
        );
        assert!(
            point.index >= self.applied_index_in(txn)?,
            "snapshot behind the applied index"
        );
        // Decode everything before touching the table, so bad data fails cleanly.
        let pairs = decode_snapshot_data(snapshot.get_data())?;
        self.state.clear(txn)?;
        for (key, value) in &pairs {
            self.state.put(txn, key, value)?;
        }
        self.log.clear(txn)?;
        self.put_truncated(txn, point)?;
        self.put_u64(txn, META_KEY_APPLIED_INDEX, point.index)?;
        self.put_message(txn, META_KEY_CONF_STATE, metadata.get_conf_state())?;
        let mut hard_state = self.hard_state_in(txn)?;
        hard_state.commit = hard_state.commit.max(point.index);
        hard_state.term = hard_state.term.max(point.term);
        self.put_hard_state_in(txn, &hard_state)?;
        debug_assert_eq!(self.state.len(txn)?, pairs.len() as u64);
        Ok(())
    }
}

/// Asserts a batch to append is contiguous with non-decreasing terms (raft's log shape).
fn assert_entries_continuous(entries: &[Entry]) {
    for pair in entries.windows(2) {
        assert_eq!(
            pair[1].index,
            pair[0].index + 1,
            "appended entries not contiguous"
        );
        assert!(pair[1].term >= pair[0].term, "appended entry terms go down");
    }
}

/// Decodes one log value and checks it against the key it was stored under.
fn decode_entry(index: u64, bytes: &[u8]) -> Result<Entry, StoreError> {
    let entry =
        Entry::parse_from_bytes(bytes).map_err(|e| corrupt(format!("entry {index}: {e}")))?;
    if entry.index != index {
        return Err(corrupt(format!("key {index} holds entry {}", entry.index)));
    }
    Ok(entry)
}

/// Splits `length` bytes off the front of `rest`, or reports truncated data.
fn take_bytes<'a>(rest: &mut &'a [u8], length: usize) -> Result<&'a [u8], StoreError> {
    if rest.len() < length {
        return Err(corrupt(format!(
            "snapshot data truncated: want {length}, have {}",
            rest.len()
        )));
    }
    let (head, tail) = rest.split_at(length);
    *rest = tail;
    Ok(head)
}

fn take_length_prefixed<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], StoreError> {
    let prefix = take_bytes(rest, SNAPSHOT_LENGTH_BYTES)?;
    let length = u32::from_be_bytes(prefix.try_into().map_err(|_| corrupt("length prefix"))?);
    take_bytes(rest, length as usize)
}

/// Decodes the data of a snapshot made by `LmdbStorage::snapshot`: a version byte, the pair
/// count (u64 big-endian), then per pair the key and the value, each as u32 big-endian length
/// followed by the bytes. Keys must be non-empty, at most `STATE_KEY_BYTES_MAX`, and strictly
/// ascending (the order they were read from LMDB in); anything else is `StoreError::Corrupt`.
pub fn decode_snapshot_data(data: &[u8]) -> Result<Vec<StatePair>, StoreError> {
    let mut rest = data;
    let header = take_bytes(&mut rest, SNAPSHOT_HEADER_BYTES)?;
    if header[0] != SNAPSHOT_FORMAT_VERSION {
        return Err(corrupt(format!("snapshot format version {}", header[0])));
    }
    let count_bytes: [u8; 8] = header[1..].try_into().map_err(|_| corrupt("pair count"))?;
    let pairs_count = u64::from_be_bytes(count_bytes);
    // The count comes from the wire, so it only bounds the loop; the allocation is bounded by
    // the data length (every pair takes at least two length prefixes).
    let pairs_fit_count = (rest.len() / (2 * SNAPSHOT_LENGTH_BYTES)) as u64;
    if pairs_count > pairs_fit_count {
        return Err(corrupt(format!(
            "snapshot claims {pairs_count} pairs in {} bytes",
            rest.len()
        )));
    }
    let mut pairs: Vec<StatePair> = Vec::with_capacity(pairs_count as usize);
    for _ in 0..pairs_count {
        let key = take_length_prefixed(&mut rest)?;
        let value = take_length_prefixed(&mut rest)?;
        if key.is_empty() || key.len() > STATE_KEY_BYTES_MAX {
            return Err(corrupt(format!("snapshot key of {} bytes", key.len())));
        }
        if let Some((previous, _)) = pairs.last() {
            if previous.as_slice() >= key {
                return Err(corrupt("snapshot keys not strictly ascending"));
            }
        }
        pairs.push((key.to_vec(), value.to_vec()));
    }
    if !rest.is_empty() {
        return Err(corrupt(format!(
            "{} trailing bytes after snapshot pairs",
            rest.len()
        )));
    }
    Ok(pairs)
}

impl raft::Storage for LmdbStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let txn = self.env.read_txn().map_err(StoreError::from)?;
        let hard_state = self.hard_state_in(&txn)?;
        let conf_state = self.conf_state_in(&txn)?;
        Ok(RaftState::new(hard_state, conf_state))
    }

    /// Entries in `[low, high)`: `Compacted` below the first index, `Unavailable` past
    /// last_index + 1 (MemStorage panics there; an error lets the caller decide), and at least
    /// one entry whatever `max_size` says. Fetching is synchronous, so `context` is unused.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        assert!(low <= high, "entries: low {low} > high {high}");
        let max_size_bytes = max_size.into();
        let txn = self.env.read_txn().map_err(StoreError::from)?;
        let bounds = self.log_bounds(&txn)?;
        if low < bounds.first_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > bounds.last_index + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let entries = self.read_entries(&txn, low, high, max_size_bytes)?;
        debug_assert!(low == high || !entries.is_empty());
        Ok(entries)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let txn = self.env.read_txn().map_err(StoreError::from)?;
        match self.term_lookup(&txn, idx)? {
            TermLookup::Found(term) => Ok(term),
            TermLookup::Compacted => Err(raft::Error::Store(StorageError::Compacted)),
            TermLookup::Unavailable => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first_index_now()?)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index_now()?)
    }

    /// A snapshot at the current applied index A, read in one transaction with the state table.
    /// Answers `SnapshotTemporarilyUnavailable` while A < `request_index`, and while A is 0:
    /// raft treats a snapshot at index 0 as fatal, and there is nothing to send yet anyway.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let txn = self.env.read_txn().map_err(StoreError::from)?;
        let applied_index = self.applied_index_in(&txn)?;
        if applied_index < request_index || applied_index == 0 {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        let term = match self.term_lookup(&txn, applied_index)? {
            TermLookup::Found(term) => term,
            other => {
                let what = format!("applied index {applied_index} outside the log: {other:?}");
                return Err(corrupt(what).into());
            }
        };
        let mut snapshot = Snapshot {
            data: self.encode_state_in(&txn)?.into(),
            ..Snapshot::default()
        };
        let metadata = snapshot.mut_metadata();
        metadata.index = applied_index;
        metadata.term = term;
        metadata.set_conf_state(self.conf_state_in(&txn)?);
        debug_assert!(snapshot.get_metadata().index >= request_index);
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use raft::eraftpb::{ConfState, Entry, EntryType, HardState};
    use raft::{Config, GetEntriesContext, RawNode, StateRole, Storage, StorageError};

    use super::{decode_snapshot_data, LmdbStorage, StatePair, StoreError};

    /// 64 MiB: a multiple of any page size, far more than the tests write.
    const TEST_MAP_SIZE_BYTES: usize = 64 * 1024 * 1024;

    /// Ready rounds a test drives before giving up; a single voter needs a handful.
    const TEST_READY_ROUNDS_MAX: usize = 64;

    /// A fresh directory under the system temp dir, unique per test name and process.
    fn test_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nacore-raft-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn open(dir: &Path) -> LmdbStorage {
        LmdbStorage::open(dir, TEST_MAP_SIZE_BYTES).expect("open store")
    }

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: format!("data-{index}").into_bytes().into(),
            ..Entry::default()
        }
    }

    fn entries(
        store: &LmdbStorage,
        low: u64,
        high: u64,
        max: Option<u64>,
    ) -> raft::Result<Vec<Entry>> {
        store.entries(low, high, max, GetEntriesContext::empty(false))
    }

    fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
        HardState {
            term,
            vote,
            commit,
            ..HardState::default()
        }
    }

    fn voters(ids: &[u64]) -> ConfState {
        ConfState {
            voters: ids.to_vec(),
            ..ConfState::default()
        }
    }

    fn kv(key: &str, value: &str) -> StatePair {
        (key.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    /// A fresh store is empty: first 1, last 0, term(0) = 0, default states, no snapshot yet.
    #[test]
    fn fresh_store_is_empty() {
        let dir = test_dir("fresh");
        let store = open(&dir);
        assert_eq!(store.first_index().unwrap(), 1);
        assert_eq!(store.last_index().unwrap(), 0);
        assert_eq!(store.term(0).unwrap(), 0);
        assert_eq!(
            store.term(1),
            Err(raft::Error::Store(StorageError::Unavailable))
        );
        let state = store.initial_state().unwrap();
        assert_eq!(state.hard_state, HardState::default());
        assert_eq!(state.conf_state, ConfState::default());
        assert_eq!(store.applied_index().unwrap(), 0);
        assert!(store.state_entries().unwrap().is_empty());
        assert!(entries(&store, 1, 1, None).unwrap().is_empty());
        assert_eq!(
            store.snapshot(0, 2),
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Appended entries read back whole, and `max_size` trims exactly as raft's `limit_size`.
    #[test]
    fn append_and_read_back_with_size_limits() {
        let dir = test_dir("append");
        let store = open(&dir);
        let written: Vec<Entry> = (1..=6).map(|i| entry(i, 1 + i / 3)).collect();
        store.persist_ready(None, &written, None).unwrap();
        assert_eq!(store.last_index().unwrap(), 6);
        assert_eq!(entries(&store, 1, 7, None).unwrap(), written);
        assert_eq!(entries(&store, 3, 5, None).unwrap(), written[2..4].to_vec());
        assert_eq!(store.term(4).unwrap(), 2);
        let size = |e: &Entry| u64::from(protobuf::Message::compute_size(e));
        let two = size(&written[1]) + size(&written[2]);
        for max in [
            0,
            1,
            two - 1,
            two,
            two + 1,
            two + size(&written[3]),
            u64::MAX,
        ] {
            let mut expected = written[1..6].to_vec();
            raft::util::limit_size(&mut expected, Some(max));
            assert_eq!(
                entries(&store, 2, 7, Some(max)).unwrap(),
                expected,
                "max {max}"
            );
        }
        assert_eq!(entries(&store, 2, 7, Some(0)).unwrap().len(), 1);
        assert_eq!(entries(&store, 2, 7, Some(two)).unwrap().len(), 2);
        assert_eq!(
            entries(&store, 2, 8, None),
            Err(raft::Error::Store(StorageError::Unavailable))
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Appending at an index inside the log drops the old suffix from that index on.
    #[test]
    fn conflicting_suffix_is_truncated() {
        let dir = test_dir("truncate");
        let store = open(&dir);
        let old: Vec<Entry> = (1..=5).map(|i| entry(i, 1)).collect();
        store.persist_ready(None, &old, None).unwrap();
        let mut new = vec![entry(3, 2), entry(4, 2)];
        new[0].data = b"replaced".to_vec().into();
        store.persist_ready(None, &new, None).unwrap();
        assert_eq!(store.last_index().unwrap(), 4);
        let read = entries(&store, 1, 5, None).unwrap();
        assert_eq!(read[..2], old[..2]);
        assert_eq!(read[2..], new[..]);
        assert_eq!(
            store.term(5),
            Err(raft::Error::Store(StorageError::Unavailable))
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An append that leaves a gap after the last index is a programmer error and panics.
    #[test]
    #[should_panic(expected = "gap in the log")]
    fn append_with_gap_panics() {
        let dir = test_dir("gap");
        let store = open(&dir);
        store.persist_ready(None, &[entry(1, 1)], None).unwrap();
        let _ = store.persist_ready(None, &[entry(3, 1)], None);
    }

    /// Compaction moves first_index, keeps term(first - 1), answers Compacted below it, and
    /// survives a reopen.
    #[test]
    fn compaction_moves_first_index_and_keeps_term() {
        let dir = test_dir("compact");
        let store = open(&dir);
        let written: Vec<Entry> = (1..=6).map(|i| entry(i, i)).collect();
        store
            .persist_ready(None, &written, Some(&hard_state(6, 1, 5)))
            .unwrap();
        store.apply(4, &[], &[]).unwrap();
        store.compact(4).unwrap();
        store.compact(2).unwrap(); // Below the first index: nothing to do.
        assert_eq!(store.first_index().unwrap(), 4);
        assert_eq!(store.last_index().unwrap(), 6);
        assert_eq!(store.term(3).unwrap(), 3);
        assert_eq!(
            store.term(2),
            Err(raft::Error::Store(StorageError::Compacted))
        );
        assert_eq!(
            entries(&store, 3, 5, None),
            Err(raft::Error::Store(StorageError::Compacted))
        );
        assert_eq!(entries(&store, 4, 7, None).unwrap(), written[3..].to_vec());
        drop(store);
        let store = open(&dir);
        assert_eq!(store.first_index().unwrap(), 4);
        assert_eq!(store.term(3).unwrap(), 3);
        store.apply(5, &[], &[]).unwrap();
        store.compact(6).unwrap();
        assert_eq!(
            (store.first_index().unwrap(), store.last_index().unwrap()),
            (6, 6)
        );
        assert_eq!(store.term(5).unwrap(), 5);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Compacting past the applied index would drop unapplied entries and panics.
    #[test]
    #[should_panic(expected = "unapplied")]
    fn compaction_past_applied_panics() {
        let dir = test_dir("compact-unapplied");
        let store = open(&dir);
        let written: Vec<Entry> = (1..=3).map(|i| entry(i, 1)).collect();
        store
            .persist_ready(None, &written, Some(&hard_state(1, 1, 3)))
            .unwrap();
        store.apply(1, &[], &[]).unwrap();
        let _ = store.compact(3);
    }

    /// Hard state, conf state and entries are still there after the env is closed and reopened.
    #[test]
    fn hard_and_conf_state_persist_across_reopen() {
        let dir = test_dir("reopen-state");
        let store = open(&dir);
        store.set_conf_state(&voters(&[1, 2, 3])).unwrap();
        let written: Vec<Entry> = (1..=3).map(|i| entry(i, 2)).collect();
        store
            .persist_ready(None, &written, Some(&hard_state(2, 3, 2)))
            .unwrap();
        store.set_commit(3).unwrap();
        drop(store);
        let store = open(&dir);
        let state = store.initial_state().unwrap();
        assert_eq!(state.hard_state, hard_state(2, 3, 3));
        assert_eq!(state.conf_state, voters(&[1, 2, 3]));
        assert_eq!(store.hard_state().unwrap(), hard_state(2, 3, 3));
        assert_eq!(store.conf_state().unwrap(), voters(&[1, 2, 3]));
        assert_eq!(entries(&store, 1, 4, None).unwrap(), written);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Applied puts/deletes and the applied index survive a reopen; state_entries is key-ordered.
    #[test]
    fn apply_and_state_entries_persist_across_reopen() {
        let dir = test_dir("reopen-apply");
        let store = open(&dir);
        let written: Vec<Entry> = (1..=3).map(|i| entry(i, 1)).collect();
        store
            .persist_ready(None, &written, Some(&hard_state(1, 1, 3)))
            .unwrap();
        store
            .apply(2, &[kv("b", "2"), kv("a", "1"), kv("c", "3")], &[])
            .unwrap();
        store
            .apply(3, &[kv("a", "one")], &[b"c".to_vec(), b"absent".to_vec()])
            .unwrap();
        drop(store);
        let store = open(&dir);
        assert_eq!(store.applied_index().unwrap(), 3);
        assert_eq!(
            store.state_entries().unwrap(),
            vec![kv("a", "one"), kv("b", "2")]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Applying past the persisted commit index breaks raft's restart rule and panics.
    #[test]
    #[should_panic(expected = "before commit index")]
    fn apply_past_commit_panics() {
        let dir = test_dir("apply-commit");
        let store = open(&dir);
        store
            .persist_ready(
                None,
                &[entry(1, 1), entry(2, 1)],
                Some(&hard_state(1, 1, 1)),
            )
            .unwrap();
        let _ = store.apply(2, &[], &[]);
    }

    /// snapshot() is taken at the applied index with its term and conf state, its data decodes
    /// back to the state table, and a request beyond the applied index is "temporarily" refused.
    #[test]
    fn snapshot_contents_at_applied_index_round_trip() {
        let dir = test_dir("snapshot");
        let store = open(&dir);
        store.set_conf_state(&voters(&[1, 2])).unwrap();
        let written: Vec<Entry> = (1..=4).map(|i| entry(i, 1 + i / 2)).collect();
        store
            .persist_ready(None, &written, Some(&hard_state(3, 1, 4)))
            .unwrap();
        let big_value = vec![7u8; 70_000];
        let puts = vec![
            kv("k1", "v1"),
            (b"k2".to_vec(), big_value.clone()),
            kv("k0", ""),
        ];
        store.apply(3, &puts, &[]).unwrap();
        let snapshot = store.snapshot(2, 2).unwrap();
        assert_eq!(snapshot.get_metadata().index, 3);
        assert_eq!(snapshot.get_metadata().term, 2);
        assert_eq!(snapshot.get_metadata().get_conf_state(), &voters(&[1, 2]));
        let decoded = decode_snapshot_data(snapshot.get_data()).unwrap();
        assert_eq!(decoded, store.state_entries().unwrap());
        assert_eq!(
            decoded,
            vec![kv("k0", ""), kv("k1", "v1"), (b"k2".to_vec(), big_value)]
        );
        assert_eq!(
            store.snapshot(4, 2),
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        );
        // After compacting up to the applied index the term comes from the truncation point.
        store.compact(4).unwrap();
        assert_eq!(store.snapshot(0, 2).unwrap().get_metadata().term, 2);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Malformed snapshot data is refused as Corrupt, never panics and never half-decodes.
    #[test]
    fn decode_rejects_corrupt_snapshot_data() {
        let mut good = vec![1u8];
        good.extend_from_slice(&1u64.to_be_bytes());
        good.extend_from_slice(&1u32.to_be_bytes());
        good.push(b'k');
        good.extend_from_slice(&1u32.to_be_bytes());
        good.push(b'v');
        assert_eq!(decode_snapshot_data(&good).unwrap(), vec![kv("k", "v")]);
        let mut bad_version = good.clone();
        bad_version[0] = 9;
        let mut trailing = good.clone();
        trailing.push(0);
        let mut huge_count = good.clone();
        huge_count[1..9].copy_from_slice(&u64::MAX.to_be_bytes());
        let mut empty_key = vec![1u8];
        empty_key.extend_from_slice(&1u64.to_be_bytes());
        empty_key.extend_from_slice(&[0u8; 8]);
        let cases = [
            vec![],
            bad_version,
            good[..good.len() - 1].to_vec(),
            trailing,
            huge_count,
            empty_key,
        ];
        for (i, data) in cases.iter().enumerate() {
            let result = decode_snapshot_data(data);
            assert!(
                matches!(result, Err(StoreError::Corrupt(_))),
                "case {i}: {result:?}"
            );
        }
    }

    /// Installing a snapshot from one store on another gives the same state table, bounds and
    /// commit, drops the old log, and later entries append after the snapshot index.
    #[test]
    fn installing_snapshot_copies_state() {
        let dir_source = test_dir("install-source");
        let dir_target = test_dir("install-target");
        let source = open(&dir_source);
        source.set_conf_state(&voters(&[1, 2, 3])).unwrap();
        let written: Vec<Entry> = (1..=5).map(|i| entry(i, 2)).collect();
        source
            .persist_ready(None, &written, Some(&hard_state(2, 1, 5)))
            .unwrap();
        source.apply(5, &[kv("x", "1"), kv("y", "2")], &[]).unwrap();
        let snapshot = source.snapshot(0, 2).unwrap();

        let target = open(&dir_target);
        target
            .persist_ready(
                None,
                &[entry(1, 1), entry(2, 1)],
                Some(&hard_state(1, 0, 1)),
            )
            .unwrap();
        target.apply(1, &[kv("stale", "gone")], &[]).unwrap();
        target
            .persist_ready(Some(&snapshot), &[entry(6, 2)], None)
            .unwrap();
        assert_eq!(
            target.state_entries().unwrap(),
            source.state_entries().unwrap()
        );
        assert_eq!(target.applied_index().unwrap(), 5);
        assert_eq!(target.first_index().unwrap(), 6);
        assert_eq!(target.last_index().unwrap(), 6);
        assert_eq!(target.term(5).unwrap(), 2);
        assert_eq!(
            target.term(4),
            Err(raft::Error::Store(StorageError::Compacted))
        );
        assert_eq!(target.hard_state().unwrap(), hard_state(2, 0, 5));
        assert_eq!(target.conf_state().unwrap(), voters(&[1, 2, 3]));
        drop(target);
        let target = open(&dir_target);
        assert_eq!(target.first_index().unwrap(), 6);
        assert_eq!(target.hard_state().unwrap().commit, 5);
        drop((source, target));
        let _ = std::fs::remove_dir_all(&dir_source);
        let _ = std::fs::remove_dir_all(&dir_target);
    }

    fn test_logger() -> slog::Logger {
        slog::Logger::root(slog::Discard, slog::o!())
    }

    fn test_config(applied: u64) -> Config {
        Config {
            id: 1,
            election_tick: 10,
            heartbeat_tick: 3,
            applied,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            ..Config::default()
        }
    }

    /// Applies committed entries the way the driver will: keys "e<index>" for normal entries
    /// with data, and the applied index moves over every entry (empty leader entries too).
    fn apply_committed(store: &LmdbStorage, committed: &[Entry]) {
        let Some(last) = committed.last() else {
            return;
        };
        let mut puts = Vec::new();
        for e in committed {
            if e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                puts.push((format!("e{:08}", e.index).into_bytes(), e.data.to_vec()));
            }
        }
        store.apply(last.index, &puts, &[]).unwrap();
    }

    /// One pass of the Ready loop: persist (one txn), apply, advance, then the LightReady.
    fn handle_ready(node: &mut RawNode<LmdbStorage>) {
        if !node.has_ready() {
            return;
        }
        let mut ready = node.ready();
        let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
        let hs = ready.hs().cloned();
        node.store()
            .persist_ready(snapshot.as_ref(), ready.entries(), hs.as_ref())
            .unwrap();
        let committed = ready.take_committed_entries();
        apply_committed(node.store(), &committed);
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            node.store().set_commit(commit).unwrap();
        }
        let committed = light.take_committed_entries();
        apply_committed(node.store(), &committed);
        node.advance_apply();
    }

    fn drive(node: &mut RawNode<LmdbStorage>) {
        for _ in 0..TEST_READY_ROUNDS_MAX {
            if !node.has_ready() {
                return;
            }
            handle_ready(node);
        }
        panic!("raft kept producing Ready");
    }

    fn elect(node: &mut RawNode<LmdbStorage>) {
        node.campaign().unwrap();
        drive(node);
        assert_eq!(node.raft.state, StateRole::Leader);
    }

    /// A single-voter RawNode over LmdbStorage commits and applies proposals, and restarts from
    /// the reopened store with Config.applied = stored applied index without losing its commit.
    #[test]
    fn raw_node_single_voter_survives_restart() {
        let dir = test_dir("raw-node");
        let store = open(&dir);
        store.set_conf_state(&voters(&[1])).unwrap();
        let mut node = RawNode::new(&test_config(0), store, &test_logger()).unwrap();
        elect(&mut node);
        for i in 0..3 {
            node.propose(vec![], format!("put-{i}").into_bytes())
                .unwrap();
            drive(&mut node);
        }
        let commit = node.store().hard_state().unwrap().commit;
        let last_index = node.store().last_index_now().unwrap();
        assert_eq!(commit, last_index);
        assert_eq!(node.store().applied_index().unwrap(), commit);
        assert_eq!(node.store().state_entries().unwrap().len(), 3);
        drop(node);

        let store = open(&dir);
        let applied = store.applied_index().unwrap();
        assert_eq!(store.hard_state().unwrap().commit, commit);
        let mut node = RawNode::new(&test_config(applied), store, &test_logger()).unwrap();
        assert_eq!(node.raft.raft_log.committed, commit);
        assert_eq!(node.raft.raft_log.last_index(), last_index);
        elect(&mut node);
        node.propose(vec![], b"after-restart".to_vec()).unwrap();
        drive(&mut node);
        let store = node.store();
        assert!(store.hard_state().unwrap().commit > commit);
        assert_eq!(
            store.applied_index().unwrap(),
            store.hard_state().unwrap().commit
        );
        assert_eq!(store.state_entries().unwrap().len(), 4);
        drop(node);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
