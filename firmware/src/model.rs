//! The model blob: a versioned little-endian binary holding a quantised network, specified in
//! `docs/model-format.md`. This module is its only reader ([`Model::parse`]) and, behind the
//! `alloc` feature, its only writer ([`encode`]).
//!
//! Parsing is zero-copy: a [`Model`] borrows the blob and hands out slices into it. Every array
//! is 4-byte aligned *within the blob*, so when the blob itself sits at a 4-aligned address (as
//! on the SoC) an accelerator can read weights, bias and requantisation arrays in place; the
//! software never assumes alignment and reads multi-byte values with `from_le_bytes`.
//!
//! Every check the numerics need is done once here, so the kernels can run without further
//! validation: shapes chain from the input to the logits, requantisation parameters are in
//! range, P-layer codes are canonical and stay inside their row, and no accumulator can leave
//! `i32` (`|bias| + 255 * sum|w| < 2^31` for every output). Malformed input of any kind is a
//! [`FormatError`]; the parser never panics.

use crate::crc;
use crate::numerics::{PCode, Requant, PBITS_MAX, PBITS_MIN};
use core::fmt;

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"CNNF";
/// The format version this reader understands (and the encoder writes).
pub const VERSION: u16 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 36;
/// Size of one layer-table record in bytes.
pub const LAYER_RECORD_LEN: usize = 40;
/// Most layers a model may have (the runner keeps per-layer info in fixed arrays).
pub const MAX_LAYERS: usize = 16;
/// Longest class name in bytes (UTF-8).
pub const MAX_NAME_LEN: usize = 32;
/// Largest blob in bytes (`total_len`): 16 MiB. The SoC holds at most `memmap::MODEL_MAX_LEN`
/// (52 KB; `cnnfpga export` refuses more); the host also evaluates larger experiments (an
/// all-NP MLP on 64x64x3 is about 3 MB). Bounds what the host reads for one model file.
pub const MAX_BLOB_LEN: usize = 1 << 24;
/// Largest activation in bytes, the input image included (`h * w * c` of the input and of
/// every layer's output): 1 MiB. The runner's arena is two hidden activations
/// (`runner::arena_bytes`), so a parsed model never asks for more than 2 MiB + 3 bytes of arena
/// per inference. The SoC's windows are far smaller (arena 20 KB, input 12 KB; `cnnfpga export`
/// refuses more); the shipped CNN needs 19 227 and 12 288 bytes.
pub const MAX_ACTIVATION_BYTES: usize = 1 << 20;
/// Most multiply-accumulates (P layers: entries) of one inference: 2^28, 60x the shipped CNN
/// (4.4 M). Bounds the time one image takes, on the host and on the SoC.
pub const MAX_MACS: u64 = 1 << 28;
/// Layer-kind code of a convolution.
pub const KIND_CONV: u8 = 1;
/// Layer-kind code of an NP dense layer.
pub const KIND_DENSE: u8 = 2;
/// Layer-kind code of a P (sparse power-of-two) dense layer.
pub const KIND_DENSE_P: u8 = 3;
/// Layer flag: fused 2x2/2 max-pool after the convolution.
pub const FLAG_POOL: u8 = 1 << 0;
/// Layer flag: this is the final layer (raw i32 logits, no requantisation arrays).
pub const FLAG_FINAL: u8 = 1 << 1;

/// Which array of a layer an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Array {
    /// The class-name section.
    Names,
    /// The layer table.
    LayerTable,
    /// NP weights (i8), or P-layer entry bytes.
    Weights,
    /// Bias (i32).
    Bias,
    /// Requantisation multipliers (u16).
    Multiplier,
    /// Requantisation shifts (u8).
    Shift,
    /// P-layer row lengths (u16).
    RowLen,
}

impl Array {
    /// Field-like name, as in `docs/model-format.md`.
    pub const fn name(self) -> &'static str {
        match self {
            Array::Names => "names",
            Array::LayerTable => "layer table",
            Array::Weights => "weights",
            Array::Bias => "bias",
            Array::Multiplier => "m",
            Array::Shift => "shift",
            Array::RowLen => "row_len",
        }
    }
}

/// Which size limit a [`FormatError::TooLarge`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `total_len` against [`MAX_BLOB_LEN`].
    BlobBytes,
    /// The input image `in_h * in_w * in_c` against [`MAX_ACTIVATION_BYTES`].
    InputBytes,
    /// A layer's output `h * w * c` against [`MAX_ACTIVATION_BYTES`].
    ActivationBytes,
    /// The multiply-accumulates up to and including a layer against [`MAX_MACS`].
    Macs,
}

impl Limit {
    /// Short name, as in `docs/model-format.md`.
    pub const fn name(self) -> &'static str {
        match self {
            Limit::BlobBytes => "blob bytes",
            Limit::InputBytes => "input bytes",
            Limit::ActivationBytes => "activation bytes",
            Limit::Macs => "multiply-accumulates",
        }
    }
}

