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
//!
//! This file owns the format constants, the [`Model`] type (header, class names, layer table
//! walk) and the parsed [`Layer`] view. The rest sits in submodules, re-exported here:
//! `error` ([`FormatError`], [`Array`], [`Limit`]), `bytes` (the byte views [`I32s`],
//! [`U16s`], [`RequantParams`] and the header readers), `record` (one layer record, checked
//! section by section) and, behind `alloc`, `encode` (the writer).

mod bytes;
mod error;
mod record;

pub use bytes::{as_i8, I32s, RequantParams, U16s};
pub use error::{Array, FormatError, Limit};

use crate::crc;
use bytes::{rd_u16, rd_u32};
use record::{parse_record, Place, Rec};

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
/// (42.5 KB; `cnnfpga export` refuses more); the host also evaluates larger experiments (an
/// all-NP MLP on 64x64x3 is about 3 MB). Bounds what the host reads for one model file.
pub const MAX_BLOB_LEN: usize = 1 << 24;
/// Largest activation in bytes, the input image included (`h * w * c` of the input and of
/// every layer's output): 1 MiB. The runner's arena is two hidden activations
/// (`runner::arena_bytes`), so a parsed model never asks for more than 2 MiB + 3 bytes of arena
/// per inference. The SoC's windows are far smaller (arena 19 KB, input 12 KB; `cnnfpga export`
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
        // below 2^16 neither product can overflow a 32-bit usize: plain multiplies, which
        // the soft-core without a multiplier does in a few shift-add steps, where an
        // overflow-checked one is a 64-bit multiply (`__muldi3`) twice per layer and image
        const S: usize = 1 << 16;
        if self.h < S && self.w < S && self.c < S {
            let hw = self.h * self.w;
            if hw < S {
                return Some(hw * self.c);
            }
        }
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
    /// `input.len()`, computed once by the parser: on the multiplier-less soft-core each
    /// shape length is two multiply calls (~3 k cycles), which the runner needs twice per
    /// layer and image.
    pub in_len: usize,
    /// `output.len()` (u8 activations, or logits for the final layer), computed once.
    pub out_len: usize,
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
    /// [`Model::max_activation`], computed once by the parser (every inference asks for it).
    max_act: usize,
    /// Every layer's view, built once by the parser ([`Model::layer_ref`]): building one
    /// per layer and image cost the soft-core ~10 k cycles each.
    views: [Option<Layer<'a>>; MAX_LAYERS],
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
            if len == 0 || len > MAX_NAME_LEN || !is_utf8(name) {
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
        let mut model = Model {
            blob,
            input,
            n_classes,
            logit_scale: f32::from_bits(scale_bits),
            names,
            n_layers,
            recs,
            max_act: 0,
            views: [None; MAX_LAYERS],
        };
        model.max_act = model.scan_max_activation();
        for i in 0..n_layers {
            let view = model.build_layer(i);
            if let Some(v) = model.views.get_mut(i) {
                *v = view;
            }
        }
        Ok(model)
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
    /// Name of class `i` as its bytes (UTF-8, checked by the parser): for printing them as
    /// they are, without `core::str::from_utf8` (the soft-core firmware, whose FW area it
    /// would cost 0.7 KB).
    pub fn class_name_bytes(&self, i: usize) -> Option<&'a [u8]> {
        let mut bytes = &self.blob[self.names.0..self.names.1];
        for _ in 0..i {
            let (&len, rest) = bytes.split_first()?;
            bytes = rest.get(usize::from(len)..)?;
        }
        let (&len, rest) = bytes.split_first()?;
        rest.get(..usize::from(len))
    }
    /// Layer `i`.
    pub fn layer(&self, i: usize) -> Option<Layer<'a>> {
        self.layer_ref(i).copied()
    }

    /// Layer `i` by reference (`None` past the last): what [`Model::layer`] returns, without
    /// moving the ~90-byte view (the runner's per-layer call).
    pub fn layer_ref(&self, i: usize) -> Option<&Layer<'a>> {
        self.views.get(i)?.as_ref()
    }

    fn build_layer(&self, i: usize) -> Option<Layer<'a>> {
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
            in_len: r.input.len(),
            out_len: r.output.len(),
            is_final,
            weights: as_i8(w),
            entries: if is_p { w } else { &[] },
            row_len: U16s::new(bytes(r.row_len)),
            bias: I32s::new(bytes(r.bias)),
            rq: if is_final {
                None
            } else {
                Some(RequantParams {
                    m: U16s::new(bytes(r.m)),
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
        self.max_act
    }
    fn scan_max_activation(&self) -> usize {
        // an index loop: the iterator form divides by the record size (a call on the
        // soft-core, which has no divider, and the only one besides the UART's digits)
        let (mut max, mut i) = (0, 0);
        while i + 1 < self.n_layers {
            max = max.max(self.recs.get(i).map_or(0, |r| r.output.len()));
            i += 1;
        }
        max
    }
}

/// Whether `b` is well-formed UTF-8, exactly as `core::str::from_utf8(b).is_ok()` (unit tests:
/// every sequence of up to three bytes and every four-byte one over boundary bytes) in a fifth
/// of its code: the well-formed byte sequences of the Unicode Standard's table 3-7 (no overlong
/// forms, no surrogates, nothing above U+10FFFF), one code point at a time.
pub(crate) fn is_utf8(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        // continuation bytes after `c`, and the range of the first of them
        let (n, lo, hi) = match c {
            0x00..=0x7F => (0, 0, 0),
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return false,
        };
        let Some(tail) = b.get(i + 1..i + 1 + n) else {
            return false;
        };
        if let Some((&first, rest)) = tail.split_first() {
            if first < lo || first > hi || rest.iter().any(|&x| x & 0xC0 != 0x80) {
                return false;
            }
        }
        i += 1 + n;
    }
    true
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

#[cfg(feature = "alloc")]
mod encode;
#[cfg(feature = "alloc")]
pub use encode::{encode, encode_p_row, LayerDesc, ModelDesc};

#[cfg(test)]
mod tests {
    use super::is_utf8;

    fn same(b: &[u8]) {
        assert_eq!(is_utf8(b), core::str::from_utf8(b).is_ok(), "{b:02x?}");
    }

    /// `is_utf8` is `core::str::from_utf8(..).is_ok()`: every sequence of up to three bytes,
    /// every four-byte one over the bytes where the rules change, and those after ASCII or a
    /// valid prefix (a code point is checked from where the last one ended).
    #[test]
    fn is_utf8_is_core_from_utf8() {
        same(&[]);
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                for c in 0..=255u8 {
                    same(&[a, b, c]);
                }
            }
        }
        let edges = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF,
        ];
        for a in 0..=255u8 {
            for &b in &edges {
                for &c in &edges {
                    for &d in &edges {
                        same(&[a, b, c, d]);
                        same(&[0x41, a, b, c, d]);
                        same(&[0xC3, 0xA9, a, b, c, d]);
                        same(&[a, b, c, d, 0xE2, 0x82, 0xAC]);
                    }
                }
            }
        }
    }
}
