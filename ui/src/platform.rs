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

/// How the kiosk's panel is mounted: the screen's content is turned by this many degrees
/// clockwise (a portrait kiosk on a landscape panel: 90 or 270).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rotation {
    #[default]
    Deg0,
    Deg90,
    Deg180,
    Deg270,
}

impl Rotation {
    /// 0, 90, 180 or 270; anything else is no rotation a panel can have.
    pub fn from_degrees(degrees: u32) -> Option<Rotation> {
        match degrees {
            0 => Some(Rotation::Deg0),
            90 => Some(Rotation::Deg90),
            180 => Some(Rotation::Deg180),
            270 => Some(Rotation::Deg270),
            _ => None,
        }
    }

    pub fn degrees(self) -> u32 {
        match self {
            Rotation::Deg0 => 0,
            Rotation::Deg90 => 90,
            Rotation::Deg180 => 180,
            Rotation::Deg270 => 270,
        }
    }
}

/// The kiosk's own screen (kiosk.toml `[display]`): how it is mounted and how its touch panel
/// maps onto it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScreenSetup {
    pub rotation: Rotation,
    /// libinput's calibration matrix `[a, b, c, d, e, f]` (x' = a·x + b·y + c and
    /// y' = d·x + e·y + f, in units of the panel's width and height) for every touch device;
    /// none: the device's own (udev `LIBINPUT_CALIBRATION_MATRIX`, or identity).
    pub touch_calibration: Option<[f32; 6]>,
}

/// Whoever fills `touch_calibration` keeps NaN out of it (kiosk.toml is checked so).
impl Eq for ScreenSetup {}

/// Where the kernel offers DRM/KMS devices.
#[cfg(feature = "kms")]
pub(crate) const DRI_DIR: &str = "/dev/dri";

/// The DRM cards this machine offers (`/dev/dri/card*`), so a kiosk without one can say so
/// before slint tries (and fails less clearly).
#[cfg(feature = "kms")]
pub(crate) fn drm_cards(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut cards: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("card")))
        .map(|e| e.path())
        .collect();
    cards.sort();
    cards
}

/// Sets slint's linuxkms platform on this thread: the software renderer on the first DRM
/// output, rotated as mounted, touch from libinput (seat0, opened directly: the kiosk's user is
/// in the `video` and `input` groups, there is no seat manager), calibrated as configured.
#[cfg(feature = "kms")]
pub(crate) fn install_kms(setup: &ScreenSetup) -> Result<(), PlatformError> {
    // linuxkms reads the rotation from its environment when it creates the window. Called
    // before the kiosk starts any worker thread, so no other thread reads the environment.
    std::env::set_var("SLINT_KMS_ROTATION", setup.rotation.degrees().to_string());
    let mut builder = i_slint_backend_linuxkms::BackendBuilder::default().with_renderer_name("software".into());
    if let Some(matrix) = setup.touch_calibration {
        builder = builder.with_libinput_event_hook(Box::new(move |event| {
            calibrate(event, matrix);
            // the event goes on to slint as well
            false
        }));
    }
    slint::platform::set_platform(Box::new(builder.build()?))
        .map_err(|e| PlatformError::Other(format!("slint platform: {e}")))
}

/// Applies the calibration to a touch device as libinput announces it.
#[cfg(feature = "kms")]
fn calibrate(event: &input::Event, matrix: [f32; 6]) {
    use input::event::{DeviceEvent, EventTrait};
    use input::DeviceCapability;
    let input::Event::Device(DeviceEvent::Added(added)) = event else { return };
    let mut device = added.device();
    if !device.has_capability(DeviceCapability::Touch) {
        return;
    }
    if !device.config_calibration_has_matrix() {
        log::warn!("touch device {:?} takes no calibration matrix; display.touch_calibration ignored", device.name());
        return;
    }
    if let Err(e) = device.config_calibration_set_matrix(matrix) {
        log::error!("touch device {:?}: calibration {matrix:?} refused: {e:?}", device.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panel_turns_by_quarter_turns_only() {
        for deg in [0, 90, 180, 270] {
            assert_eq!(Rotation::from_degrees(deg).map(Rotation::degrees), Some(deg));
        }
        for deg in [45, 360, 1] {
            assert_eq!(Rotation::from_degrees(deg), None);
        }
    }

    /// Render nodes (`renderD*`) cannot show a picture: only `card*` counts as a screen.
    #[cfg(feature = "kms")]
    #[test]
    fn only_drm_cards_count_as_a_screen() {
        let dir = tempfile::tempdir().unwrap();
        assert!(drm_cards(&dir.path().join("missing")).is_empty());
        std::fs::write(dir.path().join("renderD128"), "").unwrap();
        assert!(drm_cards(dir.path()).is_empty());
        for name in ["card1", "card0"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(drm_cards(dir.path()), vec![dir.path().join("card0"), dir.path().join("card1")]);
    }
}
