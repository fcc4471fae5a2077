//! What the process does first, before it can hold a PIN: no core dumps, no ptrace or
//! /proc/<pid>/mem by other processes of the same user, and its memory locked out of swap.
//!
//! A resident's PIN passes through this process (the pad's buffer, the VERIFY command). A core
//! file or a swap partition would keep a copy on disk after the buffers are wiped, and a
//! dumpable process lets any process of the same user read its memory. All three calls go
//! through nix's safe wrappers; nothing here needs `unsafe`.

use nix::sys::mman::{mlockall, MlockAllFlags};
use nix::sys::prctl;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// `MCL_ONFAULT` (Linux 4.4): lock each page as it is first touched, rather than populating the
/// whole address space at once (nix 0.31 has no name for it).
const MCL_ONFAULT: i32 = 4;

/// What [`harden`] achieved; each failure is the system's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// `PR_SET_DUMPABLE 0`: no core dump, no ptrace attach or /proc/<pid>/mem by other
    /// processes of the user.
    pub not_dumpable: Result<(), String>,
    /// `RLIMIT_CORE 0` (soft and hard): no core file even if something makes the process
    /// dumpable again (an exec of a set-id program does).
    pub no_core_files: Result<(), String>,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`: no page, and so no PIN buffer, is
    /// ever written to swap. Needs `CAP_IPC_LOCK` or a large enough `RLIMIT_MEMLOCK` (the
    /// kiosk's service unit sets `LimitMEMLOCK=infinity`).
    pub memory_locked: Result<(), String>,
}

impl Hardening {
    /// Every step held.
    pub fn complete(&self) -> bool {
        self.not_dumpable.is_ok() && self.no_core_files.is_ok() && self.memory_locked.is_ok()
    }

    /// Logs each step that failed (an error: the kiosk runs, but the operator must fix it).
    pub fn log(&self) {
        for (what, r) in [
            ("PR_SET_DUMPABLE 0", &self.not_dumpable),
            ("RLIMIT_CORE 0", &self.no_core_files),
            ("mlockall", &self.memory_locked),
        ] {
            match r {
                Ok(()) => log::info!("hardening: {what}"),
                Err(e) => log::error!("hardening: {what} failed: {e}; secrets in memory are less protected"),
            }
        }
    }
}

/// Makes this process undumpable, forbids core files and locks its memory. Call it first in
/// `main`, before any thread starts (`MCL_FUTURE` then covers every stack and heap page to come).
pub fn harden() -> Hardening {
    let not_dumpable = prctl::set_dumpable(false).map_err(|e| e.to_string());
    let no_core_files = setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| e.to_string());
    let flags = MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE | MlockAllFlags::from_bits_retain(MCL_ONFAULT);
    let memory_locked = match mlockall(flags) {
        // Kernels before 4.4 know no MCL_ONFAULT: lock everything now instead.
        Err(nix::errno::Errno::EINVAL) => mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE),
        other => other,
    }
    .map_err(|e| e.to_string());
    Hardening { not_dumpable, no_core_files, memory_locked }
}

/// What the process looks like now, read back from the kernel (for tests and `--check`).
pub fn state() -> (Option<bool>, Option<(u64, u64)>, Option<u64>) {
    let dumpable = prctl::get_dumpable().ok();
    let core = getrlimit(Resource::RLIMIT_CORE).ok();
    let locked_kb = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmLck:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
    });
    (dumpable, core, locked_kb)
}
