//! A throwaway PostgreSQL cluster from the machine's server binaries, for the demo and
//! the tests: `initdb` into a temporary directory, `pg_ctl start` on a free loopback
//! port, and stop + remove on drop. `initdb` refuses to run as root, so when the
//! effective uid is 0 every server binary runs as the `postgres` system user through
//! `runuser`. Only clusters started here are ever stopped here.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Why a throwaway cluster could not be made or driven.
#[derive(Debug, thiserror::Error)]
pub enum ThrowawayError {
    #[error(
        "no PostgreSQL server binaries found (looked at $HYPERTICK_PG_BINDIR, `pg_config --bindir` \
         and /usr/lib/postgresql/*/bin); install them, e.g. `apt-get install postgresql`"
    )]
    NoBinaries,
    #[error("{step} failed: {detail}")]
    Step { step: &'static str, detail: String },
    #[error("I/O error while {step}: {source}")]
    Io { step: &'static str, source: std::io::Error },
}

/// How a cluster is stopped.
#[derive(Debug, Clone, Copy)]
pub enum StopMode {
    /// Clean shutdown (`pg_ctl stop -m fast`).
    Fast,
    /// Crash-like stop (`-m immediate`): no checkpoint, recovery on next start.
    Immediate,
}

/// Settings for a new cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `fsync = off` makes tests faster and stays safe against a server crash (not
    /// against an OS crash); commits stay synchronous. The demo keeps durable defaults.
    pub fsync: bool,
    /// Extra `-c name=value` server settings.
    pub settings: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions { fsync: true, settings: Vec::new() }
    }
}

/// The background workers a TimescaleDB cluster gets: the policies' jobs (one
/// columnstore, retention and refresh job per table and aggregate) run in them.
pub const TIMESCALEDB_WORKERS: u32 = 32;

impl ClusterOptions {
    /// The settings a server needs to run TimescaleDB: the library preloaded, enough
    /// background workers for the policies' jobs, and no telemetry (no network here).
    pub fn with_timescaledb(mut self) -> Self {
        let workers = TIMESCALEDB_WORKERS.to_string();
        let background = (TIMESCALEDB_WORKERS - 8).to_string();
        for (name, value) in [
            ("shared_preload_libraries", "timescaledb"),
            ("max_worker_processes", workers.as_str()),
            ("timescaledb.max_background_workers", background.as_str()),
            ("timescaledb.telemetry_level", "off"),
        ] {
            self.settings.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Whether these options preload TimescaleDB.
    pub fn preloads_timescaledb(&self) -> bool {
        self.settings.iter().any(|(name, value)| name == "shared_preload_libraries" && value.contains("timescaledb"))
    }
}

/// Whether the machine's PostgreSQL server (the one [`find_bindir`] finds) has the
/// TimescaleDB extension installed: its library in the server's `lib` directory and
/// its control file in the server's `share/extension` directory.
pub fn timescaledb_installed() -> bool {
    let Some(bindir) = find_bindir() else { return false };
    let pg_config = |flag: &str| -> Option<PathBuf> {
        let output = Command::new(bindir.join("pg_config")).arg(flag).output().ok()?;
        output.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
    };
    // Debian keeps a server's files under /usr/lib/postgresql/<v>/{bin,lib} and
    // /usr/share/postgresql/<v>/; pg_config beside the server says so where it exists.
    let version = bindir.parent().and_then(|dir| dir.file_name()).map(|name| name.to_string_lossy().into_owned());
    let libdir = pg_config("--pkglibdir").or_else(|| bindir.parent().map(|dir| dir.join("lib")));
    let sharedir = pg_config("--sharedir").or_else(|| version.map(|v| PathBuf::from(format!("/usr/share/postgresql/{v}"))));
    match (libdir, sharedir) {
        (Some(lib), Some(share)) => lib.join("timescaledb.so").is_file() && share.join("extension/timescaledb.control").is_file(),
        _ => false,
    }
}

pub struct ThrowawayCluster {
    root: Option<tempfile::TempDir>,
    root_path: PathBuf,
    bindir: PathBuf,
    port: u16,
    as_postgres_user: bool,
    options: ClusterOptions,
    running: bool,
    /// While the server runs: stops it if the process exits on a signal
    /// ([`crate::shutdown::exit_on_signal`]), when this value is never dropped.
    abort: Option<crate::shutdown::AbortGuard>,
}

/// Finds the directory holding `initdb` and `pg_ctl`.
pub fn find_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(dir) = std::env::var("HYPERTICK_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        if has_server(&dir) {
            return Some(dir);
        }
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// Ports tried before a cluster's first start gives up on finding a free one.
const PORT_ATTEMPTS: u32 = 5;

fn free_loopback_port() -> Result<u16, ThrowawayError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| ThrowawayError::Io { step: "finding a free port", source })?;
    listener.local_addr().map(|address| address.port()).map_err(|source| ThrowawayError::Io { step: "finding a free port", source })
}

