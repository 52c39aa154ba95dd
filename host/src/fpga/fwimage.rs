//! Firmware ELF -> the flash image the boot ROM loads: a 16-byte header (u32 LE magic `CNFW`,
//! binary length, flags, 0; `firmware::memmap::FW_*`) followed by the binary
//! (`objcopy -O binary` of the `soc` ELF, linked at `FW_ADDR`), padded to a word.

use std::path::Path;
use std::process::Command;

use firmware::memmap::{FW_HEADER_LEN, FW_LEN, FW_MAGIC};

use super::{tools, FpgaError, FLASH_FW};

/// GNU binutils prefix for RISC-V (scripts/setup.sh installs `binutils-riscv64-unknown-elf`).
pub const BINUTILS: &str = "riscv64-unknown-elf-";

/// Reads the firmware binary: an ELF goes through `objcopy -O binary` (into `work`), any other
/// file is taken as the raw binary.
pub fn load_binary(path: &Path, work: &Path) -> Result<Vec<u8>, FpgaError> {
    let bytes = std::fs::read(path).map_err(super::io_err("reading", path))?;
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(bytes);
    }
    let objcopy = format!("{BINUTILS}objcopy");
    tools::require(&[&objcopy])?;
    let abs = std::fs::canonicalize(path).map_err(super::io_err("resolving", path))?;
    let bin = work.join("firmware.bin");
    let mut c = Command::new(&objcopy);
    c.args(["-O", "binary"]).arg(&abs).arg(&bin);
    tools::run("objcopy", &mut c, work, None, None, None)?;
    std::fs::read(&bin).map_err(super::io_err("reading", &bin))
}

/// The flash image of `binary` with header `flags` (`FW_FLAG_*`). Fails if the binary exceeds
/// the RAM area it is copied to (`FW_LEN`) or the image exceeds its flash area.
pub fn image(binary: &[u8], flags: u32, path: &Path) -> Result<Vec<u8>, FpgaError> {
    let too_big = |max: u32, area| FpgaError::FirmwareTooBig {
        path: path.to_path_buf(),
        bytes: binary.len(),
        max_bytes: max as usize,
        area,
    };
    if binary.len() > FW_LEN as usize {
        return Err(too_big(FW_LEN, "FW area in RAM (FW_LEN)"));
    }
    if binary.len() + FW_HEADER_LEN as usize > FLASH_FW.len as usize {
        return Err(too_big(FLASH_FW.len - FW_HEADER_LEN, "FLASH_FW area"));
    }
    let mut img = Vec::with_capacity(FW_HEADER_LEN as usize + binary.len() + 3);
    img.extend_from_slice(&FW_MAGIC);
    img.extend_from_slice(&(binary.len() as u32).to_le_bytes());
    img.extend_from_slice(&flags.to_le_bytes());
    img.extend_from_slice(&0u32.to_le_bytes());
    img.extend_from_slice(binary);
    img.resize(img.len().next_multiple_of(4), 0);
    Ok(img)
}

/// Splits an image into (flags, binary); `None` if the header is not valid.
pub fn parse(img: &[u8]) -> Option<(u32, &[u8])> {
    let word = |i: usize| u32::from_le_bytes(img[4 * i..4 * i + 4].try_into().unwrap());
    if img.len() < FW_HEADER_LEN as usize || img[..4] != FW_MAGIC {
        return None;
    }
    let len = word(1) as usize;
    let body = img.get(FW_HEADER_LEN as usize..FW_HEADER_LEN as usize + len)?;
    Some((word(2), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_round_trip() {
        let img = image(&[1, 2, 3, 4, 5], 1, Path::new("fw")).unwrap();
        assert_eq!(&img[..4], b"CNFW");
        assert_eq!(img.len(), 16 + 8);
        assert_eq!(&img[4..8], &5u32.to_le_bytes());
        assert_eq!(parse(&img), Some((1, &[1u8, 2, 3, 4, 5][..])));
        assert_eq!(parse(b"XXXX0000000000000000"), None);
    }

    #[test]
    fn too_big_names_the_limit() {
        let e = image(&vec![0; FW_LEN as usize + 1], 0, Path::new("fw")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "{} bytes exceed the {}-byte FW area",
                FW_LEN + 1,
                FW_LEN
            )),
            "{msg}"
        );
    }
}
