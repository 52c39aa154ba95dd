//! `cnnfpga fpga classify`: images to a board running the serve-mode firmware, over the UART
//! request protocol (`firmware::proto`: framed requests with length and CRC-32, one text reply
//! line each; docs/fpga.md), and the board's class, logits and cycles back.
//!
//! The same code talks to three links ([`Link`]): the FT2232H's serial port of a real board
//! ([`SerialLink`]), the Verilated board SoC whose RX pin the harness drives with real serial
//! timing ([`SimLink`], `--sim`: what CI runs), or nothing (`--dry-run`: the frames are
//! described, not sent). Every result is compared with the host's integer path
//! ([`crate::simrun::host_prediction`]: `qmodel::IntModel`, the firmware runner with
//! `SoftwareBackend`), which the board must equal bit for bit.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use firmware::model::Model;
use firmware::proto::{self, parse_reply, Reply};
use serde::Serialize;

/// Errors of `cnnfpga fpga classify`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifyError {
    /// The serial port cannot be opened or configured.
    #[error("serial port {port}: {reason}")]
    Port {
        /// Device path.
        port: String,
        /// What failed.
        reason: String,
    },
    /// Reading or writing the link failed.
    #[error("{op} on {link}: {reason}")]
    Io {
        /// `send` or `receive`.
        op: &'static str,
        /// The link's description.
        link: String,
        /// What failed.
        reason: String,
    },
    /// No reply line within the timeout.
    #[error("no reply from {link} within {secs:.1} s (is the serve-mode firmware running? `cnnfpga fpga build` makes it the default; received so far: {got:?})")]
    Timeout {
        /// The link's description.
        link: String,
        /// The timeout.
        secs: f64,
        /// Partial line received.
        got: String,
    },
    /// The board's model differs from `--model` (input shape or classes).
    #[error("the board serves input {board:?} with classes {board_classes:?}, but --model has input {model:?} with classes {model_classes:?}: flash the model or pass the one on the board")]
    ModelMismatch {
        /// Board's input shape.
        board: (usize, usize, usize),
        /// Board's classes.
        board_classes: Vec<String>,
        /// --model's input shape.
        model: (usize, usize, usize),
        /// --model's classes.
        model_classes: Vec<String>,
    },
    /// The simulated SoC failed.
    #[error(transparent)]
    Soc(#[from] sim::soc::SocError),
    /// Model or image problems (same as `cnnfpga sim`).
    #[error(transparent)]
    Input(#[from] crate::simrun::SimError),
}

/// A byte link to the firmware.
pub trait Link {
    /// What it is (for messages).
    fn describe(&self) -> String;
    /// Sends `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<(), ClassifyError>;
    /// The next line the firmware sends (without the newline), waiting at most `timeout`.
    fn read_line(&mut self, timeout: Duration) -> Result<String, ClassifyError>;
}

/// A real board on a serial port (8N1 at `UART_BAUD`).
pub struct SerialLink {
    name: String,
    port: Box<dyn serialport::SerialPort>,
    pending: Vec<u8>,
}

impl SerialLink {
    /// Opens `port` at `baud`.
    pub fn open(port: &str, baud: u32) -> Result<SerialLink, ClassifyError> {
        let p = serialport::new(port, baud)
            .timeout(Duration::from_millis(100))
            .open()
            .map_err(|e| ClassifyError::Port {
                port: port.to_string(),
                reason: e.to_string(),
            })?;
        Ok(SerialLink {
            name: port.to_string(),
            port: p,
            pending: Vec::new(),
        })
    }
}

impl Link for SerialLink {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), ClassifyError> {
        self.port
            .write_all(bytes)
            .and_then(|()| self.port.flush())
            .map_err(|e| ClassifyError::Io {
                op: "send",
                link: self.name.clone(),
                reason: e.to_string(),
            })
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, ClassifyError> {
        let t0 = Instant::now();
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line[..i])
                    .trim_end_matches('\r')
                    .to_string());
            }
            if t0.elapsed() > timeout {
                return Err(ClassifyError::Timeout {
                    link: self.name.clone(),
                    secs: timeout.as_secs_f64(),
                    got: String::from_utf8_lossy(&self.pending).into_owned(),
                });
            }
            let mut buf = [0u8; 256];
            match self.port.read(&mut buf) {
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => {
                    return Err(ClassifyError::Io {
                        op: "receive",
                        link: self.name.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
}

/// The Verilated board SoC in serve mode: the harness drives its RX pin with the board's bit
/// timing. Timeouts are counted in simulated time at the board clock.
pub struct SimLink {
    session: sim::soc::Session,
}

impl SimLink {
    /// Starts the board SoC with the shipped firmware and `blob` in its flash (serve flag set)
    /// and waits for its `serve` line.
    pub fn start(blob: &[u8], config: sim::SocConfig) -> Result<SimLink, ClassifyError> {
        let fw = sim::soc::Firmware::build(&sim::soc::Firmware::default_target_dir())?;
        let flash = sim::soc::Flash::new(&fw, false, blob, &[])?.serving();
        let mut session = sim::soc::Session::start(
            &flash,
            &sim::soc::RunOptions {
                config,
                ..Default::default()
            },
        )?;
        session.read_line_starting("serve ", 200_000_000)?;
        Ok(SimLink { session })
    }
}

impl Link for SimLink {
    fn describe(&self) -> String {
        "the Verilated board SoC".into()
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), ClassifyError> {
        Ok(self.session.send(bytes)?)
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, ClassifyError> {
        let cycles = (timeout.as_secs_f64() * firmware::regs::BOARD_CLOCK_HZ as f64) as u64;
        Ok(self.session.read_line(cycles.max(1))?)
    }
}

/// One image's outcome (`--json` prints a list of these).
#[derive(Clone, Debug, Serialize)]
pub struct Classified {
    /// The image file.
    pub image: PathBuf,
    /// The board's class index.
    pub class: usize,
    /// Its name.
    pub class_name: String,
    /// The board's logits.
    pub logits: Vec<i32>,
    /// Inference cycles the board measured (`SYS.CYCLES` around the runner).
    pub cycles: u64,
    /// The same at the board clock, milliseconds.
    pub ms_at_clock: f64,
    /// Class and logits equal the host's integer path.
    pub matches_host: bool,
    /// Bytes sent (the frame).
    pub frame_bytes: usize,
    /// Wall time from the first byte sent to the reply (the UART at `UART_BAUD` dominates).
    pub seconds: f64,
}

/// The next reply line (skipping banner lines), or an error.
pub fn next_reply(link: &mut dyn Link, timeout: Duration) -> Result<Reply, ClassifyError> {
    let t0 = Instant::now();
    loop {
        let left = timeout.saturating_sub(t0.elapsed());
        let line = link.read_line(left.max(Duration::from_millis(1)))?;
        if let Some(r) = parse_reply(&line) {
            return Ok(r);
        }
    }
}

/// Asks the board for its model's input shape and classes and checks them against `model`.
pub fn check_board_model(
    link: &mut dyn Link,
    model: &Model<'_>,
    timeout: Duration,
) -> Result<(), ClassifyError> {
    link.send(&proto::frame(proto::KIND_INFO, &[]))?;
    let s = model.input_shape();
    let classes: Vec<String> = (0..model.n_classes())
        .map(|i| model.class_name(i).unwrap_or("?").to_string())
        .collect();
    match next_reply(link, timeout)? {
        Reply::Info { input, names } if input == (s.h, s.w, s.c) && names == classes => Ok(()),
        Reply::Info { input, names } => Err(ClassifyError::ModelMismatch {
            board: input,
            board_classes: names,
            model: (s.h, s.w, s.c),
            model_classes: classes,
        }),
        r => Err(ClassifyError::Io {
            op: "receive",
            link: link.describe(),
            reason: format!("expected an info reply, got {r:?}"),
        }),
    }
}

/// Sends one image and waits for its reply; a protocol error reply becomes an `Io` error
/// naming it.
pub fn classify_one(
    link: &mut dyn Link,
    model: &Model<'_>,
    image: &Path,
    timeout: Duration,
) -> Result<Classified, ClassifyError> {
    let input = crate::simrun::load_input(image, model)?;
    let host = crate::simrun::host_prediction(model.blob(), &input)?;
    let frame = proto::frame(proto::KIND_CLASSIFY, &input);
    let t0 = Instant::now();
    link.send(&frame)?;
    match next_reply(link, timeout)? {
        Reply::Result {
            class,
            name,
            logits,
            cycles,
        } => Ok(Classified {
            image: image.to_path_buf(),
            matches_host: class == host.class && logits == host.logits,
            class,
            class_name: name,
            logits,
            cycles,
            ms_at_clock: cycles as f64 * 1e3 / firmware::regs::BOARD_CLOCK_HZ as f64,
            frame_bytes: frame.len(),
            seconds: t0.elapsed().as_secs_f64(),
        }),
        r => Err(ClassifyError::Io {
            op: "receive",
            link: link.describe(),
            reason: format!("the board refused {}: {r:?}", image.display()),
        }),
    }
}