/// Everything that can be wrong with a model blob (or with an encoder description).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes than the structure being read needs.
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The blob does not start with [`MAGIC`].
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A format version this reader does not know.
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
    },
    /// The slice length differs from the header's `total_len` (strict [`Model::parse`] only).
    LengthMismatch {
        /// `total_len` from the header.
        header: usize,
        /// Length of the slice given to the parser.
        actual: usize,
    },
    /// The CRC-32 at the end of the blob does not match its contents.
    BadCrc {
        /// The stored value.
        stored: u32,
        /// The value computed over the blob.
        computed: u32,
    },
    /// A header field has an invalid value (zero sizes, reserved bits set, too many layers...).
    BadHeader {
        /// Field name as in `docs/model-format.md`.
        field: &'static str,
        /// Its value (f32 fields: the bit pattern).
        value: u32,
    },
    /// A class name is empty, longer than [`MAX_NAME_LEN`] or not UTF-8.
    BadName {
        /// Class index.
        class: u16,
    },
    /// An array (or the table) lies outside the blob's data area, or is not 4-byte aligned.
    BadOffset {
        /// Layer index (0 for header-level sections).
        layer: u16,
        /// Which array.
        array: Array,
        /// Its offset from the blob start.
        offset: u32,
        /// Its length in bytes (saturated at `u32::MAX`).
        len: u32,
    },
    /// Unknown layer kind code, or a field/flag not allowed for this kind.
    BadLayer {
        /// Layer index.
        layer: u16,
        /// Field name as in `docs/model-format.md`.
        field: &'static str,
        /// Its value.
        value: u32,
    },
    /// Layer shapes do not chain (`cin` / `in` differ from the previous output), a kernel is
    /// larger than its input, or an array length does not match the shapes.
    ShapeMismatch {
        /// Layer index.
        layer: u16,
        /// What the shapes require.
        expected: u32,
        /// What the blob (or description) says.
        got: u32,
    },
    /// A layer output has zero elements, or a size computation overflows `usize`.
    BadShape {
        /// Layer index.
        layer: u16,
    },
    /// The final-layer flag is missing on the last layer, set on another one, or the last
    /// layer is not a dense kind.
    BadFinalLayer {
        /// Layer index.
        layer: u16,
    },
    /// The final layer's output count differs from the number of classes.
    ClassCount {
        /// Number of classes in the header.
        classes: u16,
        /// Outputs of the final layer.
        outputs: u32,
    },
    /// A requantisation `(m, shift)` outside `0..=MULT_MAX`, `SHIFT_MIN..=SHIFT_MAX`.
    BadRequant {
        /// Layer index.
        layer: u16,
        /// Output channel.
        channel: u32,
        /// Multiplier found.
        m: u16,
        /// Shift found.
        shift: u8,
    },
    /// A P-layer entry that is not a canonical code (negative zero).
    BadPCode {
        /// Layer index.
        layer: u16,
        /// Entry index within the layer.
        entry: u32,
        /// The entry byte.
        byte: u8,
    },
    /// A P-layer row whose cursor advances past the layer's input length.
    PRowOverrun {
        /// Layer index.
        layer: u16,
        /// Row (output) index.
        row: u32,
    },
    /// An NP weight of `-128` (the contract's weights are symmetric, `[-127, 127]`).
    WeightOutOfRange {
        /// Layer index.
        layer: u16,
        /// Index into the layer's weight array.
        index: u32,
    },
    /// `|bias| + 255 * sum|w|` reaches `2^31` for this output: the i32 accumulator could wrap.
    AccumulatorOverflow {
        /// Layer index.
        layer: u16,
        /// Output channel.
        channel: u32,
    },
    /// A size limit of `docs/model-format.md` is exceeded (checked before anything is run or
    /// allocated for the model).
    TooLarge {
        /// Layer index (0 for [`Limit::BlobBytes`] and [`Limit::InputBytes`]).
        layer: u16,
        /// Which limit.
        limit: Limit,
        /// The model's value (saturated at `u64::MAX`).
        value: u64,
        /// The limit.
        max: u64,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FormatError::*;
        match *self {
            Truncated { need, have } => write!(f, "truncated: need {need} bytes, have {have}"),
            BadMagic { found } => write!(f, "bad magic {:#010x}", u32::from_be_bytes(found)),
            UnsupportedVersion { found } => write!(f, "unsupported format version {found}"),
            LengthMismatch { header, actual } => {
                write!(f, "header says {header} bytes, blob has {actual}")
            }
            BadCrc { stored, computed } => {
                write!(
                    f,
                    "crc mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            BadHeader { field, value } => write!(f, "bad header field {field} = {value}"),
            BadName { class } => write!(f, "bad name of class {class}"),
            BadOffset {
                layer,
                array,
                offset,
                len,
            } => write!(
                f,
                "layer {layer}: {} at offset {offset} len {len} out of range or misaligned",
                array.name()
            ),
            BadLayer {
                layer,
                field,
                value,
            } => write!(f, "layer {layer}: bad {field} = {value}"),
            ShapeMismatch {
                layer,
                expected,
                got,
            } => {
                write!(
                    f,
                    "layer {layer}: shape mismatch, expected {expected}, got {got}"
                )
            }
            BadShape { layer } => write!(f, "layer {layer}: empty or overflowing shape"),
            BadFinalLayer { layer } => write!(f, "layer {layer}: final-layer flag misplaced"),
            ClassCount { classes, outputs } => {
                write!(
                    f,
                    "{classes} classes but the final layer has {outputs} outputs"
                )
            }
            BadRequant {
                layer,
                channel,
                m,
                shift,
            } => {
                write!(
                    f,
                    "layer {layer} channel {channel}: invalid requant m={m} shift={shift}"
                )
            }
            BadPCode { layer, entry, byte } => {
                write!(f, "layer {layer} entry {entry}: invalid P code {byte}")
            }
            PRowOverrun { layer, row } => {
                write!(f, "layer {layer} row {row}: P row overruns input")
            }
            WeightOutOfRange { layer, index } => {
                write!(
                    f,
                    "layer {layer}: weight {index} is -128, outside [-127, 127]"
                )
            }
            AccumulatorOverflow { layer, channel } => {
                write!(
                    f,
                    "layer {layer} channel {channel}: accumulator may overflow i32"
                )
            }
            TooLarge {
                layer,
                limit,
                value,
                max,
            } => {
                if matches!(limit, Limit::BlobBytes | Limit::InputBytes) {
                    write!(f, "{} {value} exceed the limit {max}", limit.name())
                } else {
                    write!(
                        f,
                        "layer {layer}: {} {value} exceed the limit {max}",
                        limit.name()
                    )
                }
            }
        }
    }
}

impl core::error::Error for FormatError {}

impl FormatError {
    /// A stable small number per variant (listed in `docs/model-format.md`), for transcripts
    /// of targets that print no `Display` text (the soft-core firmware).
    pub const fn code(&self) -> u8 {
        use FormatError::*;
        match self {
            Truncated { .. } => 1,
            BadMagic { .. } => 2,
            UnsupportedVersion { .. } => 3,
            LengthMismatch { .. } => 4,
            BadCrc { .. } => 5,
            BadHeader { .. } => 6,
            BadName { .. } => 7,
            BadOffset { .. } => 8,
            BadLayer { .. } => 9,
            ShapeMismatch { .. } => 10,
            BadShape { .. } => 11,
            BadFinalLayer { .. } => 12,
            ClassCount { .. } => 13,
            BadRequant { .. } => 14,
            BadPCode { .. } => 15,
            PRowOverrun { .. } => 16,
            WeightOutOfRange { .. } => 17,
            AccumulatorOverflow { .. } => 18,
            TooLarge { .. } => 19,
        }
    }
}

/// An activation shape `[h][w][c]` (HWC, channel fastest). Dense layers have `h = w = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Shape {
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels.
    pub c: usize,
}

