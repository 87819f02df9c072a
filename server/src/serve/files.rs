//! The process's open-file limit, and the connection caps sized from it. Every connection holds
//! a file descriptor; the server must refuse connections before the kernel refuses it files
//! (`accept: Too many open files`), which would also stop the database and the health probe.

/// Descriptors kept free of connections: the database and its WAL and SHM files, the store's
/// reader connections, the listeners, the log, the fast 503 answers of the overflow.
pub const RESERVED_FILES: u64 = 128;
/// Connections served at once unless configured otherwise (each costs about 10 KiB of buffers
/// while idle, so 4,096 stay well within the memory budget).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Fewest connections the server will run with, whatever the limit says.
const MIN_CONNECTIONS: usize = 16;

/// Raises the soft limit on open files to the hard limit, and returns the soft limit in force
/// afterwards (`None` where it cannot be read, or there is none).
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "cannot raise the open-file limit to the hard limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Raises the soft limit on open files to the hard limit (nothing to do on this platform).
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

/// How many connections to serve at once: `requested` (0: [`DEFAULT_MAX_CONNECTIONS`]), and never
/// more than the open-file limit leaves after [`RESERVED_FILES`].
pub fn connection_cap(open_files: Option<u64>, requested: usize) -> usize {
    let wanted = if requested == 0 {
        DEFAULT_MAX_CONNECTIONS
    } else {
        requested
    };
    let room = open_files
        .map(|files| usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX))
        .unwrap_or(usize::MAX);
    wanted.min(room).max(MIN_CONNECTIONS)
}

/// How many live desk streams to hold at once: `requested` (0: a quarter of the connections),
/// never more than the connections.
pub fn stream_cap(connections: usize, requested: usize) -> usize {
    let wanted = if requested == 0 {
        connections / 4
    } else {
        requested
    };
    wanted.clamp(1, connections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_caps_stay_below_the_open_file_limit() {
        assert_eq!(connection_cap(Some(1024), 0), 1024 - 128);
        assert_eq!(connection_cap(Some(1_048_576), 0), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(connection_cap(Some(1_048_576), 50_000), 50_000);
        assert_eq!(connection_cap(Some(2_000), 50_000), 2_000 - 128);
        assert_eq!(connection_cap(None, 0), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(connection_cap(Some(10), 0), MIN_CONNECTIONS);
        assert_eq!(stream_cap(4096, 0), 1024);
        assert_eq!(stream_cap(100, 500), 100);
    }

    #[cfg(unix)]
    #[test]
    fn test_the_soft_limit_is_raised_to_the_hard_limit() {
        let after = raise_open_file_limit();
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(after, limit.current);
        assert_eq!(limit.current, limit.maximum);
    }
}
