//! The model-blob writer (feature `alloc`): the host exporter's side of the format.
//!
//! [`encode`] lays out a [`ModelDesc`] as described in `docs/model-format.md` and then runs the
//! reader over the result, so a blob that encodes is a blob that parses: the validity rules are
//! written once, in [`Model::parse`].

extern crate alloc;

use super::*;
use crate::numerics::{encode_p_entries, PCode, PEncodeError, Requant, PBITS_MAX, PBITS_MIN};
use alloc::string::String;
use alloc::vec::Vec;

/// An owned model description, the encoder's input.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDesc {
    /// Input image shape (each dimension `1..=65535`).
    pub input: Shape,
    /// One short UTF-8 name per class (`1..=MAX_NAME_LEN` bytes each).
    pub class_names: Vec<String>,
    /// Real value of one logit unit (finite, > 0), for the host's softmax.
    pub logit_scale: f32,
    /// Layers, input to logits; the last one must be a dense kind with `rq: None`.
    pub layers: Vec<LayerDesc>,
}

/// One layer of a [`ModelDesc`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerDesc {
    /// Valid stride-1 convolution (never the final layer).
    Conv {
        /// Kernel side.
        k: u8,
        /// Input channels (must equal the previous output's `c`).
        cin: usize,
        /// Output channels.
        cout: usize,
        /// Fused 2x2/2 max-pool.
        pool: bool,
        /// `[cout][k][k][cin]`, each in `[-127, 127]`.
        weights: Vec<i8>,
        /// `[cout]`.
        bias: Vec<i32>,
        /// `[cout]`.
        rq: Vec<Requant>,
    },
    /// NP dense layer.
    Dense {
        /// Inputs (the previous output flattened, HWC).
        n_in: usize,
        /// Outputs.
        n_out: usize,
        /// `[n_out][n_in]`, each in `[-127, 127]`.
        weights: Vec<i8>,
        /// `[n_out]`.
        bias: Vec<i32>,
        /// `[n_out]`, or `None` for the final (logits) layer.
        rq: Option<Vec<Requant>>,
    },
    /// P (sparse power-of-two) dense layer; build rows with [`encode_p_row`].
    DenseP {
        /// Inputs.
        n_in: usize,
        /// Outputs.
        n_out: usize,
        /// Code width, `PBITS_MIN..=PBITS_MAX`.
        bits: u8,
        /// Exponent base (weight unit `2^n2`), informational.
        n2: i8,
        /// Entries per row, `[n_out]`.
        row_len: Vec<u16>,
        /// All rows' entry bytes, row after row.
        entries: Vec<u8>,
        /// `[n_out]`.
        bias: Vec<i32>,
        /// `[n_out]`, or `None` for the final layer.
        rq: Option<Vec<Requant>>,
    },
}

impl LayerDesc {
    fn n_out(&self) -> usize {
        match self {
            LayerDesc::Conv { cout, .. } => *cout,
            LayerDesc::Dense { n_out, .. } | LayerDesc::DenseP { n_out, .. } => *n_out,
        }
    }
}