impl Shape {
    /// Element count `h * w * c` (`None` on overflow).
    pub const fn checked_len(self) -> Option<usize> {
        match self.h.checked_mul(self.w) {
            Some(hw) => hw.checked_mul(self.c),
            None => None,
        }
    }

    /// Element count `h * w * c`; shapes from a parsed [`Model`] never overflow.
    pub const fn len(self) -> usize {
        match self.checked_len() {
            Some(n) => n,
            None => usize::MAX,
        }
    }

    /// True when any dimension is zero.
    pub const fn is_empty(self) -> bool {
        self.h == 0 || self.w == 0 || self.c == 0
    }
}

/// The consecutive `N`-byte groups of a slice (a trailing partial group is ignored).
///
/// Like `chunks_exact(N)`, but without a division: `ChunksExact` keeps its chunk size in a
/// field, and where LLVM does not inline it (`Zip::new` of two of them) its length is a `divu`,
/// an instruction the soft-core's CPU does not have (see `firmware/tests/target_build.rs`).
#[derive(Clone, Debug)]
struct LeChunks<'a, const N: usize>(&'a [u8]);

impl<'a, const N: usize> Iterator for LeChunks<'a, N> {
    type Item = &'a [u8; N];
    fn next(&mut self) -> Option<&'a [u8; N]> {
        let (head, tail) = self.0.split_first_chunk::<N>()?;
        self.0 = tail;
        Some(head)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() / N; // N is a constant power of two here: a shift
        (n, Some(n))
    }
}

/// `i32::from_le_bytes(*b)`, as one word load when `b` is 4-byte aligned (blob arrays are
/// 4-aligned within the blob, and the SoC keeps the blob at a word address): assembling the
/// bytes takes shifts by 8, 16 and 24, which cost one cycle per bit on the SoC's CPU. The
/// aligned read is volatile because LLVM otherwise merges both branches into one unaligned
/// load, which RV32 lowers to the byte assembly again.
#[inline(always)]
fn le_i32(b: &[u8; 4]) -> i32 {
    if b.as_ptr() as usize & 3 == 0 {
        // SAFETY: `b` is 4 readable bytes at a 4-aligned address, and every bit pattern is an
        // i32.
        i32::from_le(unsafe { b.as_ptr().cast::<i32>().read_volatile() })
    } else {
        i32::from_le_bytes(*b)
    }
}

/// `u16::from_le_bytes(*b)`, as one halfword load when `b` is 2-byte aligned (see [`le_i32`]).
#[inline(always)]
fn le_u16(b: &[u8; 2]) -> u16 {
    if b.as_ptr() as usize & 1 == 0 {
        // SAFETY: `b` is 2 readable bytes at a 2-aligned address.
        u16::from_le(unsafe { b.as_ptr().cast::<u16>().read_volatile() })
    } else {
        u16::from_le_bytes(*b)
    }
}

/// A little-endian `i32` array inside the blob (no alignment assumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I32s<'a>(&'a [u8]);

