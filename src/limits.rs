//! Every explicit limit of the server, in one place, each with its unit last.
//!
//! A limit is a promise to operators: a hostile or broken client can make nacore do at most this
//! much work or hold at most this much memory. Relationships between limits are checked at
//! compile time at the bottom of the file.

/// Largest request head (request line + headers) we buffer before answering 431. Nacos clients
/// send well under 2 KiB; 16 KiB leaves room for long access tokens.
pub const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;

/// Most headers in one request; more is answered with 431.
pub const REQUEST_HEADERS_COUNT_MAX: usize = 64;

/// Largest request body; more is answered with 413. Naming bodies are form fields of a few KiB;
/// 4 MiB covers batch metadata updates with thousands of instances.
pub const REQUEST_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Parts of one `multipart/form-data` body (an upload form has a handful).
pub const MULTIPART_PARTS_MAX: usize = 16;

/// Chunk-size lines and trailers a chunked body may add to its data before it is refused.
pub const CHUNKED_FRAMING_BYTES_MAX: usize = 64 * 1024;

/// Read buffer allocated per connection up front; it grows up to head + body limits on demand.
pub const CONNECTION_READ_BUFFER_BYTES: usize = 8 * 1024;

/// What an idle HTTP connection reads its next request's first bytes into: the connection's
/// read buffer is released while it waits (an idle keep-alive connection then holds this
/// instead of `CONNECTION_READ_BUFFER_BYTES`); the rest follows into a new read buffer.
pub const CONNECTION_IDLE_READ_BYTES: usize = 512;
const _: () = assert!(CONNECTION_IDLE_READ_BYTES <= CONNECTION_READ_BUFFER_BYTES);

/// Read buffers of idle HTTP connections a core keeps for reuse (512 KiB at 8 KiB each).
pub const CONNECTION_READ_BUFFERS_POOLED_PER_CORE_MAX: usize = 64;

/// Responses are flushed once this many bytes are queued for a pipelining client, so that a
/// client that pipelines without reading cannot make us buffer without bound.
pub const CONNECTION_WRITE_BUFFER_BYTES_MAX: usize = 256 * 1024;

/// A keep-alive connection with no request in flight is closed after this long.
pub const CONNECTION_IDLE_TIMEOUT_MS: u64 = 60_000;

/// A request whose head has started must be complete within this long (slowloris guard).
pub const REQUEST_HEAD_TIMEOUT_MS: u64 = 10_000;

/// A request body must arrive within this long after its head.
pub const REQUEST_BODY_TIMEOUT_MS: u64 = 30_000;

/// A response must be written within this long, or the connection is dropped.
pub const RESPONSE_WRITE_TIMEOUT_MS: u64 = 30_000;

/// Resolution of the HTTP idle/head/body timeouts: the sweeper that enforces them runs this
/// often, so a timeout fires up to this much late.
pub const DEADLINE_TICK_MS: u64 = 250;
const _: () = assert!(DEADLINE_TICK_MS * 10 <= REQUEST_HEAD_TIMEOUT_MS);

/// Open client connections per core; accept waits while a core is at the limit.
pub const CONNECTIONS_PER_CORE_MAX: usize = 16_384;

/// The longest a core waits before it accepts again after accept failed (EMFILE and the like);
/// the wait doubles from 1 ms up to this.
pub const ACCEPT_BACKOFF_MS_MAX: u64 = 1_000;

/// Descriptors the process needs beside its client connections (listeners, LMDB, peer and
/// forwarding connections, logs): part of the open-file limit checked at start (`fd_limit`).
pub const FD_RESERVED: u64 = 1_024;

/// Capacity of each cross-core channel in the mesh (messages). Senders wait when it is full.
pub const MESH_CHANNEL_CAPACITY: usize = 1024;

/// Instances one service may hold; registering more is refused with 400.
pub const INSTANCES_PER_SERVICE_MAX: usize = 100_000;

/// Cached encoded `hosts` variants per service (one per distinct clusters/healthyOnly query).
pub const LIST_CACHE_ENTRIES_PER_SERVICE_MAX: usize = 8;

/// Bytes of cached list encodings per core; beyond it lists are encoded per request. Keeps a
/// million instances (~300 MiB) plus caches within 512 MiB on two cores.
pub const LIST_CACHE_BYTES_PER_CORE_MAX: usize = 64 * 1024 * 1024;