/// Appends the entry bytes of one P-layer row to `out` and returns the row's entry count
/// (the encoding is [`crate::numerics::encode_p_entries`]'s).
///
/// `weights[i]` is the weight of input `i` in units of `2^n2`: `0` or `±2^s` with
/// `0 <= s <= PCode::max_shift(bits)`. Zero runs longer than `PCode::max_skip(bits)` use
/// filler entries (magnitude 0); trailing zeros need no entries. Errors carry `layer`:
/// `BadLayer { field: "bits" }`, `BadLayer { field: "p_weight", value: i }` for an
/// unrepresentable weight at input `i`, `BadLayer { field: "row_len" }` past `u16::MAX` entries;
/// `out` is then as before the call.
pub fn encode_p_row(
    layer: u16,
    weights: &[i32],
    bits: u8,
    out: &mut Vec<u8>,
) -> Result<u16, FormatError> {
    let bad = |field, value| FormatError::BadLayer {
        layer,
        field,
        value,
    };
    if !(PBITS_MIN..=PBITS_MAX).contains(&bits) {
        return Err(bad("bits", bits.into()));
    }
    // the weights as codes: 0, or a power of two whose shift the code width holds
    let max_shift = u32::from(PCode::max_shift(bits));
    let code = |w: i32| {
        let mag = w.unsigned_abs();
        PCode {
            skip: 0,
            negative: w < 0,
            magnitude: if w == 0 {
                0
            } else {
                mag.trailing_zeros() as u8 + 1
            },
        }
    };
    if let Some(i) = weights.iter().position(|&w| {
        let mag = w.unsigned_abs();
        w != 0 && (!mag.is_power_of_two() || mag.trailing_zeros() > max_shift)
    }) {
        return Err(bad("p_weight", i as u32));
    }
    let start = out.len();
    // at most one entry per weight
    out.resize(start + weights.len(), 0);
    let encoded = encode_p_entries(
        &mut weights.iter().map(|&w| code(w)),
        bits,
        &mut out[start..],
    );
    let n = match encoded {
        Ok(n) => n,
        Err(PEncodeError::Weight { index }) => {
            out.truncate(start);
            return Err(bad("p_weight", index as u32));
        }
        Err(_) => {
            // unreachable: the width was checked and `out` holds one byte per weight
            out.truncate(start);
            return Err(bad("row_len", weights.len() as u32));
        }
    };
    out.truncate(start + n);
    u16::try_from(n).map_err(|_| {
        out.truncate(start);
        bad("row_len", n as u32)
    })
}

/// (kind, flags, param, n2, n_in, weight bytes, bias, rq, row lengths) of one layer.
type LayerParts<'a> = (
    u8,
    u8,
    u8,
    i8,
    usize,
    Vec<u8>,
    &'a Vec<i32>,
    Option<&'a Vec<Requant>>,
    Option<&'a Vec<u16>>,
);

fn pad4(b: &mut Vec<u8>) {
    while b.len() & 3 != 0 {
        b.push(0);
    }
}