impl<'a> I32s<'a> {
    /// Wraps LE bytes; a trailing partial element is ignored.
    pub const fn new(bytes: &'a [u8]) -> Self {
        I32s(bytes)
    }
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.0.len() / 4
    }
    /// True when empty.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i`, if in range.
    pub fn get(&self, i: usize) -> Option<i32> {
        let at = i.checked_mul(4)?;
        Some(le_i32(self.0.get(at..)?.first_chunk::<4>()?))
    }
    /// All elements in order.
    pub fn iter(&self) -> impl Iterator<Item = i32> + 'a {
        LeChunks::<4>(self.0).map(le_i32)
    }
    /// The underlying bytes (e.g. to hand their address to an accelerator).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// A little-endian `u16` array inside the blob (no alignment assumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U16s<'a>(&'a [u8]);

impl<'a> U16s<'a> {
    /// Wraps LE bytes; a trailing odd byte is ignored.
    pub const fn new(bytes: &'a [u8]) -> Self {
        U16s(bytes)
    }
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.0.len() / 2
    }
    /// True when empty.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i`, if in range.
    pub fn get(&self, i: usize) -> Option<u16> {
        let at = i.checked_mul(2)?;
        Some(le_u16(self.0.get(at..)?.first_chunk::<2>()?))
    }
    /// All elements in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        LeChunks::<2>(self.0).map(le_u16)
    }
    /// The underlying bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Per-output-channel requantisation parameters: the `m` (u16) and `shift` (u8) arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequantParams<'a> {
    /// Multipliers, one per output channel.
    pub m: U16s<'a>,
    /// Shifts, one per output channel.
    pub shift: &'a [u8],
}

impl<'a> RequantParams<'a> {
    /// Number of channels (the shorter of the two arrays).
    pub fn len(&self) -> usize {
        self.m.len().min(self.shift.len())
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Channel `i`'s parameters, if in range.
    pub fn get(&self, i: usize) -> Option<Requant> {
        Some(Requant {
            m: self.m.get(i)?,
            shift: *self.shift.get(i)?,
        })
    }
    /// All channels in order.
    pub fn iter(&self) -> impl Iterator<Item = Requant> + 'a {
        self.m
            .iter()
            .zip(self.shift.iter())
            .map(|(m, &shift)| Requant { m, shift })
    }
}

/// Reinterprets bytes as `i8` (same size, alignment and validity).
pub fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have identical size and alignment (1) and every bit pattern is valid
    // for both; the returned slice borrows `bytes` with the same lifetime and length.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// The kind-specific part of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// Valid stride-1 `k x k` convolution, `cin -> cout`, optional fused 2x2/2 max-pool.
    Conv {
        /// Kernel side.
        k: u8,
        /// Input channels.
        cin: usize,
        /// Output channels.
        cout: usize,
        /// Fused max-pool.
        pool: bool,
    },
    /// NP dense layer `[out][in]` i8.
    Dense {
        /// Inputs (the flattened HWC activation).
        n_in: usize,
        /// Outputs.
        n_out: usize,
    },
    /// P dense layer: pruned power-of-two weights as entry bytes of `bits`-bit codes.
    DenseP {
        /// Inputs.
        n_in: usize,
        /// Outputs.
        n_out: usize,
        /// Code width (`PBITS_MIN..=PBITS_MAX`).
        bits: u8,
        /// Exponent base `n2`: weight unit `2^n2` (informational; folded into `m`).
        n2: i8,
    },
}

/// One parsed layer: its shapes and slices into the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer<'a> {
    /// Position in the network.
    pub index: usize,
    /// Kind and kind-specific sizes.
    pub kind: LayerKind,
    /// Input activation shape.
    pub input: Shape,
    /// Output shape (after pooling); `1 x 1 x n_out` for dense layers.
    pub output: Shape,
    /// True for the final layer (raw i32 logits out, `rq` is `None`).
    pub is_final: bool,
    /// NP weights (`[cout][k][k][cin]` or `[out][in]`), or P entry bytes viewed as i8.
    pub weights: &'a [i8],
    /// P-layer entry bytes (empty for NP layers).
    pub entries: &'a [u8],
    /// P-layer row lengths in entries (empty for NP layers).
    pub row_len: U16s<'a>,
    /// Bias, one per output channel.
    pub bias: I32s<'a>,
    /// Requantisation, one per output channel; `None` for the final layer.
    pub rq: Option<RequantParams<'a>>,
}

impl Layer<'_> {
    /// Multiply-accumulates (NP) or shift-adds (P: non-zero entries) of one inference.
    pub fn macs(&self) -> u64 {
        match self.kind {
            LayerKind::Conv { k, cin, cout, pool } => {
                let px = self.output.h * self.output.w;
                let conv_px = if pool { 4 * px } else { px };
                (conv_px as u64) * u64::from(k) * u64::from(k) * cin as u64 * cout as u64
            }
            LayerKind::Dense { n_in, n_out } => n_in as u64 * n_out as u64,
            LayerKind::DenseP { bits, .. } => {
                let mask = (1u8 << (bits - 1)) - 1;
                self.entries.iter().filter(|&&e| e & mask != 0).count() as u64
            }
        }
    }
}

/// Decoded layer record, with offsets already validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Rec {
    kind: u8,
    flags: u8,
    param: u8,
    n2: i8,
    n_in: usize,
    n_out: usize,
    w: (usize, usize),
    bias: (usize, usize),
    m: (usize, usize),
    shift: (usize, usize),
    row_len: (usize, usize),
    input: Shape,
    output: Shape,
}

