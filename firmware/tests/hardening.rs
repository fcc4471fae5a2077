//! Start-up hardening in a process of its own (this test binary): what `harden` asks of the
//! kernel, read back from the kernel.

use madoguchi_firmware::hardening::{harden, state};

#[test]
fn harden_makes_the_process_undumpable_coreless_and_locked() {
    let (dumpable, _, _) = state();
    assert_eq!(dumpable, Some(true), "a test process starts dumpable");
    let h = harden();
    assert_eq!(h.not_dumpable, Ok(()));
    assert_eq!(h.no_core_files, Ok(()));
    let (dumpable, core, locked_kb) = state();
    assert_eq!(dumpable, Some(false));
    assert_eq!(core, Some((0, 0)));
    // Locking needs CAP_IPC_LOCK or a large RLIMIT_MEMLOCK: where it was allowed, it held.
    match &h.memory_locked {
        Ok(()) => assert!(locked_kb.is_some_and(|kb| kb > 0), "VmLck {locked_kb:?} after mlockall"),
        Err(e) => eprintln!("mlockall was not allowed here ({e}); the kiosk logs this as an error"),
    }
    assert_eq!(h.complete(), h.memory_locked.is_ok());
}