/// Parameter lengths, from Nacos `ParamCheckRule` (nacos-protocol.md §0.2).
pub const NAMESPACE_CHARS_MAX: usize = 64;
pub const SERVICE_NAME_CHARS_MAX: usize = 512;
pub const GROUP_CHARS_MAX: usize = 128;
pub const CLUSTER_CHARS_MAX: usize = 64;
pub const IP_CHARS_MAX: usize = 128;
/// Sum of key and value lengths of one instance's or service's metadata.
pub const METADATA_CHARS_MAX: usize = 1024;

/// Heartbeat defaults, from Nacos `PreservedMetadataKeys` / `SwitchDomain`.
pub const BEAT_INTERVAL_DEFAULT_MS: u64 = 5_000;
pub const BEAT_TIMEOUT_DEFAULT_MS: u64 = 15_000;
pub const IP_DELETE_TIMEOUT_DEFAULT_MS: u64 = 30_000;

/// How often each core advances its timing wheel. Expiry fires at most this late.
pub const WHEEL_TICK_MS: u64 = 20;

/// A service with no instances is removed after this long (Nacos
/// `nacos.naming.clean.empty-service.expired-time`).
pub const EMPTY_SERVICE_EXPIRY_MS: u64 = 60_000;

/// A v1 poller registered with `udpPort` is forgotten this long after its last poll
/// (Nacos `nacos.naming.client.expired.time`).
pub const UDP_SUBSCRIBER_EXPIRY_MS: u64 = 180_000;

/// UDP subscribers one service may hold; older ones are evicted first.
pub const UDP_SUBSCRIBERS_PER_SERVICE_MAX: usize = 4_096;

/// `pageSize` cap of the v2 service list (Nacos caps it at 500).
pub const SERVICE_LIST_V2_PAGE_SIZE_MAX: usize = 500;

const _: () = assert!(REQUEST_HEAD_BYTES_MAX >= CONNECTION_READ_BUFFER_BYTES);
const _: () = assert!(BEAT_INTERVAL_DEFAULT_MS <= BEAT_TIMEOUT_DEFAULT_MS);
const _: () = assert!(BEAT_TIMEOUT_DEFAULT_MS <= IP_DELETE_TIMEOUT_DEFAULT_MS);
const _: () = assert!(WHEEL_TICK_MS * 10 <= BEAT_INTERVAL_DEFAULT_MS);
const _: () = assert!(REQUEST_HEAD_TIMEOUT_MS <= CONNECTION_IDLE_TIMEOUT_MS);

/// Largest gRPC message in either direction (Nacos: 10 MiB on both sides).
pub const GRPC_MESSAGE_BYTES_MAX: usize = 10 * 1024 * 1024;
/// Bytes a gRPC connection gathers from h2 before it sends them (it sends at every flush
/// anyway); chunks this large go out without a copy.
pub const GRPC_WRITE_COALESCE_BYTES_MAX: usize = 64 * 1024;

/// Concurrent HTTP/2 streams per gRPC connection. Nacos clients use one bi-stream plus a few
/// unary calls at a time.
pub const GRPC_STREAMS_PER_CONNECTION_MAX: u32 = 128;

/// A connection idle this long gets a `ClientDetectionRequest` (Nacos `KEEP_ALIVE_TIME`).
pub const GRPC_IDLE_DETECTION_MS: u64 = 20_000;

/// How long a client has to answer a `ClientDetectionRequest`, and a push, before it counts
/// as failed (Nacos `pushTaskTimeout`).
pub const GRPC_REPLY_TIMEOUT_MS: u64 = 5_000;

/// A push that timed out is sent again after this long (Nacos `pushTaskRetryDelay`).
pub const PUSH_RETRY_DELAY_MS: u64 = 1_000;

/// Pushes queued for one connection; a client that lets more pile up is disconnected.
pub const PUSH_QUEUE_PER_CONNECTION_MAX: usize = 1_024;

/// A connection whose pushes cannot be written for this long is disconnected.
pub const PUSH_WRITE_STALL_MS: u64 = 10_000;

/// Services one gRPC connection may subscribe to or register in.
pub const SERVICES_PER_CONNECTION_MAX: usize = 16_384;

/// Default coalescing window of pushes (`--push-delay-ms`); Nacos waits 500 ms.
pub const PUSH_DELAY_DEFAULT_MS: u64 = 2;

