//! The soft-core's exit codes: what the firmware (`src/bin/soc.rs`) and the boot ROM write to
//! `SYS.EXIT` (`memmap::EXIT`) to end a one-shot run, defined once for the firmware, the boot
//! ROM generator and the harnesses that read them (`sim::soc`, the host's `cnnfpga sim`).
//!
//! | code   | name                  | meaning                                                   |
//! |--------|-----------------------|-----------------------------------------------------------|
//! | 0      | [`OK`]                | inference done                                            |
//! | 1      | [`MODEL_REJECTED`]    | model blob rejected (the `FormatError` code is printed)   |
//! | 2      | [`TOO_LARGE`]         | input image, blob or class count larger than this build supports |
//! | 3      | [`RUN_FAILED`]        | inference failed (layer and error are printed)            |
//! | 4      | [`SELFTEST_FAILED`]   | multiply or requantisation self-test failed (a codegen bug) |
//! | 255    | [`PANIC`]             | panic (a bug: nothing in the firmware should panic)       |
//! | 0xB0   | [`BOOT_FAIL`]         | (boot ROM) no valid firmware image in flash               |
//!
//! On the board the same write lights the green LED for [`OK`] and the red one otherwise.

/// Inference done; the transcript is complete.
pub const OK: u32 = 0;
/// The model blob was rejected; the transcript's `error: model <code>` line carries the
/// [`crate::model::FormatError::code`].
pub const MODEL_REJECTED: u32 = 1;
/// The input image, the blob or the class count is larger than this build supports.
pub const TOO_LARGE: u32 = 2;
/// The inference failed; the transcript names the layer and the engine error.
pub const RUN_FAILED: u32 = 3;
/// The requantisation self-test at boot failed (the compiled kernels disagree with
/// [`crate::numerics`]: a code-generation bug).
pub const SELFTEST_FAILED: u32 = 4;
/// The firmware panicked (a bug: nothing in it should panic).
pub const PANIC: u32 = 255;
/// Written by the boot ROM, not the firmware: the flash holds no valid firmware image.
pub const BOOT_FAIL: u32 = 0xB0;

/// A short description of an exit code, for harness and CLI messages (`None` for a code the
/// firmware and the boot ROM never write).
pub const fn describe(code: u32) -> Option<&'static str> {
    Some(match code {
        OK => "inference done",
        MODEL_REJECTED => "model blob rejected",
        TOO_LARGE => "input, blob or class count too large for this build",
        RUN_FAILED => "inference failed",
        SELFTEST_FAILED => "multiply or requantisation self-test failed",
        PANIC => "firmware panic",
        BOOT_FAIL => "boot ROM found no valid firmware image",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_described() {
        let codes = [
            OK,
            MODEL_REJECTED,
            TOO_LARGE,
            RUN_FAILED,
            SELFTEST_FAILED,
            PANIC,
            BOOT_FAIL,
        ];
        for (i, a) in codes.iter().enumerate() {
            assert!(describe(*a).is_some(), "{a}");
            assert!(codes[i + 1..].iter().all(|b| a != b), "{a} twice");
        }
        assert_eq!(describe(5), None);
    }
}
