//! Finding and touching controls as a finger would (feature `testing`): by action id or label,
//! through slint's element queries. Tests, the demo and the screenshot gallery use it; the kiosk
//! in a store does not link it.

use crate::Ui;
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition};

/// A control as a finger would find it: its box in logical pixels of the current window size
/// (see [`Ui::scale_factor`]), whether it is enabled, and its accessible label.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// The action id.
    pub action: String,
    /// Left edge, logical px.
    pub x: f32,
    /// Top edge, logical px.
    pub y: f32,
    /// Width, logical px.
    pub width: f32,
    /// Height, logical px.
    pub height: f32,
    /// Can be touched.
    pub enabled: bool,
    /// The accessible label in the current language.
    pub label: String,
}

/// A text on the screen and its box in logical pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    /// The text as shown.
    pub text: String,
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// Why [`Ui::touch`] could not touch a control.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotTouchable {
    /// No visible control on this screen has that action id.
    #[error("no control with action id {0:?} on this screen")]
    NotFound(String),
    /// The control is shown but disabled.
    #[error("control {0:?} is disabled")]
    Disabled(String),
    /// The control lies (partly) outside the window.
    #[error("control {0:?} is outside the window")]
    OutsideWindow(String),
    /// Pressing at the control's centre did not report its action (something covers it).
    #[error("touching {0:?} did not report it")]
    NotReported(String),
}

impl Ui {
    fn controls(&self) -> Vec<ElementHandle> {
        ElementQuery::from_root(&self.window)
            .match_predicate(|e| e.accessible_id().is_some_and(|id| !id.is_empty()))
            .find_all()
    }

    fn describe(&self, e: &ElementHandle) -> Option<Control> {
        let action = e.accessible_id()?.to_string();
        if action.is_empty() || e.computed_opacity() <= 0.0 {
            return None;
        }
        let pos = e.absolute_position();
        let size = e.size();
        if size.width <= 0.0 || size.height <= 0.0 {
            return None;
        }
        Some(Control {
            action,
            x: pos.x,
            y: pos.y,
            width: size.width,
            height: size.height,
            enabled: e.accessible_enabled().unwrap_or(true),
            label: e.accessible_label().map(|s| s.to_string()).unwrap_or_default(),
        })
    }

    /// Every visible control of the screen shown, in tree order.
    pub fn controls_shown(&self) -> Vec<Control> {
        self.controls().iter().filter_map(|e| self.describe(e)).collect()
    }

    /// The visible control with this action id on the screen shown.
    pub fn find_action(&self, action_id: &str) -> Option<Control> {
        self.elements_with(action_id).iter().find_map(|e| self.describe(e))
    }

    /// The elements whose action id is `action_id` (the id held, while the query lives, in a
    /// buffer wiped afterwards: it may name a PIN key).
    fn elements_with(&self, action_id: &str) -> Vec<ElementHandle> {
        let id = zeroize::Zeroizing::new(action_id.to_owned());
        ElementQuery::from_root(&self.window)
            .match_predicate(move |e| e.accessible_id().is_some_and(|a| a == id.as_str()))
            .find_all()
    }

    /// Where a finger touches the visible control `action_id`, whether it is enabled, and
    /// whether it lies inside the window, without a copy of its id or label ([`Ui::touch`]).
    fn target(&self, action_id: &str) -> Option<(LogicalPosition, bool, bool)> {
        let (w, h) = self.logical_size();
        self.elements_with(action_id).iter().find_map(|e| {
            let (pos, size) = (e.absolute_position(), e.size());
            if e.computed_opacity() <= 0.0 || size.width <= 0.0 || size.height <= 0.0 {
                return None;
            }
            let eps = 0.5;
            let inside =
                pos.x >= -eps && pos.y >= -eps && pos.x + size.width <= w + eps && pos.y + size.height <= h + eps;
            let centre = LogicalPosition::new(pos.x + size.width / 2.0, pos.y + size.height / 2.0);
            Some((centre, e.accessible_enabled().unwrap_or(true), inside))
        })
    }

    /// The visible control whose accessible label (in the current language) is `label`.
    pub fn find_label(&self, label: &str) -> Option<Control> {
        self.controls_shown().into_iter().find(|c| c.label == label)
    }

    /// The window's size in logical pixels.
    pub fn logical_size(&self) -> (f32, f32) {
        let s = self.window.window().size().to_logical(self.scale_factor());
        (s.width, s.height)
    }

    /// Whether the control lies entirely inside the window.
    pub fn inside_window(&self, c: &Control) -> bool {
        let (w, h) = self.logical_size();
        let eps = 0.5;
        c.x >= -eps && c.y >= -eps && c.x + c.width <= w + eps && c.y + c.height <= h + eps
    }

    /// Touches the control with this action id as a finger would: pointer pressed and released
    /// at its centre. Fails, reporting nothing, if it is not shown, disabled, outside the window,
    /// or covered.
    pub fn touch(&self, action_id: &str) -> Result<(), NotTouchable> {
        let (position, enabled, inside) =
            self.target(action_id).ok_or_else(|| NotTouchable::NotFound(action_id.into()))?;
        if !enabled {
            return Err(NotTouchable::Disabled(action_id.into()));
        }
        if !inside {
            return Err(NotTouchable::OutsideWindow(action_id.into()));
        }
        let reported = self.press(position);
        if reported.iter().any(|a| a.as_str() == action_id) {
            Ok(())
        } else {
            Err(NotTouchable::NotReported(action_id.into()))
        }
    }

