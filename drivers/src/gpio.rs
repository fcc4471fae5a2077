//! The kiosk's GPIO: a lamp over the card slot, a status lamp (over the document tray), a chime,
//! the door (tamper) switch and the operator key, over `embedded-hal` 1.0 pins.
//!
//! The pins are generic so the same code drives the real lines (character device through
//! `linux-embedded-hal`, feature `linux-gpio`) and mocks in tests. Blinking and chiming are
//! patterns in time ([`Level::is_on_at`]), so a worker only sets levels and ticks; the pattern
//! itself is testable without a clock.

use embedded_hal::digital::{Error as _, ErrorKind, InputPin, OutputPin};
use std::time::Duration;

pub use embedded_hal;

/// The outputs the session drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// The lamp over the card slot / reader: "place your card" and "take your card".
    CardSlotLamp,
    /// The lamp over the document tray: "take your documents"; steady when out of service.
    StatusLamp,
    /// The chime (a buzzer or an amplifier gate): reminders that repeat until acted on.
    Chime,
}

impl Output {
    pub const ALL: [Output; 3] = [Output::CardSlotLamp, Output::StatusLamp, Output::Chime];

    const fn index(self) -> usize {
        match self {
            Output::CardSlotLamp => 0,
            Output::StatusLamp => 1,
            Output::Chime => 2,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Output::CardSlotLamp => "card-slot-lamp",
            Output::StatusLamp => "status-lamp",
            Output::Chime => "chime",
        }
    }
}

/// What an output does over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    #[default]
    Off,
    On,
    /// Lamp: half a second on, half off. Chime: a short tone every 1.5 s.
    Blink,
}

impl Level {
    /// Whether the pin is driven active at `t` into the pattern.
    pub fn is_on_at(self, output: Output, t: Duration) -> bool {
        match self {
            Level::Off => false,
            Level::On => true,
            Level::Blink => {
                let ms = t.as_millis();
                match output {
                    Output::Chime => ms % 1500 < 200,
                    _ => ms % 1000 < 500,
                }
            }
        }
    }
}

/// The inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// Closed when the kiosk's door is shut; open means someone is inside the machine.
    DoorSwitch,
    /// The operator's key switch: on means operator mode is asked for.
    OperatorKey,
}

/// Whether "active" is a high or a low line (wiring decides; e.g. a switch to ground).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Polarity {
    #[default]
    ActiveHigh,
    ActiveLow,
}

/// A pin failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GPIO {pin}: {kind:?}")]
pub struct GpioError {
    pub pin: &'static str,
    pub kind: ErrorKind,
}

/// A pin and its polarity.
pub type Wired<P> = (P, Polarity);

/// The kiosk's pins: three outputs of one pin type, two inputs of another.
pub struct KioskPins<O, I> {
    outputs: [(O, Polarity); 3],
    levels: [Level; 3],
    door: (I, Polarity),
    operator_key: (I, Polarity),
}

impl<O: OutputPin, I: InputPin> KioskPins<O, I> {
    /// Takes the pins; every output starts off (driven inactive here, so a lamp left on by a
    /// crashed process goes out).
    pub fn new(
        card_slot_lamp: (O, Polarity),
        status_lamp: (O, Polarity),
        chime: (O, Polarity),
        door: (I, Polarity),
        operator_key: (I, Polarity),
    ) -> Result<Self, GpioError> {
        let mut pins =
            KioskPins { outputs: [card_slot_lamp, status_lamp, chime], levels: [Level::Off; 3], door, operator_key };
        for o in Output::ALL {
            pins.drive(o, false)?;
        }
        Ok(pins)
    }

    /// Sets what an output does; takes effect at the next [`Self::refresh`] (or at once for
    /// `On`/`Off`).
    pub fn set(&mut self, output: Output, level: Level) -> Result<(), GpioError> {
        self.levels[output.index()] = level;
        match level {
            Level::Off => self.drive(output, false),
            Level::On => self.drive(output, true),
            Level::Blink => Ok(()),
        }
    }

    pub fn level(&self, output: Output) -> Level {
        self.levels[output.index()]
    }

    /// Drives blinking outputs for time `t` (call every 50–100 ms).
    pub fn refresh(&mut self, t: Duration) -> Result<(), GpioError> {
        for o in Output::ALL {
            if self.levels[o.index()] == Level::Blink {
                let on = Level::Blink.is_on_at(o, t);
                self.drive(o, on)?;
            }
        }
        Ok(())
    }

    /// Everything off (shutdown, operator mode).
    pub fn all_off(&mut self) -> Result<(), GpioError> {
        for o in Output::ALL {
            self.set(o, Level::Off)?;
        }
        Ok(())
    }

