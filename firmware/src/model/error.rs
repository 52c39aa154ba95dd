//! What can be wrong with a model blob: [`FormatError`] (one structured variant per kind of
//! defect, with a stable [`FormatError::code`] per variant that `docs/model-format.md` lists
//! and the soft-core transcript prints) and the two enums its variants name, [`Array`] and
//! [`Limit`]. The encoder reports an invalid description with the same type.

use core::fmt;

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
    /// `total_len` against [`MAX_BLOB_LEN`](super::MAX_BLOB_LEN).
    BlobBytes,
    /// The input image `in_h * in_w * in_c` against
    /// [`MAX_ACTIVATION_BYTES`](super::MAX_ACTIVATION_BYTES).
    InputBytes,
    /// A layer's output `h * w * c` against
    /// [`MAX_ACTIVATION_BYTES`](super::MAX_ACTIVATION_BYTES).
    ActivationBytes,
    /// The multiply-accumulates up to and including a layer against [`MAX_MACS`](super::MAX_MACS).
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
    /// The blob does not start with [`MAGIC`](super::MAGIC).
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A format version this reader does not know.
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
    },
    /// The slice length differs from the header's `total_len` (strict
    /// [`Model::parse`](super::Model::parse) only).
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
    /// A class name is empty, longer than [`MAX_NAME_LEN`](super::MAX_NAME_LEN) or not UTF-8.
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