/// gRPC connections per core; accept waits at the limit.
pub const GRPC_CONNECTIONS_PER_CORE_MAX: usize = 65_536;

/// A UDP push unanswered this long is retransmitted once (Nacos: 10 s, one retry).
pub const UDP_ACK_TIMEOUT_MS: u64 = 10_000;

/// UDP pushes are gzip-compressed from this size (Nacos: 1 KiB).
pub const UDP_GZIP_THRESHOLD_BYTES: usize = 1024;

/// Largest UDP datagram we send or receive (the IPv4 UDP payload limit).
pub const UDP_DATAGRAM_BYTES_MAX: usize = 65_507;

/// UDP pushes awaiting an ack per core; beyond it pushes go out without a retransmit.
pub const UDP_PENDING_ACKS_PER_CORE_MAX: usize = 65_536;

/// The Raft clock: one tick per this many ms.
pub const RAFT_TICK_MS: u64 = 100;
/// Ticks without a leader before an election (1 s), and between heartbeats (100 ms).
pub const RAFT_ELECTION_TICKS: usize = 10;
pub const RAFT_HEARTBEAT_TICKS: usize = 1;
/// Largest Raft append message, and largest batch of committed entries per Ready.
pub const RAFT_MESSAGE_BYTES_MAX: u64 = 1024 * 1024;
/// Uncommitted proposal bytes a leader holds before it refuses new ones (no quorum in sight).
pub const RAFT_UNCOMMITTED_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Proposals queued for the Raft core; proposers wait when it is full. Also the most that may
/// wait for a leader to be elected.
pub const RAFT_PROPOSAL_QUEUE_MAX: usize = 4096;
/// Proposals taken off the queue into one Ready (one LMDB transaction, one fsync).
pub const RAFT_APPLY_BATCH_MAX: usize = 1024;
/// Group commit: after a write cycle answered n writers, the leader waits (at most half the
/// last cycle's time, and at most this long) for n new proposals before it starts the next
/// cycle, so writers that come straight back share one cycle instead of the first few taking
/// a cycle (two fsyncs) of their own. Never paid by a lone writer.
pub const RAFT_GATHER_WAIT_US: u64 = 3_000;
/// A proposal waits this long for a leader before it fails with 503.
pub const RAFT_PROPOSAL_WAIT_MS: u64 = 5_000;
/// A leader's proposal whose entry has not applied after this fails with 503 (the leader may
/// have lost its leadership and the entry with it).
pub const RAFT_PROPOSAL_COMMIT_WAIT_MS: u64 = 10_000;
/// A follower's write forwarded to the leader fails after this without an answer (longer than
/// the leader's own `RAFT_PROPOSAL_COMMIT_WAIT_MS`, so the leader's answer normally comes first).
pub const RAFT_FORWARD_TIMEOUT_MS: u64 = 15_000;
/// A (re)started cluster member waits this long for the leader's commit index before it
/// reports ready anyway (no quorum: it serves what it holds rather than nothing).
pub const RAFT_CATCH_UP_WAIT_MS: u64 = 30_000;
/// A read barrier (a follower's read waiting for the leader's commit index) gives up after
/// this and serves what the member holds (no quorum: stale rather than nothing).
pub const RAFT_READ_BARRIER_WAIT_MS: u64 = 2_000;
/// How often a starting member (or a read barrier) asks the leader again for its commit index.
pub const RAFT_CATCH_UP_ASK_MS: u64 = 300;
/// Default log length (entries beyond the first kept index) that triggers a compaction.
pub const RAFT_COMPACT_AFTER_ENTRIES_DEFAULT: u64 = 10_000;
/// Applied entries kept in the log after a compaction, for followers that lag a little.
pub const RAFT_LOG_KEEP_ENTRIES: u64 = 1_000;
/// LMDB map size: the most the Raft log and state tables may occupy on disk (sparse file).
pub const LMDB_MAP_BYTES: usize = 8 * 1024 * 1024 * 1024;

/// Health probes of persistent instances in flight at once per core.
pub const HEALTH_PROBES_IN_FLIGHT_MAX: usize = 256;
/// Health-check defaults (`--health-check-*`): Nacos TCP checks run every few seconds and
/// mark an instance unhealthy after `checkTimes` (3) failures.
pub const HEALTH_CHECK_INTERVAL_DEFAULT_MS: u64 = 5_000;
pub const HEALTH_CHECK_TIMEOUT_DEFAULT_MS: u64 = 2_000;
pub const HEALTH_CHECK_FAIL_THRESHOLD_DEFAULT: u8 = 3;
pub const HEALTH_CHECK_OK_THRESHOLD_DEFAULT: u8 = 1;

