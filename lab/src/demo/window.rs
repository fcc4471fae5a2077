//! The demo with a display: the kiosk window beside the simulator panel (feature `window`).

use super::*;
/// The demo with a display: the kiosk window and the simulator panel.
#[cfg(not(feature = "window"))]
pub(super) fn windowed(_args: &DemoArgs) -> Result<bool, DemoError> {
    Err(DemoError::Other(
        "this build has no window support: build with `--features window` for the kiosk window and the simulator \
         panel, or run `madoguchi-lab demo --headless --scenario NAME`"
            .into(),
    ))
}

#[cfg(feature = "window")]
pub(super) fn windowed(args: &DemoArgs) -> Result<bool, DemoError> {
    use madoguchi_ui::panel::{PanelToken as Token, SimulatorPanel};
    use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
    use std::cell::RefCell;
    use std::rc::Rc;

    let lab = Rc::new(Lab::start(args)?);
    let cfg = lab.kiosk_config()?;
    let manifest = madoguchi_sim::world::Manifest::load(&lab.world).map_err(|e| other("manifest.json", e))?;
    // Every card and phone of the world, with the PIN beside it: this is test material.
    let mut tokens: Vec<(Token, PathBuf, Vec<&'static str>)> = Vec::new();
    for r in &manifest.residents {
        let (id, name) = (r.id.as_str(), r.name.as_str());
        let tags = r.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
        let pin = r.auth_pin.as_str();
        let label = match r.sign_password.as_deref() {
            Some(password) => format!("{id} {name}: card, PIN {pin}, password {password} ({tags})"),
            None => format!("{id} {name}: card, PIN {pin} ({tags})"),
        };
        tokens.push((
            Token {
                id: id.into(),
                label: label.into(),
                contactless_only: false,
                reservable: r.sign_password.is_some(),
            },
            lab.world.join(&r.card_profile),
            vec![],
        ));
        let android_pin = r.phone_secrets.as_ref().and_then(|s| s.android.as_ref()).map(|s| s.auth_pin.as_str());
        for (kind, flag, profile, phone_pin) in [
            ("android", "android", &r.phone_profiles.android, android_pin),
            ("iphone", "iphone", &r.phone_profiles.iphone, None),
        ] {
            if let Some(p) = profile {
                let pin = phone_pin.unwrap_or(pin);
                let label = format!("{id} {name}: {kind} phone, PIN {pin}");
                tokens.push((
                    Token { id: id.into(), label: label.into(), contactless_only: true, reservable: false },
                    lab.world.join(p),
                    vec!["--token", flag],
                ));
            }
        }
    }
    let ui = Ui::windowed().map_err(|e| other("kiosk window", e))?;
    let outputs: Box<dyn madoguchi_firmware::kiosk::SignalOutputs> = Box::new(lab.gpio.clone());
    let kiosk =
        Kiosk::start(&cfg, ui, Box::new(lab.cash.clone()), Some(outputs), &lab.out.join("state"), KioskClock::system())
            .map_err(|e| other("kiosk", e))?;
    let kiosk = Rc::new(RefCell::new(kiosk));
    let panel = SimulatorPanel::new().map_err(|e| other("simulator panel", e))?;
    panel.set_tokens(ModelRc::new(VecModel::from(tokens.iter().map(|t| t.0.clone()).collect::<Vec<_>>())));
    panel.set_status(SharedString::from("Touch the kiosk window, then place a card here."));
    let card: Rc<RefCell<Option<CardProcess>>> = Rc::new(RefCell::new(None));
    let tokens = Rc::new(tokens);
    {
        let (lab, card, tokens, weak) = (lab.clone(), card.clone(), tokens.clone(), panel.as_weak());
        panel.on_place(move |i, contactless| {
            let Some((t, src, extra)) = tokens.get(i as usize) else { return };
            if let Some(c) = card.borrow_mut().take() {
                let _ = c.remove();
            }
            let msg = match lab.place(src, contactless, extra, None) {
                Ok((c, _)) => {
                    *card.borrow_mut() = Some(c);
                    format!("{} is on the {} reader", t.label, if contactless { "contactless" } else { "contact" })
                }
                Err(e) => format!("could not place the card: {e}"),
            };
            if let Some(p) = weak.upgrade() {
                p.set_status(msg.into());
            }
        });
    }
    {
        let (card, weak) = (card.clone(), panel.as_weak());
        panel.on_remove(move || {
            let msg = match card.borrow_mut().take() {
                Some(c) => c.remove().map(|()| "taken off".to_string()).unwrap_or_else(|e| e.to_string()),
                None => "no card is on a reader".into(),
            };
            if let Some(p) = weak.upgrade() {
                p.set_status(msg.into());
            }
        });
    }
    {
        // As the resident's phone app would: the backend takes the reservation for that resident.
        let (lab, tokens, weak) = (lab.clone(), tokens.clone(), panel.as_weak());
        panel.on_reserve(move |i, credential| {
            let Some((t, _, _)) = tokens.get(i as usize) else { return };
            let msg = match lab.backend.borrow().reserve_pin_reset(&t.id, &credential, 0) {
                Ok(_) => format!("{}: a {credential} reset is reserved for 24 hours", t.id),
                Err(e) => format!("{}: the backend refused the reservation: {e}", t.id),
            };
            if let Some(p) = weak.upgrade() {
                p.set_status(msg.into());
            }
        });
    }
    {
        let (lab, weak) = (lab.clone(), panel.as_weak());
        panel.on_coin(move |yen| {
            let taken = lab.cash.slot().insert(yen as u32);
            if let Some(p) = weak.upgrade() {
                p.set_status(if taken { format!("{yen} yen inserted") } else { format!("{yen} yen refused") }.into());
            }
        });
    }
    {
        let (lab, weak) = (lab.clone(), panel.as_weak());
        panel.on_printer(move |f| {
            let msg = match lab.printer.control(&f) {
                Ok(()) => format!("printer: {f}"),
                Err(e) => e.to_string(),
            };
            if let Some(p) = weak.upgrade() {
                p.set_status(msg.into());
            }
        });
    }
    panel.show().map_err(|e| other("simulator panel", e))?;
    let timer = slint::Timer::default();
    {
        let kiosk = kiosk.clone();
        timer.start(slint::TimerMode::Repeated, Duration::from_millis(20), move || {
            kiosk.borrow_mut().pump_ready();
        });
    }
    let r = kiosk.borrow().ui().run();
    r.map_err(|e| other("kiosk window", e))?;
    Ok(true)
}
