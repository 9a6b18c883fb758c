//! Signals: SIGINT/SIGTERM as a flag the long-running loops poll, so an interrupted
//! job can leave things tidy (a resumable partial file and journal, or no file at
//! all; a second signal exits at once); and SIGPIPE, which Rust ignores, restored
//! when our reader goes away so that we end as gzip does.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // Second signal: the user insists. Only async-signal-safe calls here.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handlers (idempotent).
pub(crate) fn install() {
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

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Our stdout's reader went away (`gzfleet -dc f.gz | head`): end as gzip does, killed
/// by SIGPIPE, without a message. The exit status (141 in a shell) tells scripts the
/// output was cut short.
pub(crate) fn die_of_sigpipe() -> ! {
    // SAFETY: restoring the default action and raising a signal at ourselves; nothing
    // runs after it but the default action, which ends the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}