/// A parsed, fully validated model borrowing its blob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model<'a> {
    blob: &'a [u8],
    input: Shape,
    n_classes: u16,
    logit_scale: f32,
    names: (usize, usize),
    n_layers: usize,
    recs: [Rec; MAX_LAYERS],
}

fn rd_u16(b: &[u8], at: usize) -> Result<u16, FormatError> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_le_bytes([s[0], s[1]])),
        None => Err(FormatError::Truncated {
            need: at + 2,
            have: b.len(),
        }),
    }
}

fn rd_u32(b: &[u8], at: usize) -> Result<u32, FormatError> {
    match b.get(at..at + 4) {
        Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(FormatError::Truncated {
            need: at + 4,
            have: b.len(),
        }),
    }
}

/// Reads the `total_len` field after checking magic and version: how many bytes of a larger
/// memory region belong to the blob. Does not validate anything else.
pub fn blob_len(bytes: &[u8]) -> Result<usize, FormatError> {
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::Truncated {
            need: HEADER_LEN,
            have: bytes.len(),
        });
    }
    let found = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if found != MAGIC {
        return Err(FormatError::BadMagic { found });
    }
    let version = rd_u16(bytes, 4)?;
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion { found: version });
    }
    Ok(rd_u32(bytes, 8)? as usize)
}

/// Number of bytes `ceil(x / 4) * 4`.
pub const fn align4(x: usize) -> usize {
    (x + 3) & !3
}

impl<'a> Model<'a> {
    /// Parses and validates a blob that is exactly `total_len` bytes long.
    pub fn parse(blob: &'a [u8]) -> Result<Self, FormatError> {
        let total = blob_len(blob)?;
        if total != blob.len() {
            return Err(FormatError::LengthMismatch {
                header: total,
                actual: blob.len(),
            });
        }
        Self::parse_prefix(blob)
    }

    /// Parses a blob at the start of a possibly larger region (e.g. a fixed RAM window on the
    /// SoC): bytes after `total_len` are ignored.
    pub fn parse_prefix(region: &'a [u8]) -> Result<Self, FormatError> {
        let total = blob_len(region)?;
        if total < HEADER_LEN + 4 || total & 3 != 0 {
            return Err(FormatError::BadHeader {
                field: "total_len",
                value: total as u32,
            });
        }
        if total > MAX_BLOB_LEN {
            return Err(FormatError::TooLarge {
                layer: 0,
                limit: Limit::BlobBytes,
                value: total as u64,
                max: MAX_BLOB_LEN as u64,
            });
        }
        let blob = match region.get(..total) {
            Some(b) => b,
            None => {
                return Err(FormatError::Truncated {
                    need: total,
                    have: region.len(),
                })
            }
        };
        let body_end = total - 4;
        let stored = rd_u32(blob, body_end)?;
        let computed = crc::crc32(&blob[..body_end]);
        if stored != computed {
            return Err(FormatError::BadCrc { stored, computed });
        }
        let flags = rd_u16(blob, 6)?;
        if flags != 0 {
            return Err(FormatError::BadHeader {
                field: "flags",
                value: flags.into(),
            });
        }
        let input = Shape {
            h: rd_u16(blob, 12)?.into(),
            w: rd_u16(blob, 14)?.into(),
            c: rd_u16(blob, 16)?.into(),
        };
        for (field, v) in [("in_h", input.h), ("in_w", input.w), ("in_c", input.c)] {
            if v == 0 {
                return Err(FormatError::BadHeader { field, value: 0 });
            }
        }
        // u16 dimensions: the product fits u64 on every target
        let in_bytes = input.h as u64 * input.w as u64 * input.c as u64;
        if in_bytes > MAX_ACTIVATION_BYTES as u64 {
            return Err(FormatError::TooLarge {
                layer: 0,
                limit: Limit::InputBytes,
                value: in_bytes,
                max: MAX_ACTIVATION_BYTES as u64,
            });
        }
        let n_classes = rd_u16(blob, 18)?;
        if n_classes == 0 {
            return Err(FormatError::BadHeader {
                field: "n_classes",
                value: 0,
            });
        }
        let scale_bits = rd_u32(blob, 20)?;
        // finite, positive, non-zero: sign 0, exponent not all ones, not +0 (integer tests only)
        if scale_bits >> 31 != 0 || (scale_bits >> 23) & 0xFF == 0xFF || scale_bits == 0 {
            return Err(FormatError::BadHeader {
                field: "logit_scale",
                value: scale_bits,
            });
        }
        let n_layers = usize::from(rd_u16(blob, 24)?);
        if n_layers == 0 || n_layers > MAX_LAYERS {
            return Err(FormatError::BadHeader {
                field: "n_layers",
                value: n_layers as u32,
            });
        }
        let reserved = rd_u16(blob, 26)?;
        if reserved != 0 {
            return Err(FormatError::BadHeader {
                field: "reserved",
                value: reserved.into(),
            });
        }
        let names_off = rd_u32(blob, 28)? as usize;
        let table_off = rd_u32(blob, 32)? as usize;

        // class names: n_classes x (u8 len, bytes), directly after the header
        if names_off != HEADER_LEN {
            return Err(FormatError::BadOffset {
                layer: 0,
                array: Array::Names,
                offset: names_off as u32,
                len: 0,
            });
        }
        let mut at = names_off;
        for class in 0..n_classes {
            let len = match blob[..body_end].get(at) {
                Some(&l) => usize::from(l),
                None => {
                    return Err(FormatError::Truncated {
                        need: at + 1,
                        have: body_end,
                    })
                }
            };
            let name = match blob[..body_end].get(at + 1..at + 1 + len) {
                Some(n) => n,
                None => {
                    return Err(FormatError::Truncated {
                        need: at + 1 + len,
                        have: body_end,
                    })
                }
            };
            if len == 0 || len > MAX_NAME_LEN || core::str::from_utf8(name).is_err() {
                return Err(FormatError::BadName { class });
            }
            at += 1 + len;
        }
        let names = (names_off, at);

        // layer table: 4-aligned, after the names, inside the body
        let table_len = n_layers * LAYER_RECORD_LEN;
        if table_off & 3 != 0 || table_off < at || table_off.saturating_add(table_len) > body_end {
            return Err(FormatError::BadOffset {
                layer: 0,
                array: Array::LayerTable,
                offset: table_off as u32,
                len: table_len as u32,
            });
        }
        let data_start = table_off + table_len;

        let mut recs = [Rec::default(); MAX_LAYERS];
        let mut shape = input;
        let mut macs = 0u64;
        for (i, rec_slot) in recs.iter_mut().enumerate().take(n_layers) {
            let li = i as u16;
            let r = table_off + i * LAYER_RECORD_LEN;
            let place = Place {
                r,
                li,
                last: i + 1 == n_layers,
                data: (data_start, body_end),
            };
            let rec = parse_record(blob, &place, shape, &mut macs)?;
            shape = rec.output;
            *rec_slot = rec;
        }
        let outputs = shape.len() as u32;
        if outputs != u32::from(n_classes) {
            return Err(FormatError::ClassCount {
                classes: n_classes,
                outputs,
            });
        }
        Ok(Model {
            blob,
            input,
            n_classes,
            logit_scale: f32::from_bits(scale_bits),
            names,
            n_layers,
            recs,
        })
    }

