//! The process's open-file limit against what the configured connection limits need: the
//! soft limit is raised to the hard one when it is lower than that, and a start below the
//! need is logged as a warning (each connection, HTTP or gRPC, is one descriptor; a core
//! refuses connections past its limits, but the kernel refuses them earlier, with EMFILE on
//! accept, once the descriptors run out).

use crate::limits::{CONNECTIONS_PER_CORE_MAX, FD_RESERVED, GRPC_CONNECTIONS_PER_CORE_MAX};

/// Descriptors `cores` cores may hold at their connection limits, plus the process's own.
pub fn needed_fds(cores: usize) -> u64 {
    let per_core = (CONNECTIONS_PER_CORE_MAX + GRPC_CONNECTIONS_PER_CORE_MAX) as u64;
    per_core * cores as u64 + FD_RESERVED
}

/// Raises the soft `RLIMIT_NOFILE` towards `needed` (never above the hard limit) and warns
/// when what the process ends up with is below it. Returns the soft limit in force.
pub fn ensure(needed: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < needed && limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: needed.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own; lowering nothing, raising within hard.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = raised.rlim_cur;
        }
    }
    if limit.rlim_cur < needed {
        tracing::warn!(
            open_files_limit = limit.rlim_cur,
            needed,
            "the open-file limit is below what the connection limits need: connections past it \
             are refused; raise it (ulimit -n, LimitNOFILE= in systemd), see tuning.md"
        );
    }
    Some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_need_grows_with_the_cores() {
        assert!(needed_fds(2) > needed_fds(1));
        assert_eq!(
            needed_fds(2) - needed_fds(1),
            (CONNECTIONS_PER_CORE_MAX + GRPC_CONNECTIONS_PER_CORE_MAX) as u64
        );
    }

    #[test]
    fn a_satisfied_need_keeps_the_limit() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(ensure(limit.rlim_cur), Some(limit.rlim_cur));
    }
}
