//! Writing the SPI flash: each file at the offset of its area (the layout of
//! `rtl/regmap/accel.toml`: bitstream, firmware image, model blob, input image). The areas are
//! 64 KB aligned, so the 64 KB sector erases of both programmers never touch a neighbour.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{
    build, fwimage, io_err, tools, FlashArea, FpgaError, FLASH_BITSTREAM, FLASH_FW, FLASH_INPUT,
    FLASH_MODEL,
};

/// Flash programmer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FlashTool {
    /// `iceprog` (fpga-icestorm): the iCEBreaker's usual programmer (FT2232H channel A).
    Iceprog,
    /// `openFPGALoader -b ice40_generic -f` (same FTDI wiring).
    Openfpgaloader,
}

impl FlashTool {
    /// Executable name.
    pub fn exe(&self) -> &'static str {
        match self {
            FlashTool::Iceprog => "iceprog",
            FlashTool::Openfpgaloader => "openFPGALoader",
        }
    }

    /// The argument vector (program first) writing `file` at `offset`.
    pub fn argv(&self, offset: u32, file: &Path) -> Vec<String> {
        let f = file.display().to_string();
        match self {
            FlashTool::Iceprog => {
                let mut v = vec!["iceprog".to_string()];
                if offset != 0 {
                    // iceprog's -o takes a plain number or a k/M suffix (no 0x).
                    let o = if offset.is_multiple_of(1024) {
                        format!("{}k", offset / 1024)
                    } else {
                        offset.to_string()
                    };
                    v.extend(["-o".to_string(), o]);
                }
                v.push(f);
                v
            }
            FlashTool::Openfpgaloader => {
                let mut v: Vec<String> = [
                    "openFPGALoader",
                    "-b",
                    "ice40_generic",
                    "-f",
                    "--file-type",
                    "bin",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                if offset != 0 {
                    v.extend(["-o".to_string(), offset.to_string()]);
                }
                v.push(f);
                v
            }
        }
    }
}

/// One flash write.
#[derive(Clone, Debug, PartialEq)]
pub struct FlashStep {
    /// What is written.
    pub what: String,
    /// Flash byte offset.
    pub offset: u32,
    /// Bytes written.
    pub bytes: u64,
    /// The file written.
    pub file: PathBuf,
    /// The command (program first).
    pub argv: Vec<String>,
}

/// The writes of one `fpga flash`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlashPlan {
    /// Programmer.
    pub tool: FlashTool,
    /// Writes in order.
    pub steps: Vec<FlashStep>,
}

impl FlashPlan {
    /// Plans the writes, in flash order, of the files given: the bitstream, the firmware (a
    /// `CNFW` image as `fpga build` writes it, or an ELF/binary turned into one in `work`), the
    /// model blob (file or model directory; checked with the firmware's reader) and the input
    /// image. Each must fit its area.
    pub fn new(
        tool: FlashTool,
        bitstream: Option<&Path>,
        firmware: Option<&Path>,
        model: Option<&Path>,
        image: Option<&Path>,
        work: &Path,
    ) -> Result<Self, FpgaError> {
        let mut steps = vec![];
        let mut push = |area: FlashArea, file: PathBuf, bytes: u64| -> Result<(), FpgaError> {
            if bytes > area.len as u64 {
                return Err(FpgaError::Sources(format!(
                    "{} {} is {bytes} bytes, over its {}-byte area at {:#x}",
                    area.what,
                    file.display(),
                    area.len,
                    area.offset
                )));
            }
            steps.push(FlashStep {
                what: area.what.into(),
                offset: area.offset,
                bytes,
                argv: tool.argv(area.offset, &file),
                file,
            });
            Ok(())
        };
        if let Some(b) = bitstream {
            let bytes = std::fs::metadata(b).map_err(io_err("reading", b))?.len();
            push(FLASH_BITSTREAM, b.to_path_buf(), bytes)?;
        }
        if let Some(f) = firmware {
            let data = std::fs::read(f).map_err(io_err("reading", f))?;
            if fwimage::parse(&data).is_some() {
                push(FLASH_FW, f.to_path_buf(), data.len() as u64)?;
            } else {
                std::fs::create_dir_all(work).map_err(io_err("creating", work))?;
                let img = fwimage::image(&fwimage::load_binary(f, work)?, 0, f)?;
                let file = work.join("firmware.img");
                std::fs::write(&file, &img).map_err(io_err("writing", &file))?;
                push(FLASH_FW, file, img.len() as u64)?;
            }
        }
        let mut blob = None;
        if let Some(m) = model {
            let file = build::resolve_model(m)?;
            let b = build::read_model(&file)?;
            push(FLASH_MODEL, file, b.len() as u64)?;
            blob = Some(b);
        }
        if let Some(i) = image {
            // The shape check needs the model: --model, else the one `fpga build` wrote
            // beside the bitstream.
            let beside = bitstream.map(|b| b.with_file_name("model.blob"));
            let blob = match (blob, beside) {
                (Some(b), _) => b,
                (None, Some(p)) if p.is_file() => build::read_model(&p)?,
                _ => {
                    return Err(FpgaError::BadImage {
                        path: i.to_path_buf(),
                        reason: "an input image needs --model (or a model.blob beside the \
                                 bitstream) to check it against"
                            .into(),
                    })
                }
            };
            let img = build::read_image(i, &blob)?;
            let file = if build::is_raw_image(i) {
                i.to_path_buf()
            } else {
                std::fs::create_dir_all(work).map_err(io_err("creating", work))?;
                let f = work.join("image.bin");
                std::fs::write(&f, &img).map_err(io_err("writing", &f))?;
                f
            };
            push(FLASH_INPUT, file, img.len() as u64)?;
        }
        if steps.is_empty() {
            return Err(FpgaError::Sources("nothing to flash".into()));
        }
        Ok(Self { tool, steps })
    }

    /// The commands as shell lines.
    pub fn command_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| {
                s.argv
                    .iter()
                    .map(|a| tools::quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// Runs the writes. A missing tool or a failing write (no board) is an error naming it.
    pub fn execute(&self) -> Result<(), FpgaError> {
        tools::require(&[self.tool.exe()])?;
        for s in &self.steps {
            let mut c = Command::new(&s.argv[0]);
            c.args(&s.argv[1..]).stdin(std::process::Stdio::null());
            let st = c
                .status()
                .map_err(io_err("running", Path::new(&s.argv[0])))?;
            if !st.success() {
                return Err(FpgaError::ToolFailed {
                    stage: format!("writing the {}", s.what),
                    status: st.to_string(),
                    command: tools::display(&c),
                    tail:
                        "is the iCEBreaker plugged in (FTDI 0403:6010) and readable by this user?"
                            .into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iceprog_offsets_use_k_suffix() {
        let t = FlashTool::Iceprog;
        assert_eq!(t.argv(0, Path::new("a.bin")), ["iceprog", "a.bin"]);
        assert_eq!(
            t.argv(0x10_0000, Path::new("m")),
            ["iceprog", "-o", "1024k", "m"]
        );
        assert_eq!(t.argv(1000, Path::new("m")), ["iceprog", "-o", "1000", "m"]);
        let o = FlashTool::Openfpgaloader.argv(0x10_0000, Path::new("m"));
        assert_eq!(
            o.join(" "),
            "openFPGALoader -b ice40_generic -f --file-type bin -o 1048576 m"
        );
    }
}