/// Largest peer message (Raft snapshots of the whole state travel in one).
pub const CLUSTER_MESSAGE_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Raft message batches queued per peer; more are dropped (Raft resends).
pub const CLUSTER_PEER_QUEUE_MAX: usize = 256;
pub const CLUSTER_CONNECT_TIMEOUT_MS: u64 = 1_000;
pub const CLUSTER_RECONNECT_BACKOFF_MAX_MS: u64 = 1_000;
/// Raft messages from peers queued for the Raft driver.
pub const CLUSTER_INBOX_MAX: usize = 4_096;
/// A follower waits this long for its own log to reach a forwarded write before answering.
pub const FORWARDED_APPLY_WAIT_MS: u64 = 5_000;

/// Members report to each other this often (Nacos: 2 s).
pub const MEMBER_REPORT_INTERVAL_MS: u64 = 2_000;
/// A report that takes longer than this counts as failed.
pub const MEMBER_REPORT_TIMEOUT_MS: u64 = 1_500;
/// A peer not heard from for this long turns SUSPICIOUS (two reports missed)...
pub const MEMBER_SUSPICIOUS_AFTER_MS: u64 = 4_500;
/// ...and DOWN after this long; it no longer counts for responsibility.
pub const MEMBER_DOWN_AFTER_MS: u64 = 8_500;
/// Failed reports in a row that make a peer DOWN (Nacos `maxFailAccessCnt` 3).
pub const MEMBER_DOWN_AFTER_FAILURES: u32 = 3;
const _: () = assert!(MEMBER_REPORT_INTERVAL_MS < MEMBER_SUSPICIOUS_AFTER_MS);
const _: () = assert!(MEMBER_SUSPICIOUS_AFTER_MS < MEMBER_DOWN_AFTER_MS);
const _: () = assert!(MEMBER_REPORT_TIMEOUT_MS < MEMBER_REPORT_INTERVAL_MS);

/// Distro sync window (`--distro-sync-delay-ms`): changes of a core within it travel to each
/// peer in one batch (Nacos waits 1 s).
pub const DISTRO_SYNC_DELAY_DEFAULT_MS: u64 = 5;
/// Verify round (`--distro-verify-interval-ms`), Nacos: 5 s.
pub const DISTRO_VERIFY_INTERVAL_DEFAULT_MS: u64 = 5_000;
/// Replicas not renewed for this long expire (`--distro-replica-expiry-ms`), Nacos: 3 min.
pub const DISTRO_REPLICA_EXPIRY_DEFAULT_MS: u64 = 180_000;
/// Records queued per core for one peer before that outbox is dropped and verify repairs the
/// difference: a slow or absent peer costs bounded memory.
pub const DISTRO_OUTBOX_RECORDS_PER_PEER_MAX: usize = 200_000;
/// Items in one sync message.
pub const DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX: usize = 2_000;
/// A failed sync to a peer is tried again after this long.
pub const DISTRO_SYNC_RETRY_MS: u64 = 500;
/// A sync, verify or resend call that takes longer than this failed.
pub const DISTRO_CALL_TIMEOUT_MS: u64 = 3_000;
/// Buckets resent per peer per verify round; the rest waits for the next round.
pub const DISTRO_RESEND_BUCKETS_PER_ROUND_MAX: usize = 512;
/// Buckets per snapshot chunk (of 4,096): a million instances come in chunks of ~15,000.
pub const DISTRO_SNAPSHOT_BUCKETS_PER_CHUNK: u16 = 64;
/// Snapshot chunks requested at once by a joining member.
pub const DISTRO_SNAPSHOT_CHUNKS_IN_FLIGHT: usize = 4;
/// A starting member waits this long for an UP peer to load a snapshot from; after it (or
/// once every peer answered and none is UP: a fresh cluster) it starts with what it has.
pub const DISTRO_SNAPSHOT_PEER_WAIT_MS: u64 = 6_000;
/// Beats a core holds for one peer before it proxies beats one by one again.
pub const DISTRO_RELAYED_BEATS_PER_PEER_MAX: usize = 100_000;
/// Items a peer may send in one message (sync, resend, snapshot chunk); more is refused.
pub const DISTRO_ITEMS_PER_MESSAGE_MAX: usize = 100_000;
const _: () = assert!(DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX <= DISTRO_ITEMS_PER_MESSAGE_MAX);