    /// The blob this model was parsed from (exactly `total_len` bytes, CRC included).
    pub fn blob(&self) -> &'a [u8] {
        self.blob
    }
    /// Input image shape (HWC, u8 pixels).
    pub fn input_shape(&self) -> Shape {
        self.input
    }
    /// Number of classes (= logits).
    pub fn n_classes(&self) -> usize {
        usize::from(self.n_classes)
    }
    /// Real value of one logit unit (for the host's softmax on dequantised logits).
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }
    /// Number of layers.
    pub fn n_layers(&self) -> usize {
        self.n_layers
    }
    /// Class names in class order.
    pub fn class_names(&self) -> ClassNames<'a> {
        ClassNames {
            bytes: &self.blob[self.names.0..self.names.1],
        }
    }
    /// Name of class `i`.
    pub fn class_name(&self, i: usize) -> Option<&'a str> {
        self.class_names().nth(i)
    }
    /// Layer `i`.
    pub fn layer(&self, i: usize) -> Option<Layer<'a>> {
        if i >= self.n_layers {
            return None;
        }
        let r = &self.recs[i];
        let bytes = |(o, n): (usize, usize)| self.blob.get(o..o + n).unwrap_or(&[]);
        let is_final = r.flags & FLAG_FINAL != 0;
        let kind = match r.kind {
            KIND_CONV => LayerKind::Conv {
                k: r.param,
                cin: r.n_in,
                cout: r.n_out,
                pool: r.flags & FLAG_POOL != 0,
            },
            KIND_DENSE => LayerKind::Dense {
                n_in: r.n_in,
                n_out: r.n_out,
            },
            _ => LayerKind::DenseP {
                n_in: r.n_in,
                n_out: r.n_out,
                bits: r.param,
                n2: r.n2,
            },
        };
        let w = bytes(r.w);
        let is_p = r.kind == KIND_DENSE_P;
        Some(Layer {
            index: i,
            kind,
            input: r.input,
            output: r.output,
            is_final,
            weights: as_i8(w),
            entries: if is_p { w } else { &[] },
            row_len: U16s(bytes(r.row_len)),
            bias: I32s(bytes(r.bias)),
            rq: if is_final {
                None
            } else {
                Some(RequantParams {
                    m: U16s(bytes(r.m)),
                    shift: bytes(r.shift),
                })
            },
        })
    }
    /// All layers in order.
    pub fn layers(&self) -> impl Iterator<Item = Layer<'a>> + '_ {
        (0..self.n_layers).filter_map(move |i| self.layer(i))
    }
    /// Largest non-final layer output in bytes (u8 activations); 0 for a one-layer model.
    pub fn max_activation(&self) -> usize {
        self.recs[..self.n_layers.saturating_sub(1)]
            .iter()
            .map(|r| r.output.len())
            .max()
            .unwrap_or(0)
    }
}

/// Iterator over the class names of a [`Model`].
#[derive(Clone, Debug)]
pub struct ClassNames<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for ClassNames<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let (&len, rest) = self.bytes.split_first()?;
        let (name, rest) = rest.split_at_checked(usize::from(len))?;
        self.bytes = rest;
        // validated at parse time; an empty string is unreachable
        Some(core::str::from_utf8(name).unwrap_or(""))
    }
}

