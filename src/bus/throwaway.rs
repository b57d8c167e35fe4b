//! A temporary NATS server with JetStream, for the tests, the benchmark and the demo.
//!
//! `nats-server -js` runs as a child process on a free loopback port, with its
//! JetStream store and its log in a temporary directory. It can be killed (SIGKILL),
//! stopped (SIGTERM) and started again on the same port and store, so fault tests can
//! take the bus away and bring it back with its streams. Dropping it kills the server
//! and removes the directory. Only servers started here are ever signalled here.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before it is reported as failed (a JetStream store with
/// many messages is recovered before the server reports healthy).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SIGTERM may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a throwaway NATS server could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    #[error(
        "no nats-server binary found (looked at $HYPERTICK_NATS_SERVER, $PATH and /usr/sbin/nats-server); \
         install it, e.g. `apt-get install nats-server` on Debian"
    )]
    NoBinary,
    #[error("I/O error while {step}: {source}")]
    Io { step: &'static str, source: std::io::Error },
    #[error("nats-server exited while starting ({status}); its log ({log}) ends with:\n{tail}")]
    Exited { status: std::process::ExitStatus, log: String, tail: String },
    #[error("nats-server was not healthy within {secs} s; its log ({log}) ends with:\n{tail}")]
    NotReady { secs: u64, log: String, tail: String },
}

/// Finds `nats-server`: `$HYPERTICK_NATS_SERVER`, then `$PATH`, then the Debian location.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HYPERTICK_NATS_SERVER").map(PathBuf::from) {
        if path.is_file() {
            return Some(path);
        }
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"));
    on_path.chain([PathBuf::from("/usr/sbin/nats-server")]).find(|path| path.is_file())
}

fn free_loopback_port() -> Result<u16, NatsServerError> {
    let step = "finding a free port";
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| NatsServerError::Io { step, source })?;
    listener.local_addr().map(|address| address.port()).map_err(|source| NatsServerError::Io { step, source })
}

pub struct ThrowawayNats {
    root: tempfile::TempDir,
    binary: PathBuf,
    port: u16,
    monitor_port: u16,
    child: Option<Child>,
    /// While the server runs: kills it if the process exits on a signal.
    abort: Option<crate::shutdown::AbortGuard>,
}

impl ThrowawayNats {
    /// Starts a server with JetStream on free loopback ports and waits until it is healthy.
    pub fn start() -> Result<ThrowawayNats, NatsServerError> {
        let binary = find_binary().ok_or(NatsServerError::NoBinary)?;
        let root = tempfile::Builder::new()
            .prefix("hypertick-nats-")
            .tempdir()
            .map_err(|source| NatsServerError::Io { step: "creating the server directory", source })?;
        let mut server =
            ThrowawayNats { root, binary, port: free_loopback_port()?, monitor_port: free_loopback_port()?, child: None, abort: None };
        server.start_again()?;
        Ok(server)
    }

