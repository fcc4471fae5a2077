//! The simulated world around the kiosk as processes: the demo world, a private pcscd with
//! vpcd, the printer simulator, the municipal backend, and the kiosk configuration pointing at
//! them. Kept apart from the runner so that the runner only drives and observes.

use super::*;
/// The simulated world around the kiosk.
pub(super) struct Lab {
    pub(super) out: PathBuf,
    pub(super) world: PathBuf,
    pub(super) sim: PathBuf,
    pub(super) pcscd: Pcscd,
    pub(super) printer: PrinterProcess,
    pub(super) backend: std::cell::RefCell<BackendProcess>,
    /// Between the kiosk and the backend when the scenario slows it or has it refuse a request.
    pub(super) proxy: Option<BackendProxy>,
    pub(super) cash: SharedSimCash,
    /// With `--cash cctalk`: the ccTalk device the kiosk drives instead of `cash`.
    pub(super) cctalk: Option<madoguchi_sim::lab::CashProcess>,
    /// The kiosk's lamps and switches: the runner turns the operator key and opens the door.
    pub(super) gpio: madoguchi_drivers::gpio::SimulatedGpio,
}

/// The demo store's operator PIN, 2468, as `madoguchi operator-pin-hash` makes it (scenarios
/// type the PIN; the kiosk only ever holds this hash).
const DEMO_OPERATOR_PIN_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$O7JmsFmnXdnmg4oVJ9GSFw$F/x3MZ4m8eIxOWiOa1OylggYsLSkD73oJyeoi0DbQUY";

impl Lab {
    pub(super) fn start(args: &DemoArgs) -> Result<Lab, DemoError> {
        let out = args.out.clone();
        std::fs::create_dir_all(&out).map_err(|e| other(&out.display().to_string(), e))?;
        for d in ["screens", "printed", "lab", "cards", "state", "backend"] {
            let p = out.join(d);
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).map_err(|e| other(&p.display().to_string(), e))?;
        }
        let sim = sibling("madoguchi-sim")?;
        let world = match &args.world {
            Some(w) => w.clone(),
            None => {
                let w = out.join("world");
                if !w.join("manifest.json").exists() {
                    let st = Command::new(&sim)
                        .args(["world", "--seed", "7", "--out"])
                        .arg(&w)
                        .status()
                        .map_err(|e| other("madoguchi-sim world", e))?;
                    if !st.success() {
                        return Err(DemoError::Other("madoguchi-sim world failed".into()));
                    }
                }
                w
            }
        };
        let pcscd = Pcscd::start(&out.join("lab"))?;
        let printer = PrinterProcess::start(&sim, &out.join("lab"), PRINTER_BAUD, &[])?;
        let backend = BackendProcess::start(&sibling("madoguchi-backend")?, &world, &out.join("backend"), KIOSK_ID)?;
        let backend = std::cell::RefCell::new(backend);
        let cctalk = match args.cash.as_str() {
            "cctalk" => Some(madoguchi_sim::lab::CashProcess::start(&sim, &out.join("lab"))?),
            _ => None,
        };
        Ok(Lab {
            cctalk,
            out,
            world,
            sim,
            pcscd,
            printer,
            backend,
            proxy: None,
            cash: SharedSimCash::default(),
            gpio: Default::default(),
        })
    }

    /// Puts the fault proxy between the kiosk and the backend (before the kiosk's configuration
    /// is written, which then names the proxy's address).
    pub(super) fn start_fault_proxy(&mut self) -> Result<(), DemoError> {
        let backend = self.backend.borrow();
        let proxy = BackendProxy::start(&backend.url, &backend.dir.join("keys"), &backend.kiosk_dir)?;
        drop(backend);
        self.proxy = Some(proxy);
        Ok(())
    }

    /// Puts a card or phone on a reader. The simulator writes tries left back into its
    /// profile, so it runs on a private copy (kept across placements in this run: the world
    /// itself is never changed). Returns the card and that copy.
    pub(super) fn place(
        &self,
        profile: &Path,
        contactless: bool,
        extra: &[&str],
        apdu_log: Option<&Path>,
    ) -> Result<(CardProcess, PathBuf), String> {
        let copy = self.out.join("cards").join(profile.file_name().unwrap_or_default());
        if !copy.exists() {
            std::fs::copy(profile, &copy).map_err(|e| format!("copying the card profile: {e}"))?;
        }
        let card = CardProcess::start(&self.sim, &self.pcscd, &copy, contactless, extra, apdu_log)
            .map_err(|e| e.to_string())?;
        Ok((card, copy))
    }

    /// The kiosk's configuration for this lab.
    pub(super) fn kiosk_config(&self) -> Result<KioskConfig, DemoError> {
        let backend = self.backend.borrow();
        let k = &backend.kiosk_dir;
        let key = std::fs::read_to_string(k.join("backend-signing.pub"))
            .map_err(|e| other("backend-signing.pub", e))?
            .trim()
            .to_string();
        let q = |p: &Path| p.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
        let text = format!(
            "[kiosk]\nid = \"{KIOSK_ID}\"\nstore = \"デモ店\"\n\n\
             [backend]\nurl = \"{url}\"\nca = \"{ca}\"\nclient_certificate = \"{cert}\"\nclient_key = \"{key_file}\"\n\
             document_key = \"{key}\"\n\n\
             [trust]\nanchors = \"{anchors}\"\nallow_test_anchors = true\n\n\
             [readers]\ncontact = [\"Virtual PCD 00 00\"]\ncontactless = [\"Virtual PCD 00 01\"]\n\n\
             [printer]\nport = \"{port}\"\nbaud = {PRINTER_BAUD}\nflow_control = \"none\"\n\n\
             [gpio]\nchip = \"simulated\"\ncard_slot_lamp = 17\nstatus_lamp = 27\nchime = 22\ndoor_switch = 23\n\
             operator_key = 24\n\n[cash]\n{cash}\n\n\
             [operator]\npin_hash = \"{DEMO_OPERATOR_PIN_HASH}\"\nmax_failures = 3\nlockout_seconds = 300\n",
            url = self.proxy.as_ref().map_or(backend.url.as_str(), BackendProxy::url),
            ca = q(&k.join("server-ca.cert.pem")),
            cert = q(&k.join("client.cert.pem")),
            key_file = q(&k.join("client.key.pem")),
            anchors = q(&self.world.join("anchors")),
            port = q(&self.printer.link),
            cash = match &self.cctalk {
                Some(c) => format!("device = \"{}\"\nprotocol = \"cctalk\"\nbaud = 9600", q(&c.link)),
                None => "device = \"simulated\"".into(),
            },
        );
        let path = self.out.join("kiosk.toml");
        std::fs::write(&path, &text).map_err(|e| other("kiosk.toml", e))?;
        KioskConfig::load(&path).map_err(|e| other("kiosk.toml", e))
    }
}