/// Checks one array `(offset, len)` of layer `layer` and returns it.
fn array_at(
    blob: &[u8],
    at: usize,
    layer: u16,
    array: Array,
    len: Option<usize>,
    data: (usize, usize),
) -> Result<(usize, usize), FormatError> {
    let off = rd_u32(blob, at)? as usize;
    let err = |len: usize| FormatError::BadOffset {
        layer,
        array,
        offset: off as u32,
        len: u32::try_from(len).unwrap_or(u32::MAX),
    };
    let len = len.ok_or(err(usize::MAX))?;
    if off & 3 != 0 || off < data.0 || off.checked_add(len).is_none_or(|end| end > data.1) {
        return Err(err(len));
    }
    Ok((off, len))
}

/// Where a layer record sits: its offset, index, whether it is the last one, and the data area.
#[derive(Clone, Copy)]
struct Place {
    r: usize,
    li: u16,
    last: bool,
    data: (usize, usize),
}

/// Parses and validates one layer record; `macs` is the running total of the layers before
/// (checked against [`MAX_MACS`] together with the output size before any array is scanned).
fn parse_record(blob: &[u8], at: &Place, input: Shape, macs: &mut u64) -> Result<Rec, FormatError> {
    let Place { r, li, last, data } = *at;
    let kind = blob.get(r).copied().unwrap_or(0);
    let flags = blob.get(r + 1).copied().unwrap_or(0);
    let param = blob.get(r + 2).copied().unwrap_or(0);
    let n2 = blob.get(r + 3).copied().unwrap_or(0) as i8;
    let n_in = rd_u32(blob, r + 4)? as usize;
    let n_out = rd_u32(blob, r + 8)? as usize;
    let w_len = rd_u32(blob, r + 16)? as usize;
    let bad = |field: &'static str, value: u32| FormatError::BadLayer {
        layer: li,
        field,
        value,
    };
    if !matches!(kind, KIND_CONV | KIND_DENSE | KIND_DENSE_P) {
        return Err(bad("kind", kind.into()));
    }
    let is_final = flags & FLAG_FINAL != 0;
    if is_final != last || (is_final && kind == KIND_CONV) {
        return Err(FormatError::BadFinalLayer { layer: li });
    }
    let allowed = if kind == KIND_CONV {
        FLAG_POOL | FLAG_FINAL
    } else {
        FLAG_FINAL
    };
    if flags & !allowed != 0 {
        return Err(bad("flags", flags.into()));
    }
    if rd_u32(blob, r + 36)? != 0 {
        return Err(bad("reserved", rd_u32(blob, r + 36)?));
    }
    if kind != KIND_DENSE_P && n2 != 0 {
        return Err(bad("n2", n2 as u8 as u32));
    }
    if n_out == 0 {
        return Err(FormatError::BadShape { layer: li });
    }
    let in_len = input
        .checked_len()
        .ok_or(FormatError::BadShape { layer: li })?;
    let mismatch = |expected: usize, got: usize| FormatError::ShapeMismatch {
        layer: li,
        expected: u32::try_from(expected).unwrap_or(u32::MAX),
        got: u32::try_from(got).unwrap_or(u32::MAX),
    };
    // `per_out`: weights per output channel of an NP layer (unused for P layers)
    let (output, w_expected, per_out) = match kind {
        KIND_CONV => {
            let k = usize::from(param);
            if k == 0 {
                return Err(bad("k", 0));
            }
            if n_in != input.c {
                return Err(mismatch(input.c, n_in));
            }
            if k > input.h || k > input.w {
                return Err(mismatch(input.h.min(input.w), k));
            }
            let (ch, cw) = (input.h + 1 - k, input.w + 1 - k);
            let pool = flags & FLAG_POOL != 0;
            let out = if pool {
                Shape {
                    h: ch / 2,
                    w: cw / 2,
                    c: n_out,
                }
            } else {
                Shape {
                    h: ch,
                    w: cw,
                    c: n_out,
                }
            };
            let wl = n_out.checked_mul(k * k).and_then(|x| x.checked_mul(n_in));
            (out, wl, (k * k).saturating_mul(n_in))
        }
        _ => {
            if n_in != in_len {
                return Err(mismatch(in_len, n_in));
            }
            if kind == KIND_DENSE_P {
                if !(PBITS_MIN..=PBITS_MAX).contains(&param) {
                    return Err(bad("bits", param.into()));
                }
                (
                    Shape {
                        h: 1,
                        w: 1,
                        c: n_out,
                    },
                    Some(w_len),
                    0,
                )
            } else {
                if param != 0 {
                    return Err(bad("param", param.into()));
                }
                (
                    Shape {
                        h: 1,
                        w: 1,
                        c: n_out,
                    },
                    n_out.checked_mul(n_in),
                    n_in,
                )
            }
        }
    };
    let out_len = output
        .checked_len()
        .ok_or(FormatError::BadShape { layer: li })?;
    if out_len == 0 {
        return Err(FormatError::BadShape { layer: li });
    }
    let too_large = |limit: Limit, value: u64, max: u64| FormatError::TooLarge {
        layer: li,
        limit,
        value,
        max,
    };
    if out_len > MAX_ACTIVATION_BYTES {
        let max = MAX_ACTIVATION_BYTES as u64;
        return Err(too_large(Limit::ActivationBytes, out_len as u64, max));
    }
    // this layer's multiply-accumulates: conv `(h-k+1)(w-k+1) k^2 cin cout` (before the pool),
    // dense `n_in n_out`, P the entry count (an upper bound of its shift-adds)
    let layer_macs = match kind {
        KIND_CONV => {
            let k = u64::from(param);
            let px = (input.h as u64 + 1 - k).saturating_mul(input.w as u64 + 1 - k);
            px.saturating_mul(k * k)
                .saturating_mul(n_in as u64)
                .saturating_mul(n_out as u64)
        }
        KIND_DENSE => (n_in as u64).saturating_mul(n_out as u64),
        _ => w_len as u64,
    };
    *macs = macs.saturating_add(layer_macs);
    if *macs > MAX_MACS {
        return Err(too_large(Limit::Macs, *macs, MAX_MACS));
    }
    let w_expected = w_expected.ok_or(FormatError::BadShape { layer: li })?;
    if w_len != w_expected {
        return Err(mismatch(w_expected, w_len));
    }
    let w = array_at(blob, r + 12, li, Array::Weights, Some(w_len), data)?;
    let bias = array_at(blob, r + 20, li, Array::Bias, n_out.checked_mul(4), data)?;
    let (m, shift) = if is_final {
        for (at, field) in [(r + 24, "m_off"), (r + 28, "shift_off")] {
            let v = rd_u32(blob, at)?;
            if v != 0 {
                return Err(bad(field, v));
            }
        }
        ((0, 0), (0, 0))
    } else {
        (
            array_at(
                blob,
                r + 24,
                li,
                Array::Multiplier,
                n_out.checked_mul(2),
                data,
            )?,
            array_at(blob, r + 28, li, Array::Shift, Some(n_out), data)?,
        )
    };
    let row_len = if kind == KIND_DENSE_P {
        array_at(blob, r + 32, li, Array::RowLen, n_out.checked_mul(2), data)?
    } else {
        let v = rd_u32(blob, r + 32)?;
        if v != 0 {
            return Err(bad("rowlen_off", v));
        }
        (0, 0)
    };
    let sl = |(o, n): (usize, usize)| &blob[o..o + n];

    // requantisation parameters
    if !is_final {
        let rq = RequantParams {
            m: U16s(sl(m)),
            shift: sl(shift),
        };
        for (c, q) in rq.iter().enumerate() {
            if !q.is_valid() {
                return Err(FormatError::BadRequant {
                    layer: li,
                    channel: c as u32,
                    m: q.m,
                    shift: q.shift,
                });
            }
        }
    }

    // weights: P codes and row bounds, then the accumulator bound per output
    let biases = I32s(sl(bias));
    let acc_ok = |c: usize, bias: i32, abs_sum: u64| {
        // |bias| + 255 * sum|w| < 2^31  (abs_sum saturates, so huge sums fail too)
        let bound = u64::from(bias.unsigned_abs()).saturating_add(abs_sum.saturating_mul(255));
        if bound < 1 << 31 {
            Ok(())
        } else {
            Err(FormatError::AccumulatorOverflow {
                layer: li,
                channel: c as u32,
            })
        }
    };
    if kind == KIND_DENSE_P {
        let entries = sl(w);
        let rows = U16s(sl(row_len));
        let total: usize = rows.iter().map(usize::from).sum();
        if total != entries.len() {
            return Err(mismatch(total, entries.len()));
        }
        let mut e = 0usize;
        for (o, (len, b)) in rows.iter().zip(biases.iter()).enumerate() {
            let mut cursor = 0usize;
            let mut abs_sum = 0u64;
            for &byte in &entries[e..e + usize::from(len)] {
                let c = PCode::decode(byte, param);
                if !c.is_valid() {
                    return Err(FormatError::BadPCode {
                        layer: li,
                        entry: e as u32,
                        byte,
                    });
                }
                cursor += usize::from(c.skip);
                if c.magnitude != 0 {
                    if cursor >= n_in {
                        return Err(FormatError::PRowOverrun {
                            layer: li,
                            row: o as u32,
                        });
                    }
                    // magnitude - 1 <= max_shift(7) = 62, so this cannot overflow u64
                    abs_sum = abs_sum.saturating_add(1u64 << (c.magnitude - 1));
                }
                cursor += 1;
                e += 1;
            }
            if cursor > n_in {
                return Err(FormatError::PRowOverrun {
                    layer: li,
                    row: o as u32,
                });
            }
            acc_ok(o, b, abs_sum)?;
        }
    } else {
        let weights = sl(w);
        if let Some(i) = weights.iter().position(|&x| x == 0x80) {
            return Err(FormatError::WeightOutOfRange {
                layer: li,
                index: i as u32,
            });
        }
        // w_len == n_out * per_out (checked above): row o is weights[o * per_out..][..per_out]
        let mut rows = weights;
        for (o, b) in biases.iter().enumerate() {
            let (row, rest) = rows.split_at(per_out.min(rows.len()));
            rows = rest;
            let abs_sum: u64 = row
                .iter()
                .map(|&x| u64::from((x as i8).unsigned_abs()))
                .sum();
            acc_ok(o, b, abs_sum)?;
        }
    }
    Ok(Rec {
        kind,
        flags,
        param,
        n2,
        n_in,
        n_out,
        w,
        bias,
        m,
        shift,
        row_len,
        input,
        output,
    })
}

#[cfg(feature = "alloc")]
mod encode;
#[cfg(feature = "alloc")]
pub use encode::{encode, encode_p_row, LayerDesc, ModelDesc};
