//! The daemon as a child process (`hypertick run --config FILE`), for the tests that
//! SIGKILL it: the spool crash tests and the bus fault test.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// `hypertick run --config FILE` as a child process; stderr appended to `<config>.log`.
pub struct DaemonProcess {
    child: Child,
    config: PathBuf,
}

impl DaemonProcess {
    /// Starts it and waits until `ready` (its push or metrics listener) accepts connections.
    pub fn start(config: &Path, ready: SocketAddr) -> DaemonProcess {
        let log_path = config.with_extension("log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hypertick"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hypertick run");
        let mut process = DaemonProcess { child, config: config.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(ready).is_err() {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("hypertick run exited at start ({status}); {} ends with:\n{}", log_path.display(), tail(&log_path));
            }
            assert!(
                Instant::now() < deadline,
                "no listener on {ready} within 60 s; {} ends with:\n{}",
                log_path.display(),
                tail(&log_path)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }

    /// SIGKILL, and the same configuration started again.
    pub fn kill_and_restart(&mut self, ready: SocketAddr, pause: Duration) {
        self.kill();
        std::thread::sleep(pause);
        let restarted = DaemonProcess::start(&self.config, ready);
        *self = restarted;
    }

    /// SIGKILL (a later `start` with `config()` replaces the process).
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGSTOP: frozen, it takes and answers nothing until [`DaemonProcess::resume`].
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`DaemonProcess::pause`].
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, not reaped yet; it touches no memory of ours.
        #[allow(unsafe_code)]
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "signal {signal} to the daemon");
    }

    pub fn config(&self) -> &Path {
        &self.config
    }

    /// SIGTERM; returns how it exited (a clean stop exits 0).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        crate::support::terminate(&self.child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("reap");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> PathBuf {
        self.config.with_extension("log")
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log, for failure messages (the temporary directory is removed
/// when the test panics).
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The configuration file of a daemon child process on a spool with `ack = "durable"`
/// against a throwaway cluster (vanilla profile, quick reconnects), with the push server
/// on `push`, metrics on `metrics` (or off), and each test's own lines per section.
#[derive(Debug, Default)]
pub struct SpoolDaemonConfig<'a> {
    pub metrics: Option<SocketAddr>,
    pub database_extra: &'a str,
    pub server_extra: &'a str,
    pub spool_extra: &'a str,
    /// Whole sections after the others (`[health]`, `[[custom_tables]]`, …).
    pub sections: &'a str,
}

impl SpoolDaemonConfig<'_> {
    /// Writes `<dir>/hypertick.toml` (the spool in `<dir>/spool`) and returns its path.
    pub fn write(&self, dir: &Path, database_url: &str, push: SocketAddr) -> PathBuf {
        let metrics = match self.metrics {
            Some(listen) => format!("enabled = true\nlisten = \"{listen}\""),
            None => "enabled = false".to_string(),
        };
        let text = format!(
            "[database]\nurl = \"{database_url}\"\nretry_initial_backoff_ms = 50\nretry_max_backoff_ms = 500\n{}\n\n\
             [server]\nlisten = \"{push}\"\nack = \"durable\"\n{}\n\n\
             [metrics]\n{metrics}\n\n\
             [spool]\ndir = \"{}\"\nfsync_interval_ms = 5\n{}\n\n\
             [schema]\nprofile = \"vanilla\"\n\n{}\n",
            self.database_extra,
            self.server_extra,
            dir.join("spool").display(),
            self.spool_extra,
            self.sections,
        );
        let path = dir.join("hypertick.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}
