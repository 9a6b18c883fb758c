//! SIGINT/SIGTERM as a flag the long-running loops poll, so an interrupted job can
//! leave things tidy: a resumable partial file and journal, or no file at all. A
//! second signal exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // Second signal: the user insists. Only async-signal-safe calls here.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handlers (idempotent).
pub fn install() {
    // SAFETY: the handler only touches an atomic and calls _exit, both
    // async-signal-safe; SA_RESTART keeps blocking reads and writes from failing with
    // EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
