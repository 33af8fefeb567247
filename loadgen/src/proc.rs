//! The server's resident memory from /proc, for `grpc-connections`, `config-hold` and
//! `config-memory`: `VmRSS` (and `RssAnon`, `RssFile`) of `/proc/PID/status`, and finding the PID of a local server from the socket listening on its
//! port (`/proc/net/tcp{,6}` gives the socket inode, `/proc/*/fd` the process holding it).

use std::path::Path;

/// TCP state `LISTEN` in /proc/net/tcp (`include/net/tcp_states.h`).
const TCP_STATE_LISTEN: &str = "0A";

/// Processes scanned at most when looking for a listener's owner (a bound on the /proc walk).
const PROCESSES_SCANNED_MAX: usize = 100_000;

/// `VmRSS` of a process, in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status).map(|kib| kib * 1024)
}

/// The `VmRSS:  1234 kB` line of a /proc status file, in KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    parse_status_kib(status, "VmRSS:")
}

/// A `<field>  1234 kB` line of a /proc status file, in KiB.
fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    let mut fields = line[field.len()..].split_whitespace();
    let value = fields.next()?.parse().ok()?;
    (fields.next() == Some("kB")).then_some(value)
}

/// A process's resident memory and its anonymous and file-backed parts (mapped files such as
/// an LMDB store, which the kernel may reclaim), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssParts {
    pub total_bytes: u64,
    pub anon_bytes: u64,
    pub file_bytes: u64,
}

pub fn rss_parts(pid: u32) -> Option<RssParts> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_rss_parts(&status)
}

fn parse_rss_parts(status: &str) -> Option<RssParts> {
    Some(RssParts {
        total_bytes: parse_status_kib(status, "VmRSS:")? * 1024,
        anon_bytes: parse_status_kib(status, "RssAnon:")? * 1024,
        file_bytes: parse_status_kib(status, "RssFile:")? * 1024,
    })
}

/// The inode of a socket listening on `port` in a /proc/net/tcp or tcp6 table.
pub fn listening_inode(table: &str, port: u16) -> Option<u64> {
    let port_hex = format!("{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 10 || fields[3] != TCP_STATE_LISTEN {
            return None;
        }
        let (_, local_port) = fields[1].rsplit_once(':')?;
        if local_port != port_hex {
            return None;
        }
        fields[9].parse().ok().filter(|&inode| inode != 0)
    })
}

/// The PID of the local process listening on TCP `port`, if this user may see it.
pub fn listener_pid(port: u16) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|table| listening_inode(&table, port))?;
    let target = format!("socket:[{inode}]");
    let processes = std::fs::read_dir("/proc").ok()?;
    for entry in processes.flatten().take(PROCESSES_SCANNED_MAX) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        if holds_fd(&entry.path(), &target) {
            return Some(pid);
        }
    }
    None
}

fn holds_fd(process: &Path, target: &str) -> bool {
    let Ok(fds) = std::fs::read_dir(process.join("fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == target))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VmRSS is read in KiB from its line; other lines and units are ignored.
    #[test]
    fn vm_rss() {
        let status = "Name:\tnacore\nVmPeak:\t  9999 kB\nVmRSS:\t   20480 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss_kib(status), Some(20_480));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss_kib("VmRSS:\t12 MB\n"), None);
    }

    #[test]
    fn rss_parts_from_status() {
        let status = "VmRSS:\t 30 kB\nRssAnon:\t 20 kB\nRssFile:\t 8 kB\nRssShmem:\t 2 kB\n";
        let parts = parse_rss_parts(status).unwrap();
        assert_eq!(
            (parts.total_bytes, parts.anon_bytes, parts.file_bytes),
            (30 * 1024, 20 * 1024, 8 * 1024)
        );
        assert_eq!(parse_rss_parts("VmRSS:\t 30 kB\n"), None);
    }

    /// Only a LISTEN socket on the port matches (port 9848 = 0x2678).
    #[test]
    fn listening_socket() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                     retrnsmt   uid  timeout inode\n\
   0: 0100007F:2678 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 111 1\n\
   1: 0100007F:2678 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1\n\
   2: 00000000:2679 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1\n";
        assert_eq!(listening_inode(table, 9848), Some(222));
        assert_eq!(listening_inode(table, 9849), Some(333));
        assert_eq!(listening_inode(table, 80), None);
    }

    /// This test process's own RSS is readable and non-zero.
    #[test]
    fn own_rss() {
        assert!(rss_bytes(std::process::id()).is_some_and(|bytes| bytes > 0));
    }
}