    /// Whether an input is active.
    pub fn read(&mut self, input: Input) -> Result<bool, GpioError> {
        let ((pin, polarity), name) = match input {
            Input::DoorSwitch => (&mut self.door, "door-switch"),
            Input::OperatorKey => (&mut self.operator_key, "operator-key"),
        };
        let high = pin.is_high().map_err(|e| GpioError { pin: name, kind: e.kind() })?;
        Ok(high == (*polarity == Polarity::ActiveHigh))
    }

    fn drive(&mut self, output: Output, on: bool) -> Result<(), GpioError> {
        let (pin, polarity) = &mut self.outputs[output.index()];
        let high = on == (*polarity == Polarity::ActiveHigh);
        let r = if high { pin.set_high() } else { pin.set_low() };
        r.map_err(|e| GpioError { pin: output.name(), kind: e.kind() })
    }

    /// Gives the pins back (tests check mock expectations with it).
    pub fn release(self) -> ([Wired<O>; 3], Wired<I>, Wired<I>) {
        (self.outputs, self.door, self.operator_key)
    }
}

/// The pins of a kiosk without a GPIO chip (`gpio.chip = "simulated"`, the demo and the lab):
/// the levels the kiosk drives and the switches a person (or a scenario) sets. Clones share
/// one state, so the lab keeps a handle to turn the key and open the door while the kiosk owns
/// another.
#[derive(Debug, Clone)]
pub struct SimulatedGpio {
    state: std::sync::Arc<std::sync::Mutex<SimulatedState>>,
}

#[derive(Debug, Clone, Copy)]
struct SimulatedState {
    levels: [Level; 3],
    door_shut: bool,
    key_on: bool,
}

impl Default for SimulatedGpio {
    /// Every output off, the door shut, the key off.
    fn default() -> Self {
        let state = SimulatedState { levels: [Level::Off; 3], door_shut: true, key_on: false };
        SimulatedGpio { state: std::sync::Arc::new(std::sync::Mutex::new(state)) }
    }
}

impl SimulatedGpio {
    fn with<R>(&self, f: impl FnOnce(&mut SimulatedState) -> R) -> R {
        // a poisoned lock only means a panic elsewhere; the levels stay meaningful
        let mut g = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    pub fn set(&self, output: Output, level: Level) {
        self.with(|s| s.levels[output.index()] = level);
    }

    pub fn level(&self, output: Output) -> Level {
        self.with(|s| s.levels[output.index()])
    }

    /// Whether an input is active, as [`KioskPins::read`] says it (the door switch is active
    /// while the door is shut).
    pub fn read(&self, input: Input) -> bool {
        self.with(|s| match input {
            Input::DoorSwitch => s.door_shut,
            Input::OperatorKey => s.key_on,
        })
    }

    /// Turns the operator key.
    pub fn turn_key(&self, on: bool) {
        self.with(|s| s.key_on = on);
    }

    /// Opens or shuts the door.
    pub fn open_door(&self, open: bool) {
        self.with(|s| s.door_shut = !open);
    }
}

/// Line offsets on one GPIO chip (from the kiosk configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineMap {
    pub card_slot_lamp: (u32, Polarity),
    pub status_lamp: (u32, Polarity),
    pub chime: (u32, Polarity),
    pub door_switch: (u32, Polarity),
    pub operator_key: (u32, Polarity),
}

/// Real pins through the GPIO character device (`/dev/gpiochipN`).
#[cfg(feature = "linux-gpio")]
pub mod linux {
    use super::{GpioError, KioskPins, LineMap, Polarity};
    use embedded_hal::digital::ErrorKind;
    use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
    use linux_embedded_hal::CdevPin;
    use std::path::Path;

    const CONSUMER: &str = "madoguchi";