    /// Touches the point (`x`, `y`) in logical pixels, as a finger would; returns the actions it
    /// reported (none if it hit no enabled control).
    pub fn touch_at(&self, x: f32, y: f32) -> Vec<String> {
        self.press(LogicalPosition::new(x, y)).iter().map(|a| a.to_string()).collect()
    }

    /// Presses and releases the pointer at `position`; what it reported, in buffers wiped when
    /// dropped.
    fn press(&self, position: LogicalPosition) -> Vec<zeroize::Zeroizing<String>> {
        self.probed.reported.borrow_mut().clear();
        self.probed.pressing.set(true);
        let w = self.window.window();
        w.dispatch_event(WindowEvent::PointerMoved { position });
        w.dispatch_event(WindowEvent::PointerPressed { position, button: PointerEventButton::Left });
        w.dispatch_event(WindowEvent::PointerReleased { position, button: PointerEventButton::Left });
        w.dispatch_event(WindowEvent::PointerExited);
        self.settle();
        self.probed.pressing.set(false);
        std::mem::take(&mut *self.probed.reported.borrow_mut())
    }

    /// Layout defects a resident would see: a control or text (partly) outside the window, or a
    /// control's text spilling out of the control. Empty when the screen fits. Tests run it on
    /// every screen, language, size and text size.
    pub fn layout_problems(&self) -> Vec<String> {
        let (w, h) = self.logical_size();
        let eps = 1.0;
        let inside = |x: f32, y: f32, cw: f32, ch: f32, bx: f32, by: f32, bw: f32, bh: f32| {
            x >= bx - eps && y >= by - eps && x + cw <= bx + bw + eps && y + ch <= by + bh + eps
        };
        let mut problems = Vec::new();
        for e in self.controls() {
            let Some(c) = self.describe(&e) else { continue };
            if !inside(c.x, c.y, c.width, c.height, 0.0, 0.0, w, h) {
                problems.push(format!(
                    "control {} at ({:.0},{:.0}) {:.0}x{:.0} is outside the {w:.0}x{h:.0} window",
                    c.action, c.x, c.y, c.width, c.height
                ));
            }
            for t in e.query_descendants().match_accessible_role(AccessibleRole::Text).find_all() {
                let (p, s) = (t.absolute_position(), t.size());
                if s.width <= 0.0 || s.height <= 0.0 {
                    continue;
                }
                if !inside(p.x, p.y, s.width, s.height, c.x, c.y, c.width, c.height) {
                    problems.push(format!(
                        "text {:?} of control {} spills out of it ({:.0},{:.0} {:.0}x{:.0} in {:.0},{:.0} {:.0}x{:.0})",
                        t.accessible_label().unwrap_or_default(),
                        c.action,
                        p.x,
                        p.y,
                        s.width,
                        s.height,
                        c.x,
                        c.y,
                        c.width,
                        c.height
                    ));
                }
            }
        }
        for t in ElementQuery::from_root(&self.window).match_accessible_role(AccessibleRole::Text).find_all() {
            let (p, s) = (t.absolute_position(), t.size());
            if s.width > 0.0 && s.height > 0.0 && !inside(p.x, p.y, s.width, s.height, 0.0, 0.0, w, h) {
                problems.push(format!(
                    "text {:?} at ({:.0},{:.0}) {:.0}x{:.0} is outside the {w:.0}x{h:.0} window",
                    t.accessible_label().unwrap_or_default(),
                    p.x,
                    p.y,
                    s.width,
                    s.height
                ));
            }
        }
        problems
    }

    /// Every text on the screen with its box (logical px), in tree order.
    pub fn text_boxes(&self) -> Vec<TextBox> {
        ElementQuery::from_root(&self.window)
            .match_accessible_role(AccessibleRole::Text)
            .find_all()
            .iter()
            .filter(|e| e.computed_opacity() > 0.0)
            .filter_map(|e| {
                let (p, s) = (e.absolute_position(), e.size());
                let text = e.accessible_label()?.to_string();
                (s.width > 0.0 && s.height > 0.0 && !text.trim().is_empty()).then_some(TextBox {
                    text,
                    x: p.x,
                    y: p.y,
                    width: s.width,
                    height: s.height,
                })
            })
            .collect()
    }

    /// Every text on the screen, in tree order (what `expect_text` searches).
    pub fn visible_texts(&self) -> Vec<String> {
        ElementQuery::from_root(&self.window)
            .match_accessible_role(AccessibleRole::Text)
            .find_all()
            .iter()
            .filter(|e| e.computed_opacity() > 0.0 && e.size().width > 0.0)
            .filter_map(|e| e.accessible_label())
            .map(|s| s.to_string())
            .filter(|s| !s.trim().is_empty())
            .collect()
    }
}
