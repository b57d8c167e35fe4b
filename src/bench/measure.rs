//! What the benchmark reads off the operating system: a process's CPU time and peak
//! resident memory (`/proc/<pid>/stat`, `/proc/<pid>/status`), the whole machine's busy
//! time (`/proc/stat`), and the processes of a PostgreSQL cluster (to pause it).

use std::path::Path;
use std::time::Instant;

/// Clock ticks per second for `/proc` CPU times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions and touches no memory of ours.
    #[allow(unsafe_code)]
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// CPU seconds (user + system) a process has used, or None when it is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / clock_ticks())
}

/// The parent of a process.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(key) && line[key.len()..].starts_with(':'))?;
    let kilobytes: u64 = line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kilobytes * 1_024)
}

/// Resets this process's peak resident set size to its current size, so a phase's peak
/// is its own (`clear_refs` value 5, Linux 4.0+). False when the kernel refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The machine's busy and total jiffies from the first line of `/proc/stat`.
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|field| field.parse().ok()).collect();
    let total: u64 = values.iter().take(8).sum();
    // idle + iowait
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU use of a set of processes over an interval, in cores (1.0 = one core busy),
/// and how busy the whole machine was.
pub struct CpuMeter {
    pids: Vec<(u32, f64)>,
    started: Instant,
    machine: (u64, u64),
}

impl CpuMeter {
    pub fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            pids: pids.iter().filter_map(|&pid| Some((pid, cpu_seconds(pid)?))).collect(),
            started: Instant::now(),
            machine: machine_jiffies().unwrap_or((0, 0)),
        }
    }

    /// Cores the processes used together since the start (those gone count until their last reading).
    pub fn cores(&self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let used: f64 = self.pids.iter().filter_map(|(pid, before)| Some(cpu_seconds(*pid)? - before)).sum();
        used / seconds
    }

    /// How busy the whole machine was since the start, 0..=1.
    pub fn machine_busy(&self) -> f64 {
        let (busy, total) = machine_jiffies().unwrap_or(self.machine);
        if total > self.machine.1 {
            busy.saturating_sub(self.machine.0) as f64 / (total - self.machine.1) as f64
        } else {
            0.0
        }
    }
}

/// The processes of the PostgreSQL cluster whose data directory is `data_dir`: the
/// postmaster (first line of `postmaster.pid`) and its children.
pub fn cluster_processes(data_dir: &Path) -> Vec<u32> {
    let Some(postmaster) =
        std::fs::read_to_string(data_dir.join("postmaster.pid")).ok().and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let mut processes = vec![postmaster];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.filter_map(Result::ok) {
            if let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) {
                if parent_of(pid) == Some(postmaster) {
                    processes.push(pid);
                }
            }
        }
    }
    processes
}

/// Sends `signal` to every process in `pids`.
pub fn signal_all(pids: &[u32], signal: libc::c_int) {
    for &pid in pids {
        // SAFETY: kill has no memory preconditions; a stale pid yields ESRCH.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 30 {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        assert!(cpu_seconds(pid).is_some_and(|seconds| seconds > 0.0));
        let rss = status_bytes(pid, "VmRSS").expect("VmRSS");
        let peak = status_bytes(pid, "VmHWM").expect("VmHWM");
        assert!(rss > 1_000_000 && peak >= rss, "rss {rss} peak {peak}");
        assert_eq!(status_bytes(pid, "NoSuchKey"), None);
    }
}