    /// Requests the five lines of `map` on `chip`.
    pub fn open(chip: &Path, map: &LineMap) -> Result<KioskPins<CdevPin, CdevPin>, GpioError> {
        let mut chip = Chip::new(chip).map_err(|_| GpioError { pin: "chip", kind: ErrorKind::Other })?;
        let mut line = |name: &'static str, offset: u32, flags: LineRequestFlags| {
            let err = |_| GpioError { pin: name, kind: ErrorKind::Other };
            let handle = chip.get_line(offset).map_err(err)?.request(flags, 0, CONSUMER).map_err(err)?;
            CdevPin::new(handle).map_err(err)
        };
        let out = || LineRequestFlags::OUTPUT;
        let inp = || LineRequestFlags::INPUT;
        let card = line("card-slot-lamp", map.card_slot_lamp.0, out())?;
        let status = line("status-lamp", map.status_lamp.0, out())?;
        let chime = line("chime", map.chime.0, out())?;
        let door = line("door-switch", map.door_switch.0, inp())?;
        let key = line("operator-key", map.operator_key.0, inp())?;
        let p = |x: &(u32, Polarity)| x.1;
        KioskPins::new(
            (card, p(&map.card_slot_lamp)),
            (status, p(&map.status_lamp)),
            (chime, p(&map.chime)),
            (door, p(&map.door_switch)),
            (key, p(&map.operator_key)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction as T};

    fn pins(
        card: &[T],
        status: &[T],
        chime: &[T],
        door: &[T],
        key: &[T],
        chime_polarity: Polarity,
    ) -> KioskPins<Mock, Mock> {
        KioskPins::new(
            (Mock::new(card), Polarity::ActiveHigh),
            (Mock::new(status), Polarity::ActiveHigh),
            (Mock::new(chime), chime_polarity),
            (Mock::new(door), Polarity::ActiveLow),
            (Mock::new(key), Polarity::ActiveHigh),
        )
        .unwrap()
    }

    fn done(p: KioskPins<Mock, Mock>) {
        let (outs, (mut door, _), (mut key, _)) = p.release();
        for (mut o, _) in outs {
            o.done();
        }
        door.done();
        key.done();
    }

    #[test]
    fn starts_dark_then_follows_levels_with_polarity() {
        let p = pins(
            &[T::set(State::Low), T::set(State::High), T::set(State::Low)],
            &[T::set(State::Low)],
            // Active-low chime: off is high.
            &[T::set(State::High), T::set(State::Low)],
            &[],
            &[],
            Polarity::ActiveLow,
        );
        let mut p = p;
        p.set(Output::CardSlotLamp, Level::On).unwrap();
        p.set(Output::Chime, Level::On).unwrap();
        p.set(Output::CardSlotLamp, Level::Off).unwrap();
        assert_eq!(p.level(Output::Chime), Level::On);
        done(p);
    }

    #[test]
    fn blinking_follows_the_pattern() {
        let mut p = pins(
            &[T::set(State::Low), T::set(State::High), T::set(State::Low)],
            &[T::set(State::Low)],
            &[T::set(State::Low)],
            &[],
            &[],
            Polarity::ActiveHigh,
        );
        p.set(Output::CardSlotLamp, Level::Blink).unwrap();
        p.refresh(Duration::from_millis(100)).unwrap();
        p.refresh(Duration::from_millis(600)).unwrap();
        done(p);
        assert!(Level::Blink.is_on_at(Output::Chime, Duration::from_millis(1550)));
        assert!(!Level::Blink.is_on_at(Output::Chime, Duration::from_millis(1800)));
    }

    #[test]
    fn inputs_respect_polarity() {
        let mut p = pins(
            &[T::set(State::Low)],
            &[T::set(State::Low)],
            &[T::set(State::Low)],
            // Door switch active low: low = door shut contact closed = active.
            &[T::get(State::Low), T::get(State::High)],
            &[T::get(State::High)],
            Polarity::ActiveHigh,
        );
        assert!(p.read(Input::DoorSwitch).unwrap());
        assert!(!p.read(Input::DoorSwitch).unwrap());
        assert!(p.read(Input::OperatorKey).unwrap());
        done(p);
    }

    #[test]
    fn simulated_switches_read_as_real_ones_and_clones_share_them() {
        let lab = SimulatedGpio::default();
        let kiosk = lab.clone();
        assert!(kiosk.read(Input::DoorSwitch), "the door starts shut (switch active)");
        assert!(!kiosk.read(Input::OperatorKey));
        lab.turn_key(true);
        lab.open_door(true);
        assert!(kiosk.read(Input::OperatorKey));
        assert!(!kiosk.read(Input::DoorSwitch));
        kiosk.set(Output::StatusLamp, Level::On);
        assert_eq!(lab.level(Output::StatusLamp), Level::On);
    }

    #[test]
    fn pin_errors_name_the_pin() {
        use embedded_hal_mock::eh1::MockError;
        let err = MockError::Io(std::io::ErrorKind::Other);
        let mut p = pins(
            &[T::set(State::Low), T::set(State::High).with_error(err)],
            &[T::set(State::Low)],
            &[T::set(State::Low)],
            &[],
            &[],
            Polarity::ActiveHigh,
        );
        let e = p.set(Output::CardSlotLamp, Level::On).unwrap_err();
        assert_eq!(e.pin, "card-slot-lamp");
        done(p);
    }
}
