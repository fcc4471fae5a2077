//! A headless slint platform: every window is a `MinimalSoftwareWindow` drawn into memory by
//! the software renderer (~1 ms a frame, no display, no GPU). slint's platform is per thread;
//! [`install`] sets it on the calling thread if no platform is set yet.

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::PlatformError;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

thread_local! {
    static LAST_WINDOW: RefCell<Option<Rc<MinimalSoftwareWindow>>> = const { RefCell::new(None) };
}

struct Headless {
    start: Instant,
}

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        LAST_WINDOW.with(|w| *w.borrow_mut() = Some(window.clone()));
        Ok(window)
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Sets the headless platform on this thread unless one is set already.
pub(crate) fn install() {
    // AlreadySet: this thread has a platform (ours from an earlier Ui, or another one, which
    // `take_last_window` then reports)
    let _ = slint::platform::set_platform(Box::new(Headless { start: Instant::now() }));
    LAST_WINDOW.with(|w| *w.borrow_mut() = None);
}

/// The window the headless platform created last on this thread.
pub(crate) fn take_last_window() -> Option<Rc<MinimalSoftwareWindow>> {
    LAST_WINDOW.with(|w| w.borrow_mut().take())
}