/// Appends an array at a 4-aligned offset and returns that offset.
fn put(b: &mut Vec<u8>, bytes: impl IntoIterator<Item = u8>) -> u32 {
    pad4(b);
    let off = b.len() as u32;
    b.extend(bytes);
    off
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Encodes `desc` as a version-[`VERSION`] blob and validates it with [`Model::parse`].
pub fn encode(desc: &ModelDesc) -> Result<Vec<u8>, FormatError> {
    let dim = |field: &'static str, v: usize| {
        u16::try_from(v).map_err(|_| FormatError::BadHeader {
            field,
            value: v as u32,
        })
    };
    let (h, w, c) = (
        dim("in_h", desc.input.h)?,
        dim("in_w", desc.input.w)?,
        dim("in_c", desc.input.c)?,
    );
    let n_classes = dim("n_classes", desc.class_names.len())?;
    let n_layers = desc.layers.len();
    if n_layers == 0 || n_layers > MAX_LAYERS {
        return Err(FormatError::BadHeader {
            field: "n_layers",
            value: n_layers as u32,
        });
    }

    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // flags
    b.extend_from_slice(&0u32.to_le_bytes()); // total_len, patched below
    for v in [h, w, c, n_classes] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&desc.logit_scale.to_bits().to_le_bytes());
    b.extend_from_slice(&(n_layers as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // reserved
    b.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes()); // names_off
    b.extend_from_slice(&0u32.to_le_bytes()); // table_off, patched below
    debug_assert_eq!(b.len(), HEADER_LEN);

    for (i, name) in desc.class_names.iter().enumerate() {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(FormatError::BadName { class: i as u16 });
        }
        b.push(name.len() as u8);
        b.extend_from_slice(name.as_bytes());
    }
    pad4(&mut b);
    let table_off = b.len();
    set_u32(&mut b, 32, table_off as u32);
    b.resize(table_off + n_layers * LAYER_RECORD_LEN, 0);

    for (i, layer) in desc.layers.iter().enumerate() {
        let li = i as u16;
        let last = i + 1 == n_layers;
        let n_out = layer.n_out();
        let check = |what: usize| {
            if what == n_out {
                Ok(())
            } else {
                Err(FormatError::ShapeMismatch {
                    layer: li,
                    expected: n_out as u32,
                    got: what as u32,
                })
            }
        };
        let (kind, flags, param, n2, n_in, wbytes, bias, rq, rows): LayerParts<'_> = match layer {
            LayerDesc::Conv {
                k,
                cin,
                pool,
                weights,
                bias,
                rq,
                ..
            } => (
                KIND_CONV,
                if *pool { FLAG_POOL } else { 0 },
                *k,
                0,
                *cin,
                weights.iter().map(|&x| x as u8).collect(),
                bias,
                Some(rq),
                None,
            ),
            LayerDesc::Dense {
                n_in,
                weights,
                bias,
                rq,
                ..
            } => (
                KIND_DENSE,
                0,
                0,
                0,
                *n_in,
                weights.iter().map(|&x| x as u8).collect(),
                bias,
                rq.as_ref(),
                None,
            ),
            LayerDesc::DenseP {
                n_in,
                bits,
                n2,
                row_len,
                entries,
                bias,
                rq,
                ..
            } => (
                KIND_DENSE_P,
                0,
                *bits,
                *n2,
                *n_in,
                entries.clone(),
                bias,
                rq.as_ref(),
                Some(row_len),
            ),
        };
        if rq.is_none() != last {
            return Err(FormatError::BadFinalLayer { layer: li });
        }
        let flags = flags | if last { FLAG_FINAL } else { 0 };
        check(bias.len())?;
        let u32_of = |v: usize, field: &'static str| {
            u32::try_from(v).map_err(|_| FormatError::BadLayer {
                layer: li,
                field,
                value: u32::MAX,
            })
        };
        let w_len = u32_of(wbytes.len(), "w_len")?;
        let w_off = put(&mut b, wbytes);
        let bias_off = put(&mut b, bias.iter().flat_map(|v| v.to_le_bytes()));
        let (m_off, shift_off) = match rq {
            Some(rq) => {
                check(rq.len())?;
                (
                    put(&mut b, rq.iter().flat_map(|q| q.m.to_le_bytes())),
                    put(&mut b, rq.iter().map(|q| q.shift)),
                )
            }
            None => (0, 0),
        };
        let rows_off = match rows {
            Some(r) => {
                check(r.len())?;
                put(&mut b, r.iter().flat_map(|v| v.to_le_bytes()))
            }
            None => 0,
        };
        let r = table_off + i * LAYER_RECORD_LEN;
        b[r] = kind;
        b[r + 1] = flags;
        b[r + 2] = param;
        b[r + 3] = n2 as u8;
        set_u32(&mut b, r + 4, u32_of(n_in, "n_in")?);
        set_u32(&mut b, r + 8, u32_of(n_out, "n_out")?);
        set_u32(&mut b, r + 12, w_off);
        set_u32(&mut b, r + 16, w_len);
        set_u32(&mut b, r + 20, bias_off);
        set_u32(&mut b, r + 24, m_off);
        set_u32(&mut b, r + 28, shift_off);
        set_u32(&mut b, r + 32, rows_off);
    }
    pad4(&mut b);
    let total = b.len() + 4;
    set_u32(
        &mut b,
        8,
        u32::try_from(total).map_err(|_| FormatError::BadHeader {
            field: "total_len",
            value: u32::MAX,
        })?,
    );
    let crc = crate::crc::crc32(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Model::parse(&b)?;
    Ok(b)
}