/// Forwarded HTTP writes (`api/forward.rs`, `http/client.rs`): a connect to the responsible
/// member that takes longer fails, and the next healthy member is tried.
pub const FORWARD_CONNECT_TIMEOUT_MS: u64 = 500;
/// Sending a forwarded write and reading the whole answer; past it the client gets 503. Well
/// below the 5 s beat interval, so a hung member does not hold a client's beats back.
pub const FORWARD_RESPONSE_TIMEOUT_MS: u64 = 2_000;
/// Idle keep-alive connections kept per core and member, so a stream of forwarded beats does
/// not open a connection per beat.
pub const FORWARD_IDLE_CONNECTIONS_PER_PEER_MAX: usize = 16;
/// An idle pooled connection older than this is closed instead of reused (the member closes
/// it itself after `CONNECTION_IDLE_TIMEOUT_MS`).
pub const FORWARD_IDLE_CONNECTION_MAX_AGE_MS: u64 = 30_000;
const _: () = assert!(FORWARD_IDLE_CONNECTION_MAX_AGE_MS < CONNECTION_IDLE_TIMEOUT_MS);

// ---- config center (nacos-config-protocol.md §1.4) ----

/// Longest dataId (Nacos param checker: 256).
pub const CONFIG_DATA_ID_CHARS_MAX: usize = 256;
/// Longest config group (Nacos param checker: 128).
pub const CONFIG_GROUP_CHARS_MAX: usize = 128;
/// Longest tenant (`ParamUtils`: 128; the param checker's 64 for namespaces applies first).
pub const CONFIG_TENANT_CHARS_MAX: usize = 128;
/// Longest gray tag (`ParamUtils`: 16).
pub const CONFIG_TAG_CHARS_MAX: usize = 16;
/// Largest config content, in characters (Nacos `maxContent`, 10 Mi).
pub const CONFIG_CONTENT_CHARS_MAX: usize = 10 * 1024 * 1024;
/// Gray versions (beta and tags) per config (`nacos.config.gray.version.max.count`).
pub const CONFIG_GRAYS_PER_CONFIG_MAX: usize = 10;
/// History rows kept per config; older ones are dropped beyond retention anyway.
pub const CONFIG_HISTORY_ROWS_PER_CONFIG_MAX: usize = 1_000;
/// Default history retention (`nacos.config.retention.days`: 30 days).
pub const CONFIG_HISTORY_RETENTION_DEFAULT_MS: u64 = 30 * 24 * 3600 * 1000;
/// How often the leader proposes pruning history past retention (Nacos: 10 min).
pub const CONFIG_HISTORY_PRUNE_INTERVAL_MS: u64 = 10 * 60 * 1000;
/// Records in one `Listening-Configs` (Nacos: 10000).
pub const CONFIG_LISTEN_KEYS_PER_POLL_MAX: usize = 10_000;
/// Config keys one gRPC connection may listen to.
pub const CONFIG_LISTEN_KEYS_PER_CONNECTION_MAX: usize = 16_384;
/// Long polls one core holds at once; more are answered 503.
pub const CONFIG_HELD_POLLS_PER_CORE_MAX: usize = 65_536;
/// Shortest and default hold of a long poll (Nacos: `max(10000, timeout - 500)`).
pub const CONFIG_POLL_HOLD_MIN_MS: u64 = 10_000;
pub const CONFIG_POLL_HOLD_DELAY_MS: u64 = 500;
/// Longest hold, whatever the client asks for.
pub const CONFIG_POLL_HOLD_MAX_MS: u64 = 120_000;
/// How often a core answers its long polls whose hold ran out.
pub const CONFIG_POLL_SWEEP_MS: u64 = 100;
/// How long a long poll refused for `CONFIG_HELD_POLLS_PER_CORE_MAX` waits before its 503, so a
/// client that re-polls at once does not spin (Java waits 1–3 s).
pub const CONFIG_POLL_FULL_BACKOFF_MS: u64 = 1_000;
/// Largest page of a config or history search (Nacos: 500 for history).
pub const CONFIG_PAGE_SIZE_MAX: usize = 500;
/// Ids in one `DELETE ?delType=ids` (Java has no limit; each id is one Raft proposal).
pub const CONFIG_DELETE_IDS_MAX: usize = 1_000;
/// Configs in one export zip (Java has no limit; the zip is built in memory).
pub const CONFIG_EXPORT_ITEMS_MAX: usize = 10_000;
const _: () = assert!(CONFIG_EXPORT_ITEMS_MAX <= CONFIG_IMPORT_ENTRIES_MAX);
/// Namespaces (besides the default one).
pub const NAMESPACES_MAX: usize = 10_000;
/// The longest id a namespace may be created with (Nacos `NAMESPACE_ID_MAX_LENGTH`).
pub const NAMESPACE_ID_CHARS_MAX: usize = 128;
/// The config quota every namespace reports (Nacos `DEFAULT_QUOTA`; not enforced there either).
pub const NAMESPACE_QUOTA: u32 = 200;
/// Entries and uncompressed bytes of an imported zip.
pub const CONFIG_IMPORT_ENTRIES_MAX: usize = 10_000;
pub const CONFIG_IMPORT_BYTES_MAX: u64 = 256 * 1024 * 1024;