impl ThrowawayCluster {
    /// Creates and starts a cluster with database `hypertick`.
    pub fn start(options: ClusterOptions) -> Result<Self, ThrowawayError> {
        Self::start_with_files(options, &[])
    }

    /// As `start`, with files written into the data directory (readable by the
    /// server only, mode 0600) before the server first starts: e.g. `server.crt` and
    /// `server.key` for `ssl_cert_file` / `ssl_key_file`, which are relative to it.
    pub fn start_with_files(options: ClusterOptions, files: &[(&str, &[u8])]) -> Result<Self, ThrowawayError> {
        Self::start_on(options, files, free_loopback_port()?)
    }

    /// As `start_with_files`, trying `port` first.
    fn start_on(options: ClusterOptions, files: &[(&str, &[u8])], port: u16) -> Result<Self, ThrowawayError> {
        let bindir = find_bindir().ok_or(ThrowawayError::NoBinaries)?;
        let root = tempfile::Builder::new()
            .prefix("hypertick-pg-")
            .tempdir()
            .map_err(|source| ThrowawayError::Io { step: "creating the cluster directory", source })?;
        // SAFETY: geteuid cannot fail and touches no memory of ours.
        #[allow(unsafe_code)]
        let as_postgres_user = unsafe { libc::geteuid() } == 0;
        let mut cluster = ThrowawayCluster {
            root_path: root.path().to_path_buf(),
            root: Some(root),
            bindir,
            port,
            as_postgres_user,
            options,
            running: false,
            abort: None,
        };
        if as_postgres_user {
            let chown = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&cluster.root_path)
                .output()
                .map_err(|source| ThrowawayError::Io { step: "chown of the cluster directory", source })?;
            check("chown of the cluster directory", chown)?;
        }
        let data = cluster.data_dir();
        let initdb = cluster
            .server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
            .output()
            .map_err(|source| ThrowawayError::Io { step: "running initdb", source })?;
        check("initdb", initdb)?;
        for (name, contents) in files {
            cluster.write_data_file(name, contents)?;
        }
        // The port was free when it was picked, but another process (a test running
        // beside this one, a connection's ephemeral port) can take it before the server
        // binds it: then another port is picked, a few times.
        let mut port_attempts = 1;
        while let Err(error) = cluster.start_server() {
            if port_attempts == PORT_ATTEMPTS || !cluster.port_was_taken() {
                return Err(error);
            }
            port_attempts += 1;
            let _ = std::fs::remove_file(cluster.root_path.join("server.log"));
            cluster.port = free_loopback_port()?;
        }
        let createdb = cluster
            .server_command("createdb")
            .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "hypertick"])
            .output()
            .map_err(|source| ThrowawayError::Io { step: "running createdb", source })?;
        check("createdb", createdb)?;
        Ok(cluster)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root_path.join("data")
    }

    fn write_data_file(&self, name: &str, contents: &[u8]) -> Result<(), ThrowawayError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let step = "writing a file into the data directory";
        let path = self.data_dir().join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| ThrowawayError::Io { step, source })?;
        file.write_all(contents).map_err(|source| ThrowawayError::Io { step, source })?;
        if self.as_postgres_user {
            let chown =
                Command::new("chown").arg("postgres:postgres").arg(&path).output().map_err(|source| ThrowawayError::Io { step, source })?;
            check("chown of a data directory file", chown)?;
        }
        Ok(())
    }

    fn server_command(&self, program: &str) -> Command {
        server_command(&self.bindir, self.as_postgres_user, program)
    }

    /// Starts the server (again) on the same port and data directory.
    pub fn start_server(&mut self) -> Result<(), ThrowawayError> {
        let mut server_options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200", self.port, self.root_path.display());
        if !self.options.fsync {
            server_options.push_str(" -c fsync=off -c full_page_writes=off");
        }
        for (name, value) in &self.options.settings {
            server_options.push_str(&format!(" -c {name}={value}"));
        }
        let output = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root_path.join("server.log"))
            .args(["-o", &server_options, "-w", "-t", "60", "start"])
            .output()
            .map_err(|source| ThrowawayError::Io { step: "running pg_ctl start", source })?;
        check("pg_ctl start", output).map_err(|error| self.with_server_log(error))?;
        self.running = true;
        let (bindir, root, as_postgres_user) = (self.bindir.clone(), self.root_path.clone(), self.as_postgres_user);
        self.abort = Some(crate::shutdown::on_abort(move || stop_abandoned(&bindir, &root, as_postgres_user)));
        Ok(())
    }

    /// Whether the server's log says its port was in use.
    fn port_was_taken(&self) -> bool {
        std::fs::read_to_string(self.root_path.join("server.log")).is_ok_and(|log| log.contains("Address already in use"))
    }

    /// Stops the server, keeping its data for a later `start_server`.
    pub fn stop_server(&mut self, mode: StopMode) -> Result<(), ThrowawayError> {
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        let output = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", "60", "stop"])
            .output()
            .map_err(|source| ThrowawayError::Io { step: "running pg_ctl stop", source })?;
        self.running = false;
        self.abort = None;
        check("pg_ctl stop", output)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for a database of this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, database)
    }

    /// The directory holding the data, logs and socket.
    pub fn path(&self) -> &Path {
        &self.root_path
    }

    /// Leaves the cluster running and its files in place after this value is dropped.
    /// Returns the command that stops it.
    pub fn keep(mut self) -> String {
        if let Some(root) = self.root.take() {
            let _ = root.keep();
        }
        let user = if self.as_postgres_user { "runuser -u postgres -- " } else { "" };
        let command = format!(
            "{user}{} -D {} stop && rm -rf {}",
            self.bindir.join("pg_ctl").display(),
            self.data_dir().display(),
            self.root_path.display()
        );
        self.running = false;
        command
    }

    fn with_server_log(&self, error: ThrowawayError) -> ThrowawayError {
        let log = std::fs::read_to_string(self.root_path.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        match error {
            ThrowawayError::Step { step, detail } => {
                ThrowawayError::Step { step, detail: format!("{detail}\nserver log (last lines, newest first):\n{}", tail.join("\n")) }
            }
            other => other,
        }
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop_server(StopMode::Immediate);
        }
    }
}

