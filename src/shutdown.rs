//! Stop signals. The daemon's stop order lives in `app`: a signal cancels the
//! sources only; when they have returned, the lanes close, batchers flush their last
//! batch, writers drain and commit, and a deadline bounds the whole sequence.

/// Waits for SIGINT (Ctrl-C) or SIGTERM and returns which arrived.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Clean-up registered by what a command starts outside itself (a throwaway database
/// server, a child process), run by [`exit_on_signal`]: a process ending on a signal
/// runs no `Drop`, and a server it started would be left running.
static ON_ABORT: std::sync::Mutex<Vec<(u64, AbortWork)>> = std::sync::Mutex::new(Vec::new());
static NEXT_ABORT_KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

type AbortWork = Box<dyn FnOnce() + Send>;

/// Registered clean-up; dropping it forgets the work (done in order, or not needed).
#[must_use = "the work is forgotten when the guard is dropped"]
pub struct AbortGuard(u64);

impl Drop for AbortGuard {
    fn drop(&mut self) {
        abort_work().retain(|(key, _)| *key != self.0);
    }
}

fn abort_work() -> std::sync::MutexGuard<'static, Vec<(u64, AbortWork)>> {
    ON_ABORT.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Registers `work` to run if the process exits on a signal through [`exit_on_signal`]
/// while the guard lives.
pub fn on_abort(work: impl FnOnce() + Send + 'static) -> AbortGuard {
    let key = NEXT_ABORT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    abort_work().push((key, Box::new(work)));
    AbortGuard(key)
}

/// Registers SIGKILL of a child process (`pid`), for [`exit_on_signal`].
pub fn kill_on_abort(pid: u32) -> AbortGuard {
    on_abort(move || {
        // SAFETY: kill(2) on a child process of ours that the guard's owner has not
        // reaped yet; no memory is touched.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    })
}

/// Runs the registered clean-up, newest first; returns how much there was.
pub fn run_abort_work() -> usize {
    let work = std::mem::take(&mut *abort_work());
    let count = work.len();
    for (_, work) in work.into_iter().rev() {
        work();
    }
    count
}

/// For a command that starts servers of its own (the bench, the import bench): on
/// SIGINT or SIGTERM, runs the registered clean-up and exits (130 or 143).
pub async fn exit_on_signal(command: &'static str) {
    let name = signal().await;
    eprintln!("\n{name} received: stopping what {command} started…");
    let done = run_abort_work();
    eprintln!("{command}: {done} clean-up step(s) done (throwaway servers, child processes, directories); exiting");
    std::process::exit(if name == "SIGTERM" { 143 } else { 130 });
}