// --- auth ---

/// Longest username accepted (login, user admin); Nacos stores it in a VARCHAR(50).
pub const AUTH_USERNAME_BYTES_MAX: usize = 50;
/// Longest password accepted. bcrypt reads only the first 72 bytes; more is refused rather
/// than silently truncated.
pub const AUTH_PASSWORD_BYTES_MAX: usize = 72;
/// Longest access token accepted; ours are about 150 bytes, longer ones are refused before any
/// decoding work.
pub const AUTH_TOKEN_BYTES_MAX: usize = 4096;
/// Longest role name, resource pattern and action.
pub const AUTH_ROLE_BYTES_MAX: usize = 50;
pub const AUTH_RESOURCE_BYTES_MAX: usize = 512;
/// Shortest token secret (bytes after base64 decoding): HS256 wants 256 bits.
pub const AUTH_TOKEN_SECRET_BYTES_MIN: usize = 32;
/// Default token lifetime (Nacos `nacos.core.auth.plugin.nacos.token.expire.seconds`).
pub const AUTH_TOKEN_TTL_DEFAULT_S: u64 = 18_000;
/// Failed logins from one IP within the window after which its logins are refused until the
/// window ends.
pub const AUTH_LOGIN_FAILURES_MAX: u32 = 5;
pub const AUTH_LOGIN_THROTTLE_WINDOW_MS: u64 = 60_000;
/// IPs the login throttle tracks per core; beyond it the oldest window is dropped.
pub const AUTH_LOGIN_THROTTLE_IPS_MAX: usize = 4096;
/// Verified `username`+`password` pairs cached per core (so per-request credentials do not
/// run bcrypt every time); the cache is emptied when full.
pub const AUTH_CREDENTIAL_CACHE_ENTRIES_MAX: usize = 1024;
/// Table sizes: creating more is refused.
pub const AUTH_USERS_MAX: usize = 10_000;
pub const AUTH_ROLES_MAX: usize = 10_000;
pub const AUTH_PERMISSIONS_MAX: usize = 10_000;
/// Page size cap of the user/role/permission lists.
pub const AUTH_PAGE_SIZE_MAX: usize = 500;
/// bcrypt cost of new password hashes (Nacos `BCryptPasswordEncoder` default: 10).
pub const AUTH_BCRYPT_COST: u32 = 10;
const _: () = assert!(AUTH_LOGIN_FAILURES_MAX > 0);
const _: () = assert!(AUTH_USERNAME_BYTES_MAX <= AUTH_RESOURCE_BYTES_MAX);

// --- metrics ---
/// Access log bytes a core buffers before it hands them to the writer thread (also handed
/// every `ACCESS_LOG_FLUSH_MS`).
pub const ACCESS_LOG_BUFFER_BYTES_MAX: usize = 64 * 1024;
/// How often a core hands its buffered access log lines to the writer thread.
pub const ACCESS_LOG_FLUSH_MS: u64 = 200;
/// Buffers queued for the writer thread (over all cores); past it lines are dropped and
/// counted (`nacore_access_log_dropped_lines_total`) rather than slowing the data path.
pub const ACCESS_LOG_CHUNKS_QUEUED_MAX: usize = 256;
/// The longest path (or gRPC type) written in an access log line; longer ones are cut.
pub const ACCESS_LOG_PATH_BYTES_MAX: usize = 256;
const _: () = assert!(ACCESS_LOG_PATH_BYTES_MAX * 4 < ACCESS_LOG_BUFFER_BYTES_MAX);