fn server_command(bindir: &Path, as_postgres_user: bool, program: &str) -> Command {
    let binary = bindir.join(program);
    if as_postgres_user {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

/// Stops a cluster's server at once and removes its directory, from outside its
/// [`ThrowawayCluster`] (which a process exiting on a signal does not drop). A server
/// paused with SIGSTOP (the bench's database stall) is resumed first, or it could not stop.
fn stop_abandoned(bindir: &Path, root: &Path, as_postgres_user: bool) {
    let data = root.join("data");
    let postmaster =
        std::fs::read_to_string(data.join("postmaster.pid")).ok().and_then(|text| text.lines().next()?.trim().parse::<libc::pid_t>().ok());
    if let Some(postmaster) = postmaster {
        for pid in std::iter::once(postmaster).chain(children_of(postmaster)) {
            // SAFETY: kill(2) with SIGCONT on a server process of ours; no memory is touched.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGCONT);
            }
        }
    }
    let _ = server_command(bindir, as_postgres_user, "pg_ctl")
        .arg("-D")
        .arg(&data)
        .args(["-m", "immediate", "-w", "-t", "30", "stop"])
        .output();
    let _ = std::fs::remove_dir_all(root);
}

/// The processes whose parent is `parent` (from `/proc`; none where it is not mounted).
fn children_of(parent: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`: the command may hold spaces and parentheses.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse::<libc::pid_t>().ok())
                == Some(parent)
        })
        .collect()
}

fn check(step: &'static str, output: Output) -> Result<(), ThrowawayError> {
    if output.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&output.stdout).trim().to_string();
    }
    Err(ThrowawayError::Step { step, detail: format!("{} ({})", detail, output.status) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_taken_before_the_server_binds_it_is_traded_for_another() {
        assert!(find_bindir().is_some(), "this test needs PostgreSQL's server binaries (.ci/run installs them)");
        let taken = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = taken.local_addr().expect("its address").port();
        let cluster = ThrowawayCluster::start_on(ClusterOptions { fsync: false, settings: Vec::new() }, &[], port)
            .expect("the cluster starts on another port");
        // `createdb` ran against the port the server took: the server listens there.
        assert_ne!(cluster.port(), port);
        drop(taken);
    }
}