    /// The client URL: `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring endpoint (`/varz`, `/jsz`, `/healthz`).
    pub fn monitor_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.monitor_port))
    }

    /// The directory holding the JetStream store and the logs.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> PathBuf {
        self.root.path().join("jetstream")
    }

    /// The server's log file (appended to across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("nats-server.log")
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the server (again) on the same ports and store; waits until it is healthy,
    /// which includes JetStream having recovered its streams. Does nothing if it runs.
    pub fn start_again(&mut self) -> Result<(), NatsServerError> {
        if self.child.is_some() {
            return Ok(());
        }
        let step = "starting nats-server";
        // What the server prints before its log file is open (a bad flag, a port in use).
        let early_output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("nats-server.out"))
            .map_err(|source| NatsServerError::Io { step, source })?;
        let early_errors = early_output.try_clone().map_err(|source| NatsServerError::Io { step, source })?;
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-m", &self.monitor_port.to_string()])
            .arg("-sd")
            .arg(self.store_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["--server_name", "hypertick-throwaway"])
            .stdin(Stdio::null())
            .stdout(early_output)
            .stderr(early_errors)
            .spawn()
            .map_err(|source| NatsServerError::Io { step, source })?;
        self.abort = Some(crate::shutdown::kill_on_abort(child.id()));
        self.child = Some(child);
        self.wait_until_healthy()
    }

    /// Polls `GET /healthz` on the monitoring port until it answers 200 (JetStream
    /// enabled and every stream current), failing early if the process exits.
    fn wait_until_healthy(&mut self) -> Result<(), NatsServerError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(NatsServerError::Exited { status, log: self.log_path().display().to_string(), tail: self.log_tail() });
                }
            }
            if healthz(self.monitor_addr()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let tail = self.log_tail();
                self.kill();
                return Err(NatsServerError::NotReady { secs: READY_TIMEOUT.as_secs(), log: self.log_path().display().to_string(), tail });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the server ends at once, without flushing anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.abort = None;
    }

    /// SIGTERM, then waits for the server to exit (killing it after 30 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid, not reaped yet; no memory is touched.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM)
            };
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    self.abort = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.abort = None;
    }

    /// A clean stop followed by a start on the same port and store.
    pub fn restart(&mut self) -> Result<(), NatsServerError> {
        self.stop();
        self.start_again()
    }

    /// The last lines of the log and of the early output, for error messages.
    fn log_tail(&self) -> String {
        let mut lines = Vec::new();
        for name in ["nats-server.out", "nats-server.log"] {
            let text = std::fs::read_to_string(self.root.path().join(name)).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            lines.extend(all[all.len().saturating_sub(15)..].iter().map(|line| line.to_string()));
        }
        lines.join("\n")
    }
}

impl Drop for ThrowawayNats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `GET /healthz` answers 200.
fn healthz(monitor: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&monitor, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        let message = NatsServerError::NoBinary.to_string();
        assert!(message.contains("apt-get install nats-server"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_survives_a_kill_and_a_clean_restart_on_the_same_port() {
        let mut server = tokio::task::block_in_place(ThrowawayNats::start).expect("a throwaway nats-server (.ci/run installs it)");
        let url = server.url();
        assert!(url.starts_with("nats://127.0.0.1:"), "{url}");

        let publish = |body: &'static str| {
            let url = url.clone();
            async move {
                let client = async_nats::connect(&url).await.expect("connect");
                let jetstream = async_nats::jetstream::new(client);
                jetstream
                    .get_or_create_stream(async_nats::jetstream::stream::Config {
                        name: "THROWAWAY".into(),
                        subjects: vec!["throwaway.>".into()],
                        ..Default::default()
                    })
                    .await
                    .expect("create the stream");
                let ack = jetstream.publish("throwaway.one", body.into()).await.expect("publish").await.expect("the stream's ack");
                ack.sequence
            }
        };
        assert_eq!(publish("before the kill").await, 1);

        // SIGKILL: an acked message is in the store. JetStream writes it to its files
        // before acking (and syncs them to disk every 2 minutes by default); what is
        // written survives the end of the process.
        tokio::task::block_in_place(|| {
            server.kill();
            assert!(!server.is_running());
            server.start_again()
        })
        .expect("start again after SIGKILL");
        assert_eq!(publish("after the kill").await, 2, "the stream kept its first message");

        tokio::task::block_in_place(|| server.restart()).expect("restart after SIGTERM");
        let client = async_nats::connect(server.url()).await.expect("connect after the restart");
        let jetstream = async_nats::jetstream::new(client);
        let mut stream = jetstream.get_stream("THROWAWAY").await.expect("the stream is still there");
        assert_eq!(stream.info().await.expect("stream info").state.messages, 2);
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config { durable_name: Some("check".into()), ..Default::default() })
            .await
            .expect("a pull consumer");
        let mut messages = consumer.fetch().max_messages(2).messages().await.expect("fetch");
        let mut bodies = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.expect("a message");
            bodies.push(String::from_utf8_lossy(&message.payload).to_string());
            message.ack().await.expect("ack");
        }
        assert_eq!(bodies, ["before the kill", "after the kill"]);

        let store = server.store_dir();
        let root = server.path().to_path_buf();
        assert!(store.is_dir(), "{}", store.display());
        drop(server);
        assert!(!root.exists(), "the directory is removed on drop");
    }
}