// --- console ---
/// Largest page of the console catalog (`/nacos/v1/ns/catalog/services` and `.../instances`);
/// the console asks for 100 at a time, Nacos's own console for 10.
pub const CONSOLE_CATALOG_PAGE_SIZE_MAX: usize = 1_000;
/// Longest name or group fragment a catalog search takes (the longest service name Nacos
/// allows is far shorter).
pub const CONSOLE_SEARCH_CHARS_MAX: usize = 512;
const _: () = assert!(CONSOLE_CATALOG_PAGE_SIZE_MAX >= 100);

// --- dns ---
/// The TTL of DNS answers when `--dns-ttl-s` is not given: short, because the registry changes
/// faster than resolvers expect and weighted selection happens per query.
pub const DNS_TTL_DEFAULT_S: u32 = 1;
/// Longest TTL `--dns-ttl-s` accepts (a day); instances come and go much faster than that.
pub const DNS_TTL_MAX_S: u32 = 86_400;
/// Records per answer when `--dns-answer-records-max` is not given: one, so a client that
/// takes the first address (or a resolver that re-sorts them, as glibc does) still follows
/// the weights.
pub const DNS_ANSWER_RECORDS_DEFAULT: usize = 1;
/// The most records `--dns-answer-records-max` accepts; past it the answer is TCP-only anyway.
pub const DNS_ANSWER_RECORDS_MAX: usize = 1_000;
/// Largest UDP answer without EDNS0 (RFC 1035 §4.2.1).
pub const DNS_UDP_PLAIN_BYTES_MAX: usize = 512;
/// Largest UDP answer we send with EDNS0, whatever the client offers: 1232 avoids IP
/// fragmentation on every common path (the DNS Flag Day 2020 value).
pub const DNS_UDP_EDNS_BYTES_MAX: usize = 1_232;
/// Receive buffer of a UDP query; a longer datagram is cut and fails to parse (FORMERR).
pub const DNS_UDP_QUERY_BYTES_MAX: usize = 4_096;
/// Longest DNS message taken over TCP (a query is tens of bytes; the length prefix allows
/// 65535): a longer one closes the connection.
pub const DNS_TCP_QUERY_BYTES_MAX: usize = 4_096;
/// Concurrent DNS TCP connections per core; further ones wait in the accept queue.
pub const DNS_TCP_CONNECTIONS_PER_CORE_MAX: usize = 256;
/// Queries one DNS TCP connection may send before it is closed (RFC 7766 lets either side
/// close; bounding it bounds the work one client can tie to a connection).
pub const DNS_TCP_QUERIES_PER_CONNECTION_MAX: usize = 10_000;
/// An idle DNS TCP connection is closed after this long (RFC 7766 §6.2.3 suggests seconds).
pub const DNS_TCP_IDLE_MS: u64 = 10_000;
/// Services whose record set a core keeps encoded; past it the cache is emptied and refilled
/// on demand (a scan-free bound: record sets are cheap to rebuild from the registry).
pub const DNS_CACHED_SERVICES_PER_CORE_MAX: usize = 65_536;
/// Healthy instances one record set holds; a larger service answers from its first ones.
pub const DNS_RECORD_SET_HOSTS_MAX: usize = 10_000;
const _: () = assert!(DNS_UDP_PLAIN_BYTES_MAX <= DNS_UDP_EDNS_BYTES_MAX);
const _: () = assert!(DNS_UDP_EDNS_BYTES_MAX <= DNS_UDP_QUERY_BYTES_MAX);
const _: () = assert!(DNS_TCP_QUERY_BYTES_MAX <= u16::MAX as usize);
const _: () = assert!(DNS_ANSWER_RECORDS_DEFAULT <= DNS_ANSWER_RECORDS_MAX);
const _: () = assert!(DNS_ANSWER_RECORDS_MAX <= DNS_RECORD_SET_HOSTS_MAX);
/// UDP lookups a core has waiting on other cores at once; past it the next one is answered
/// inline, which slows this core's socket instead of growing a queue.
pub const DNS_UDP_INFLIGHT_PER_CORE_MAX: usize = 1_024;
