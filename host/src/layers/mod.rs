//! Layers of the float network: specifications (data, serialised in `model.json`) and the
//! forward/backward kernels.
//!
//! # Layout contract (shared with the integer side, see `firmware::numerics`)
//! * Activations are NHWC, `[n, h, w, c]`, channel fastest. A flattened activation of one image
//!   has index `(y * W + x) * C + c` — flatten is a no-op on memory, so dense weights that follow
//!   a flatten need no permutation for the integer pipeline.
//! * Conv weights `[out_ch, k, k, in_ch]` (OHWI, i.e. `[cout][ky][kx][cin]`), bias `[out_ch]`.
//! * Dense weights `[outputs, inputs]`, bias `[outputs]`.
//! * Convolutions are "valid" (no padding), stride 1; max-pool is 2x2 stride 2 with floor
//!   (a trailing odd row/column is dropped).
//!
//! # Speed
//! Convolutions are direct register-blocked kernels on the HWC tensors (see "Direct
//! convolution kernels" below): no im2col buffer, no GEMM packing, output channels padded to a
//! multiple of 8 in registers only. They are compiled with AVX2+FMA (selected at run time, no
//! `target-cpu` flag needed) and portably. Work is parallel over images with rayon. Weight
//! gradients are reduced over fixed chunks of [`GRAD_CHUNK`] images in a fixed order, so
//! results do not depend on the thread count. Dense layers use `matrixmultiply::sgemm`.

use ndarray::{Array4, ArrayD, IxDyn};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Images per partial weight-gradient sum in the parallel conv backward pass.
pub const GRAD_CHUNK: usize = 8;

/// Errors of layer construction and shape checking.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum LayerError {
    /// The input shape does not fit the layer.
    #[error("layer {index} ({op}): input shape {got:?} does not fit, expected {expected}")]
    Shape {
        /// Index of the layer in the list.
        index: usize,
        /// Layer kind.
        op: &'static str,
        /// Incoming activation shape `[h, w, c]`.
        got: [usize; 3],
        /// What the layer needs.
        expected: String,
    },
    /// A hyper-parameter is out of range.
    #[error("layer {index} ({op}): invalid parameter: {what}")]
    Invalid {
        /// Index of the layer in the list.
        index: usize,
        /// Layer kind.
        op: &'static str,
        /// Description.
        what: String,
    },
}

/// One layer of an architecture. Architectures are lists of these (see [`crate::model::Arch`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// Valid 2-D convolution, stride 1. Weight `[out_ch, kernel, kernel, in_ch]`, bias `[out_ch]`.
    Conv2d {
        /// Input channels.
        in_ch: usize,
        /// Output channels (filters).
        out_ch: usize,
        /// Square kernel size.
        kernel: usize,
    },
    /// Rectified linear unit.
    Relu,
    /// 2x2 max-pool, stride 2, floor.
    MaxPool2,
    /// `[h, w, c]` -> `[1, 1, h*w*c]`, HWC order (no data movement).
    Flatten,
    /// Fully connected. Weight `[outputs, inputs]`, bias `[outputs]`.
    Dense {
        /// Input features (the input must be flat: `[1, 1, inputs]`).
        inputs: usize,
        /// Output features.
        outputs: usize,
    },
    /// Inverted dropout with drop probability `p` (identity at inference).
    Dropout {
        /// Drop probability in `[0, 1)`.
        p: f32,
    },
}

impl LayerSpec {
    /// Short name of the operation, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::Relu => "relu",
            LayerSpec::MaxPool2 => "maxpool2",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Dropout { .. } => "dropout",
        }
    }

    /// Output shape `[h, w, c]` for an input shape, or a shape error.
    pub fn output_shape(&self, index: usize, s: [usize; 3]) -> Result<[usize; 3], LayerError> {
        let bad = |expected: String| LayerError::Shape {
            index,
            op: self.op(),
            got: s,
            expected,
        };
        match *self {
            LayerSpec::Conv2d {
                in_ch,
                out_ch,
                kernel,
            } => {
                if kernel == 0 || out_ch == 0 {
                    return Err(LayerError::Invalid {
                        index,
                        op: self.op(),
                        what: format!("kernel {kernel}, out_ch {out_ch} must be > 0"),
                    });
                }
                if s[2] != in_ch || s[0] < kernel || s[1] < kernel {
                    return Err(bad(format!("[>={kernel}, >={kernel}, {in_ch}]")));
                }
                Ok([s[0] - kernel + 1, s[1] - kernel + 1, out_ch])
            }
            LayerSpec::Relu => Ok(s),
            LayerSpec::MaxPool2 => {
                if s[0] < 2 || s[1] < 2 {
                    return Err(bad("[>=2, >=2, c]".into()));
                }
                Ok([s[0] / 2, s[1] / 2, s[2]])
            }
            LayerSpec::Flatten => s[0]
                .checked_mul(s[1])
                .and_then(|v| v.checked_mul(s[2]))
                .map(|n| [1, 1, n])
                .ok_or_else(|| bad("a shape whose size fits in usize".into())),
            LayerSpec::Dense { inputs, outputs } => {
                if outputs == 0 {
                    return Err(LayerError::Invalid {
                        index,
                        op: self.op(),
                        what: "outputs must be > 0".into(),
                    });
                }
                if s != [1, 1, inputs] {
                    return Err(bad(format!("[1, 1, {inputs}] (flatten first)")));
                }
                Ok([1, 1, outputs])
            }
            LayerSpec::Dropout { p } => {
                if !(0.0..1.0).contains(&p) {
                    return Err(LayerError::Invalid {
                        index,
                        op: self.op(),
                        what: format!("p = {p} not in [0, 1)"),
                    });
                }
                Ok(s)
            }
        }
    }

    /// Shapes of the layer's parameters (weight, bias) — empty for parameter-free layers.
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        match *self {
            LayerSpec::Conv2d {
                in_ch,
                out_ch,
                kernel,
            } => {
                vec![vec![out_ch, kernel, kernel, in_ch], vec![out_ch]]
            }
            LayerSpec::Dense { inputs, outputs } => vec![vec![outputs, inputs], vec![outputs]],
            _ => vec![],
        }
    }

    /// Fan-in of a parametric layer (for He initialisation).
    pub fn fan_in(&self) -> usize {
        match *self {
            LayerSpec::Conv2d { in_ch, kernel, .. } => in_ch * kernel * kernel,
            LayerSpec::Dense { inputs, .. } => inputs,
            _ => 0,
        }
    }
}

/// What a layer keeps from the forward pass for its backward pass.
#[derive(Debug)]
pub enum Cache {
    /// Nothing kept (inference, or a layer that needs nothing).
    None,
    /// The layer input (conv, dense).
    Input(Array4<f32>),
    /// Flatten: the input shape.
    Shape([usize; 4]),
    /// ReLU: where the input was > 0.
    Positive(Vec<bool>),
    /// Max-pool: input shape and, per output element, the arg-max position 0..4 in its window.
    Pool([usize; 4], Vec<u8>),
    /// Dropout: the multiplier per element (0 or 1/(1-p)).
    Mask(Vec<f32>),
    /// Fused conv + ReLU + max-pool ([`conv_relu_pool_forward`]): the conv input and the
    /// arg-max codes. The ReLU and pool layers of the triple keep [`Cache::None`].
    ConvReluPool(Array4<f32>, Vec<u8>),
}

// ---------------------------------------------------------------------------------------------
// GEMM
// ---------------------------------------------------------------------------------------------

/// A row-major matrix operand: slice, leading dimension and whether it is used transposed.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    /// The data.
    pub data: &'a [f32],
    /// Row stride of the matrix as stored.
    pub ld: usize,
    /// Use the transpose of the stored matrix.
    pub trans: bool,
}

impl<'a> Mat<'a> {
    /// Plain row-major matrix with leading dimension `ld`.
    pub fn n(data: &'a [f32], ld: usize) -> Self {
        Mat {
            data,
            ld,
            trans: false,
        }
    }
    /// Transpose of a row-major matrix with leading dimension `ld`.
    pub fn t(data: &'a [f32], ld: usize) -> Self {
        Mat {
            data,
            ld,
            trans: true,
        }
    }
    fn strides(&self) -> (isize, isize) {
        if self.trans {
            (1, self.ld as isize)
        } else {
            (self.ld as isize, 1)
        }
    }
}

/// `C[m, n] = alpha * A[m, k] · B[k, n] + beta * C` with row-major `C` (leading dim `ldc`).
///
/// # Panics
/// If a slice is too short for the stated shape (checked before the unsafe call).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Mat,
    b: Mat,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let need = |mat: &Mat, rows: usize, cols: usize| {
        let (r, cc) = if mat.trans {
            (cols, rows)
        } else {
            (rows, cols)
        };
        if r == 0 || cc == 0 {
            0
        } else {
            (r - 1) * mat.ld + cc
        }
    };
    assert!(a.data.len() >= need(&a, m, k), "gemm: A too short");
    assert!(b.data.len() >= need(&b, k, n), "gemm: B too short");
    assert!(
        ldc >= n && c.len() >= (m - 1) * ldc + n,
        "gemm: C too short"
    );
    let (rsa, csa) = a.strides();
    let (rsb, csb) = b.strides();
    // SAFETY: the bounds of every operand were checked above for the given strides.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            rsa,
            csa,
            b.data.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Single-image kernels (public so tests can compare them with naive loops)
// ---------------------------------------------------------------------------------------------

/// im2col of one HWC image for a valid `k x k` conv: `col[(oy*ow+ox), (ky*k+kx)*c + ci]`.
pub fn im2col(x: &[f32], h: usize, w: usize, c: usize, k: usize, col: &mut [f32]) {
    let (oh, ow) = (h - k + 1, w - k + 1);
    let span = k * c;
    let kkc = k * span;
    debug_assert!(col.len() >= oh * ow * kkc);
    for oy in 0..oh {
        for ox in 0..ow {
            let row = &mut col[(oy * ow + ox) * kkc..][..kkc];
            for ky in 0..k {
                let src = ((oy + ky) * w + ox) * c;
                row[ky * span..][..span].copy_from_slice(&x[src..src + span]);
            }
        }
    }
}

/// Adjoint of [`im2col`]: adds the columns back into the HWC image gradient `dx` (not cleared).
pub fn col2im_add(col: &[f32], h: usize, w: usize, c: usize, k: usize, dx: &mut [f32]) {
    let (oh, ow) = (h - k + 1, w - k + 1);
    let span = k * c;
    let kkc = k * span;
    for oy in 0..oh {
        for ox in 0..ow {
            let row = &col[(oy * ow + ox) * kkc..][..kkc];
            for ky in 0..k {
                let dst = ((oy + ky) * w + ox) * c;
                for (d, s) in dx[dst..dst + span]
                    .iter_mut()
                    .zip(&row[ky * span..][..span])
                {
                    *d += *s;
                }
            }
        }
    }
}

/// Forward conv of one HWC image: `y[oh, ow, o]` from `x[h, w, c]`, `wgt[o, k, k, c]`, `bias[o]`.
/// `col` is scratch of at least `oh*ow*k*k*c`.
#[allow(clippy::too_many_arguments)]
pub fn conv_forward_image(
    x: &[f32],
    [h, w, c]: [usize; 3],
    wgt: &[f32],
    bias: &[f32],
    out_ch: usize,
    k: usize,
    col: &mut [f32],
    y: &mut [f32],
) {
    let p = (h - k + 1) * (w - k + 1);
    let kkc = k * k * c;
    im2col(x, h, w, c, k, col);
    for row in y[..p * out_ch].chunks_exact_mut(out_ch) {
        row.copy_from_slice(bias);
    }
    gemm(
        p,
        kkc,
        out_ch,
        1.0,
        Mat::n(col, kkc),
        Mat::t(wgt, kkc),
        1.0,
        y,
        out_ch,
    );
}

// ---------------------------------------------------------------------------------------------
// Direct convolution kernels (implicit GEMM on HWC, no im2col buffer)
// ---------------------------------------------------------------------------------------------
//
// All three conv products are register-blocked loops over the HWC tensors themselves:
// * forward: a tile of `MR` output pixels x `NP` output channels is accumulated in registers
//   over the `k*k*in_ch` window (for each kernel row, `k*in_ch` contiguous input floats);
// * input gradient: the same kernel on the gradient zero-padded by `k-1`, with the weights
//   flipped and transposed (a "full" correlation), so it writes `dx` without a scatter;
// * weight gradient: a tile of `R` window positions x `NP` output channels accumulated over
//   all output pixels of the image.
// Output channels are padded to a multiple of 8 (one AVX register) in the packed weights; the
// padding lanes compute zeros (forward) or are discarded (weight gradient). The same generic
// Rust is compiled twice: with AVX2+FMA (chosen at run time) and portable (SSE2, mul + add).

/// Largest output-channel block of the direct kernels (wider layers are split into blocks).
const NP_MAX: usize = 24;

/// Whether the AVX2+FMA kernels are used (runtime detection; `std` caches the answer).
fn use_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !PORTABLE_ONLY.load(std::sync::atomic::Ordering::Relaxed)
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

static PORTABLE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Forces the portable (non-FMA) conv kernels even where AVX2+FMA exist, so tests can check
/// both code paths. Results of the two paths differ only by float rounding.
#[doc(hidden)]
pub fn force_portable_kernels(on: bool) {
    PORTABLE_ONLY.store(on, std::sync::atomic::Ordering::Relaxed);
}

#[inline(always)]
fn madd<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Output-channel blocks `(first channel, channels, padded width)` of a layer with `o` outputs.
fn channel_blocks(o: usize) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    let mut c0 = 0;
    while c0 < o {
        let nb = (o - c0).min(NP_MAX);
        v.push((c0, nb, nb.div_ceil(8) * 8));
        c0 += nb;
    }
    v
}

/// Weights `[o][r]` (r = window position, `kkc` of them) packed per channel block as
/// `[r][np]`, zero-padded; blocks concatenated.
fn pack_weights(w: &[f32], o: usize, kkc: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for (c0, nb, np) in channel_blocks(o) {
        let start = out.len();
        out.resize(start + kkc * np, 0.0);
        for j in 0..nb {
            for r in 0..kkc {
                out[start + r * np + j] = w[(c0 + j) * kkc + r];
            }
        }
    }
    out
}

/// `MR` output pixels (input offsets `bases`) x `NP` channels over the `k x k x c` window.
///
/// # Safety
/// `x + bases[i] + ky*wc + j` for `ky < k`, `j < kc` and `wp + r*NP + lane` for
/// `r < k*kc` must be in bounds.
#[inline(always)]
unsafe fn conv_tile<const F: bool, const MR: usize, const NP: usize>(
    x: *const f32,
    bases: &[usize; MR],
    k: usize,
    kc: usize,
    wc: usize,
    wp: *const f32,
    init: &[f32; NP],
) -> [[f32; NP]; MR] {
    let mut acc = [*init; MR];
    for ky in 0..k {
        let xr = x.add(ky * wc);
        let wr = wp.add(ky * kc * NP);
        for j in 0..kc {
            let wv: [f32; NP] = std::ptr::read_unaligned(wr.add(j * NP) as *const [f32; NP]);
            for i in 0..MR {
                let b = *xr.add(bases[i] + j);
                for l in 0..NP {
                    acc[i][l] = madd::<F>(b, wv[l], acc[i][l]);
                }
            }
        }
    }
    acc
}

/// AVX2+FMA version of [`conv_tile`] with explicit registers (`NP / 8` vectors per pixel).
///
/// # Safety
/// As [`conv_tile`]; AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn conv_tile_avx<const MR: usize, const NP: usize>(
    x: *const f32,
    bases: &[usize; MR],
    k: usize,
    kc: usize,
    wc: usize,
    wp: *const f32,
    init: &[f32; NP],
) -> [[f32; NP]; MR] {
    use std::arch::x86_64::*;
    const MAXV: usize = NP_MAX / 8;
    let nv = NP / 8;
    let mut acc = [[_mm256_setzero_ps(); MAXV]; MR];
    for a in acc.iter_mut() {
        for (v, a) in a.iter_mut().enumerate().take(nv) {
            *a = _mm256_loadu_ps(init.as_ptr().add(8 * v));
        }
    }
    let xp: [*const f32; MR] = std::array::from_fn(|i| x.add(bases[i]));
    for ky in 0..k {
        let ko = ky * wc;
        let wr = wp.add(ky * kc * NP);
        for j in 0..kc {
            let mut wv = [_mm256_setzero_ps(); MAXV];
            for (v, w) in wv.iter_mut().enumerate().take(nv) {
                *w = _mm256_loadu_ps(wr.add(j * NP + 8 * v));
            }
            for i in 0..MR {
                let b = _mm256_set1_ps(*xp[i].add(ko + j));
                for v in 0..nv {
                    acc[i][v] = _mm256_fmadd_ps(b, wv[v], acc[i][v]);
                }
            }
        }
    }
    let mut out = [[0f32; NP]; MR];
    for (o, a) in out.iter_mut().zip(&acc) {
        for (v, a) in a.iter().enumerate().take(nv) {
            _mm256_storeu_ps(o.as_mut_ptr().add(8 * v), *a);
        }
    }
    out
}

/// AVX2+FMA version of [`dw_tile`].
///
/// # Safety
/// As [`dw_tile`]; AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_tile_avx<const R: usize, const NP: usize>(
    x: *const f32,
    offs: &[usize; R],
    oh: usize,
    ow: usize,
    w: usize,
    c: usize,
    dyp: *const f32,
    acc: &mut [[f32; NP]; R],
) {
    use std::arch::x86_64::*;
    const MAXV: usize = NP_MAX / 8;
    let nv = NP / 8;
    let mut a = [[_mm256_setzero_ps(); MAXV]; R];
    for (a, s) in a.iter_mut().zip(acc.iter()) {
        for (v, a) in a.iter_mut().enumerate().take(nv) {
            *a = _mm256_loadu_ps(s.as_ptr().add(8 * v));
        }
    }
    let xq: [*const f32; R] = std::array::from_fn(|r| x.add(offs[r]));
    for oy in 0..oh {
        let xrow = oy * w * c;
        let grow = dyp.add(oy * ow * NP);
        for ox in 0..ow {
            let xo = xrow + ox * c;
            let mut gv = [_mm256_setzero_ps(); MAXV];
            for (v, g) in gv.iter_mut().enumerate().take(nv) {
                *g = _mm256_loadu_ps(grow.add(ox * NP + 8 * v));
            }
            for r in 0..R {
                let b = _mm256_set1_ps(*xq[r].add(xo));
                for v in 0..nv {
                    a[r][v] = _mm256_fmadd_ps(b, gv[v], a[r][v]);
                }
            }
        }
    }
    for (s, a) in acc.iter_mut().zip(&a) {
        for (v, a) in a.iter().enumerate().take(nv) {
            _mm256_storeu_ps(s.as_mut_ptr().add(8 * v), *a);
        }
    }
}

/// Geometry of one direct conv call on one image.
#[derive(Clone, Copy)]
struct ConvGeom {
    h: usize,
    w: usize,
    c: usize,
    k: usize,
    /// Output channels of the layer (row stride of `y`).
    o: usize,
}

/// One channel block of a forward conv of one image: `y[p, c0..c0+nb] = bias + window · w`,
/// optionally followed by ReLU.
///
/// # Safety
/// `x.len() >= h*w*c`, `wp.len() >= k*k*c*NP`, `y.len() >= oh*ow*o`, `c0 + nb <= o`, `nb <= NP`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn conv_block_body<const F: bool, const MR: usize, const NP: usize>(
    x: &[f32],
    g: ConvGeom,
    wp: &[f32],
    bias: &[f32; NP],
    c0: usize,
    nb: usize,
    relu: bool,
    y: &mut [f32],
) {
    let (oh, ow) = (g.h - g.k + 1, g.w - g.k + 1);
    let total = oh * ow;
    let mut p = 0;
    while p < total {
        let mut bases = [0usize; MR];
        for (i, b) in bases.iter_mut().enumerate() {
            let q = (p + i).min(total - 1);
            *b = ((q / ow) * g.w + q % ow) * g.c;
        }
        #[cfg(target_arch = "x86_64")]
        let acc = if F {
            conv_tile_avx::<MR, NP>(
                x.as_ptr(),
                &bases,
                g.k,
                g.k * g.c,
                g.w * g.c,
                wp.as_ptr(),
                bias,
            )
        } else {
            conv_tile::<F, MR, NP>(
                x.as_ptr(),
                &bases,
                g.k,
                g.k * g.c,
                g.w * g.c,
                wp.as_ptr(),
                bias,
            )
        };
        #[cfg(not(target_arch = "x86_64"))]
        let acc = conv_tile::<F, MR, NP>(
            x.as_ptr(),
            &bases,
            g.k,
            g.k * g.c,
            g.w * g.c,
            wp.as_ptr(),
            bias,
        );
        for (i, a) in acc.iter().enumerate().take(total - p) {
            let row = &mut y[(p + i) * g.o + c0..][..nb];
            if relu {
                for (d, s) in row.iter_mut().zip(a) {
                    *d = s.max(0.0);
                }
            } else {
                row.copy_from_slice(&a[..nb]);
            }
        }
        p += MR;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn conv_block_fma<const MR: usize, const NP: usize>(
    x: &[f32],
    g: ConvGeom,
    wp: &[f32],
    bias: &[f32; NP],
    c0: usize,
    nb: usize,
    relu: bool,
    y: &mut [f32],
) {
    conv_block_body::<true, MR, NP>(x, g, wp, bias, c0, nb, relu, y)
}

#[allow(clippy::too_many_arguments)]
fn conv_block_portable<const MR: usize, const NP: usize>(
    x: &[f32],
    g: ConvGeom,
    wp: &[f32],
    bias: &[f32; NP],
    c0: usize,
    nb: usize,
    relu: bool,
    y: &mut [f32],
) {
    // SAFETY: the caller (`conv_direct_image`) checked the slice lengths.
    unsafe { conv_block_body::<false, MR, NP>(x, g, wp, bias, c0, nb, relu, y) }
}

#[allow(clippy::too_many_arguments)]
fn conv_block<const MR: usize, const NP: usize>(
    fma: bool,
    x: &[f32],
    g: ConvGeom,
    wp: &[f32],
    bias: &[f32],
    c0: usize,
    nb: usize,
    relu: bool,
    y: &mut [f32],
) {
    let mut b = [0f32; NP];
    b[..nb].copy_from_slice(&bias[c0..c0 + nb]);
    #[cfg(target_arch = "x86_64")]
    if fma {
        // SAFETY: AVX2 and FMA were detected at run time; lengths checked by the caller.
        unsafe { conv_block_fma::<MR, NP>(x, g, wp, &b, c0, nb, relu, y) };
        return;
    }
    let _ = fma;
    conv_block_portable::<MR, NP>(x, g, wp, &b, c0, nb, relu, y)
}

/// Direct valid conv of one HWC image with packed weights (see [`pack_weights`]):
/// `y[oh, ow, o] = bias + conv`, optionally ReLU'd.
fn conv_direct_image(
    x: &[f32],
    g: ConvGeom,
    packed: &[f32],
    bias: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    let kkc = g.k * g.k * g.c;
    let (oh, ow) = (g.h - g.k + 1, g.w - g.k + 1);
    assert!(x.len() >= g.h * g.w * g.c && y.len() >= oh * ow * g.o && bias.len() >= g.o);
    let fma = use_fma();
    let mut off = 0;
    for (c0, nb, np) in channel_blocks(g.o) {
        let wp = &packed[off..off + kkc * np];
        match np {
            8 => conv_block::<8, 8>(fma, x, g, wp, bias, c0, nb, relu, y),
            16 => conv_block::<6, 16>(fma, x, g, wp, bias, c0, nb, relu, y),
            _ => conv_block::<3, 24>(fma, x, g, wp, bias, c0, nb, relu, y),
        }
        off += kkc * np;
    }
}

/// `R` window positions (input offsets `offs`) x `NP` channels of the weight gradient,
/// accumulated over all `oh x ow` output pixels of one image.
///
/// # Safety
/// `x + (oy*w + ox)*c + offs[r]` and `dyp + p*NP + lane` in bounds for every output pixel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_tile<const F: bool, const R: usize, const NP: usize>(
    x: *const f32,
    offs: &[usize; R],
    oh: usize,
    ow: usize,
    w: usize,
    c: usize,
    dyp: *const f32,
    acc: &mut [[f32; NP]; R],
) {
    let mut a = *acc;
    for oy in 0..oh {
        let xrow = x.add(oy * w * c);
        let grow = dyp.add(oy * ow * NP);
        for ox in 0..ow {
            let xp = xrow.add(ox * c);
            let gv: [f32; NP] = std::ptr::read_unaligned(grow.add(ox * NP) as *const [f32; NP]);
            for r in 0..R {
                let b = *xp.add(offs[r]);
                for l in 0..NP {
                    a[r][l] = madd::<F>(b, gv[l], a[r][l]);
                }
            }
        }
    }
    *acc = a;
}

/// Adds one image's weight gradient for one channel block into `dwp` (`[kkc][NP]`), from the
/// block's output gradient `dyp` padded to `[oh*ow][NP]`.
///
/// # Safety
/// `x.len() >= h*w*c`, `dyp.len() >= oh*ow*NP`, `dwp.len() >= kkc*NP`.
#[inline(always)]
unsafe fn dw_block_body<const F: bool, const R: usize, const NP: usize>(
    x: &[f32],
    g: ConvGeom,
    dyp: &[f32],
    dwp: &mut [f32],
) {
    let (oh, ow) = (g.h - g.k + 1, g.w - g.k + 1);
    let kc = g.k * g.c;
    let kkc = g.k * kc;
    let mut r0 = 0;
    while r0 < kkc {
        let mut offs = [0usize; R];
        for (i, o) in offs.iter_mut().enumerate() {
            let r = (r0 + i).min(kkc - 1);
            *o = (r / kc) * g.w * g.c + r % kc;
        }
        let valid = R.min(kkc - r0);
        let mut acc = [[0f32; NP]; R];
        for (i, a) in acc.iter_mut().enumerate().take(valid) {
            a.copy_from_slice(&dwp[(r0 + i) * NP..][..NP]);
        }
        #[cfg(target_arch = "x86_64")]
        if F {
            dw_tile_avx::<R, NP>(x.as_ptr(), &offs, oh, ow, g.w, g.c, dyp.as_ptr(), &mut acc);
        } else {
            dw_tile::<F, R, NP>(x.as_ptr(), &offs, oh, ow, g.w, g.c, dyp.as_ptr(), &mut acc);
        }
        #[cfg(not(target_arch = "x86_64"))]
        dw_tile::<F, R, NP>(x.as_ptr(), &offs, oh, ow, g.w, g.c, dyp.as_ptr(), &mut acc);
        for (i, a) in acc.iter().enumerate().take(valid) {
            dwp[(r0 + i) * NP..][..NP].copy_from_slice(a);
        }
        r0 += R;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_block_fma<const R: usize, const NP: usize>(
    x: &[f32],
    g: ConvGeom,
    dyp: &[f32],
    dwp: &mut [f32],
) {
    dw_block_body::<true, R, NP>(x, g, dyp, dwp)
}

fn dw_block<const R: usize, const NP: usize>(
    fma: bool,
    x: &[f32],
    g: ConvGeom,
    dyp: &[f32],
    dwp: &mut [f32],
) {
    let (oh, ow) = (g.h - g.k + 1, g.w - g.k + 1);
    assert!(
        x.len() >= g.h * g.w * g.c
            && dyp.len() >= oh * ow * NP
            && dwp.len() >= g.k * g.k * g.c * NP
    );
    #[cfg(target_arch = "x86_64")]
    if fma {
        // SAFETY: AVX2 and FMA were detected at run time; lengths checked above.
        unsafe { dw_block_fma::<R, NP>(x, g, dyp, dwp) };
        return;
    }
    let _ = fma;
    // SAFETY: lengths checked above.
    unsafe { dw_block_body::<false, R, NP>(x, g, dyp, dwp) }
}

/// Adds one image's weight gradient (all channel blocks) into `dwp` (packed like the
/// weights). `dyp` is scratch.
fn conv_dw_image(
    x: &[f32],
    g: ConvGeom,
    dy: &[f32],
    dyp: &mut Vec<f32>,
    dwp: &mut [f32],
    fma: bool,
) {
    let kkc = g.k * g.k * g.c;
    let p = (g.h - g.k + 1) * (g.w - g.k + 1);
    let mut off = 0;
    for (c0, nb, np) in channel_blocks(g.o) {
        dyp.clear();
        dyp.resize(p * np, 0.0);
        for (d, s) in dyp.chunks_exact_mut(np).zip(dy.chunks_exact(g.o)) {
            d[..nb].copy_from_slice(&s[c0..c0 + nb]);
        }
        let dst = &mut dwp[off..off + kkc * np];
        match np {
            8 => dw_block::<8, 8>(fma, x, g, dyp, dst),
            16 => dw_block::<6, 16>(fma, x, g, dyp, dst),
            _ => dw_block::<4, 24>(fma, x, g, dyp, dst),
        }
        off += kkc * np;
    }
}

/// Unpacks a packed `[r][np]`-per-block gradient into `[o][kkc]`.
fn unpack_weights(packed: &[f32], o: usize, kkc: usize, out: &mut [f32]) {
    let mut off = 0;
    for (c0, nb, np) in channel_blocks(o) {
        for j in 0..nb {
            for r in 0..kkc {
                out[(c0 + j) * kkc + r] = packed[off + r * np + j];
            }
        }
        off += kkc * np;
    }
}

/// Weights of the input-gradient conv: `wf[c][ky'][kx'][o] = w[o][k-1-ky'][k-1-kx'][c]`.
fn flip_weights(w: &[f32], o: usize, k: usize, c: usize) -> Vec<f32> {
    let mut f = vec![0f32; o * k * k * c];
    for oc in 0..o {
        for ky in 0..k {
            for kx in 0..k {
                for ci in 0..c {
                    f[((ci * k + (k - 1 - ky)) * k + (k - 1 - kx)) * o + oc] =
                        w[((oc * k + ky) * k + kx) * c + ci];
                }
            }
        }
    }
    f
}

// ---------------------------------------------------------------------------------------------
// Sparse conv backward (output gradients behind a max-pool are mostly zero)
// ---------------------------------------------------------------------------------------------
//
// After ReLU + 2x2 max-pool at most a quarter of the conv output gradient is non-zero. Where an
// image's gradient is that sparse (see [`SPARSE_DENSITY`]), the input and weight gradients are
// sums of rank-1 updates over the non-zero entries only: per output pixel, the `k*in_ch`
// contiguous floats of each kernel row are updated with the weight rows of its non-zero
// channels (dx), and per output channel, the weight row gathers the input rows of its non-zero
// pixels (dw). Same products as the dense kernels, fewer of them; only the summation order
// differs.

/// Largest non-zero fraction of an image's output gradient for which the sparse backward is
/// used (and only for kernel rows of at least 16 floats, where the rank-1 updates vectorise).
const SPARSE_DENSITY: f32 = 0.3;

/// Non-zero entries of one image's output gradient `[p][o]`, by pixel and by channel.
#[derive(Default)]
struct SparseGrad {
    /// Per pixel `p`, entries `pix_start[p]..pix_start[p+1]` of `pix_o` / `pix_g`.
    pix_start: Vec<u32>,
    pix_o: Vec<u32>,
    pix_g: Vec<f32>,
    /// Per channel `o`, entries `ch_start[o]..ch_start[o+1]` of `ch_base` (input offset of the
    /// pixel's window) / `ch_g`.
    ch_start: Vec<u32>,
    ch_base: Vec<u32>,
    ch_g: Vec<f32>,
}

impl SparseGrad {
    /// Builds the lists; returns `false` (lists unusable) if the gradient is too dense.
    fn build(&mut self, dy: &[f32], g: ConvGeom) -> bool {
        let (oh, ow) = (g.h - g.k + 1, g.w - g.k + 1);
        let nnz = dy.iter().filter(|v| **v != 0.0).count();
        if nnz as f32 > SPARSE_DENSITY * dy.len() as f32 {
            return false;
        }
        self.pix_start.clear();
        self.pix_o.clear();
        self.pix_g.clear();
        self.ch_start.clear();
        self.ch_start.resize(g.o + 1, 0);
        for (p, row) in dy.chunks_exact(g.o).enumerate().take(oh * ow) {
            let _ = p;
            self.pix_start.push(self.pix_o.len() as u32);
            for (o, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    self.pix_o.push(o as u32);
                    self.pix_g.push(v);
                    self.ch_start[o + 1] += 1;
                }
            }
        }
        self.pix_start.push(self.pix_o.len() as u32);
        for o in 0..g.o {
            self.ch_start[o + 1] += self.ch_start[o];
        }
        self.ch_base.clear();
        self.ch_base.resize(nnz, 0);
        self.ch_g.clear();
        self.ch_g.resize(nnz, 0.0);
        let mut next: Vec<u32> = self.ch_start[..g.o].to_vec();
        for p in 0..oh * ow {
            let base = (((p / ow) * g.w + p % ow) * g.c) as u32;
            let (s, e) = (self.pix_start[p] as usize, self.pix_start[p + 1] as usize);
            for (&o, &v) in self.pix_o[s..e].iter().zip(&self.pix_g[s..e]) {
                let slot = &mut next[o as usize];
                self.ch_base[*slot as usize] = base;
                self.ch_g[*slot as usize] = v;
                *slot += 1;
            }
        }
        true
    }
}

/// `dst[0..8*NV] += Σ g_e · w[o_e * stride ..][..8*NV]` (AVX2+FMA).
///
/// # Safety
/// Every weight row read and `dst[..8*NV]` in bounds; AVX2 and FMA available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn axpy_rows_avx<const NV: usize>(
    os: &[u32],
    gs: &[f32],
    w: *const f32,
    stride: usize,
    dst: *mut f32,
) {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); NV];
    for (&o, &g) in os.iter().zip(gs) {
        let wp = w.add(o as usize * stride);
        let gv = _mm256_set1_ps(g);
        for (v, a) in acc.iter_mut().enumerate() {
            *a = _mm256_fmadd_ps(gv, _mm256_loadu_ps(wp.add(8 * v)), *a);
        }
    }
    for (v, a) in acc.iter().enumerate() {
        let d = dst.add(8 * v);
        _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), *a));
    }
}

/// `dst[0..len] += Σ g_e · x[base_e ..][..len]` with `len <= 8*NV` (AVX2+FMA; the last vector
/// is a masked load).
///
/// # Safety
/// Every `x[base_e .. base_e + len]` and `dst[..len]` in bounds; AVX2 and FMA available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn gather_rows_avx<const NV: usize>(
    bases: &[u32],
    gs: &[f32],
    x: *const f32,
    len: usize,
    dst: *mut f32,
) {
    use std::arch::x86_64::*;
    let rem = len - 8 * (NV - 1);
    let lanes: [i32; 8] = std::array::from_fn(|l| if l < rem { -1 } else { 0 });
    let mask = _mm256_loadu_si256(lanes.as_ptr() as *const __m256i);
    let mut acc = [_mm256_setzero_ps(); NV];
    for (&b, &g) in bases.iter().zip(gs) {
        let xp = x.add(b as usize);
        let gv = _mm256_set1_ps(g);
        for (v, a) in acc.iter_mut().enumerate().take(NV - 1) {
            *a = _mm256_fmadd_ps(gv, _mm256_loadu_ps(xp.add(8 * v)), *a);
        }
        let t = _mm256_maskload_ps(xp.add(8 * (NV - 1)), mask);
        acc[NV - 1] = _mm256_fmadd_ps(gv, t, acc[NV - 1]);
    }
    let mut out = [0f32; 64];
    for (v, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(out.as_mut_ptr().add(8 * v), *a);
    }
    for (j, o) in out.iter().enumerate().take(len) {
        *dst.add(j) += *o;
    }
}

/// Sparse input gradient of one image into `dx` (`[h*w*c]` plus at least 8 floats of slack,
/// zeroed by the caller). `wrow` is `[o][k][kcp]`: each kernel row of each filter padded with
/// zeros to `kcp = ceil(k*c / 8) * 8` floats, so the padding lanes add exact zeros.
fn sparse_dx_image(sg: &SparseGrad, g: ConvGeom, wrow: &[f32], fma: bool, dx: &mut [f32]) {
    let (kc, ow) = (g.k * g.c, g.w - g.k + 1);
    let kcp = kc.div_ceil(8) * 8;
    assert!(dx.len() >= g.h * g.w * g.c + 8 && wrow.len() >= g.o * g.k * kcp);
    for p in 0..sg.pix_start.len() - 1 {
        let (s, e) = (sg.pix_start[p] as usize, sg.pix_start[p + 1] as usize);
        if s == e {
            continue;
        }
        let (os, gs) = (&sg.pix_o[s..e], &sg.pix_g[s..e]);
        let base = ((p / ow) * g.w + p % ow) * g.c;
        for ky in 0..g.k {
            let d0 = base + ky * g.w * g.c;
            #[cfg(target_arch = "x86_64")]
            if fma {
                let mut j = 0;
                while j < kcp {
                    let nv = ((kcp - j) / 8).min(8);
                    let w = wrow[ky * kcp + j..].as_ptr();
                    let stride = g.k * kcp;
                    // SAFETY: rows `o*stride + ky*kcp + j .. + 8*nv` lie inside `wrow` (checked
                    // length, o < g.o); `d0 + j + 8*nv <= d0 + kcp` is inside `dx` with slack.
                    unsafe {
                        let d = dx.as_mut_ptr().add(d0 + j);
                        match nv {
                            1 => axpy_rows_avx::<1>(os, gs, w, stride, d),
                            2 => axpy_rows_avx::<2>(os, gs, w, stride, d),
                            3 => axpy_rows_avx::<3>(os, gs, w, stride, d),
                            4 => axpy_rows_avx::<4>(os, gs, w, stride, d),
                            5 => axpy_rows_avx::<5>(os, gs, w, stride, d),
                            6 => axpy_rows_avx::<6>(os, gs, w, stride, d),
                            7 => axpy_rows_avx::<7>(os, gs, w, stride, d),
                            _ => axpy_rows_avx::<8>(os, gs, w, stride, d),
                        }
                    }
                    j += 8 * nv;
                }
                continue;
            }
            let _ = fma;
            let d = &mut dx[d0..d0 + kc];
            for (&o, &gv) in os.iter().zip(gs) {
                let w = &wrow[(o as usize * g.k + ky) * kcp..][..kc];
                for (d, w) in d.iter_mut().zip(w) {
                    *d += gv * *w;
                }
            }
        }
    }
}

/// Sparse weight gradient of one image added into `dw [o][k*k*c]`.
fn sparse_dw_image(sg: &SparseGrad, x: &[f32], g: ConvGeom, fma: bool, dw: &mut [f32]) {
    let kc = g.k * g.c;
    let kkc = g.k * kc;
    assert!(x.len() >= g.h * g.w * g.c && dw.len() >= g.o * kkc);
    for o in 0..g.o {
        let (s, e) = (sg.ch_start[o] as usize, sg.ch_start[o + 1] as usize);
        if s == e {
            continue;
        }
        let (bs, gs) = (&sg.ch_base[s..e], &sg.ch_g[s..e]);
        for ky in 0..g.k {
            let x0 = ky * g.w * g.c;
            let d0 = o * kkc + ky * kc;
            #[cfg(target_arch = "x86_64")]
            if fma {
                let mut j = 0;
                while j < kc {
                    let len = (kc - j).min(64);
                    let nv = len.div_ceil(8);
                    let xp = x[x0 + j..].as_ptr();
                    // SAFETY: every window row `base + x0 + j .. + len` lies inside the image
                    // (base is a valid output pixel's window origin), the masked last vector
                    // does not touch lanes beyond `len`; `d0 + j + len <= o*kkc + kkc`.
                    unsafe {
                        let d = dw.as_mut_ptr().add(d0 + j);
                        match nv {
                            1 => gather_rows_avx::<1>(bs, gs, xp, len, d),
                            2 => gather_rows_avx::<2>(bs, gs, xp, len, d),
                            3 => gather_rows_avx::<3>(bs, gs, xp, len, d),
                            4 => gather_rows_avx::<4>(bs, gs, xp, len, d),
                            5 => gather_rows_avx::<5>(bs, gs, xp, len, d),
                            6 => gather_rows_avx::<6>(bs, gs, xp, len, d),
                            7 => gather_rows_avx::<7>(bs, gs, xp, len, d),
                            _ => gather_rows_avx::<8>(bs, gs, xp, len, d),
                        }
                    }
                    j += len;
                }
                continue;
            }
            let _ = fma;
            let d = &mut dw[d0..d0 + kc];
            for (&b, &gv) in bs.iter().zip(gs) {
                let xr = &x[b as usize + x0..][..kc];
                for (d, xv) in d.iter_mut().zip(xr) {
                    *d += gv * *xv;
                }
            }
        }
    }
}

/// Weights `[o][k][k*c]` with each kernel row zero-padded to a multiple of 8 floats.
fn pad_weight_rows(w: &[f32], o: usize, k: usize, c: usize) -> Vec<f32> {
    let kc = k * c;
    let kcp = kc.div_ceil(8) * 8;
    let mut out = vec![0f32; o * k * kcp];
    for (dst, src) in out.chunks_exact_mut(kcp).zip(w.chunks_exact(kc)) {
        dst[..kc].copy_from_slice(src);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Batch forward / backward
// ---------------------------------------------------------------------------------------------

fn dims(x: &Array4<f32>) -> [usize; 4] {
    let s = x.shape();
    [s[0], s[1], s[2], s[3]]
}

/// Conv forward over a batch `[n, h, w, c]` -> `[n, oh, ow, out_ch]`, parallel over images
/// (direct kernel, see the module docs).
pub fn conv_forward(x: &Array4<f32>, wgt: &ArrayD<f32>, bias: &ArrayD<f32>) -> Array4<f32> {
    conv_forward_act(x, wgt, bias, false)
}

/// [`conv_forward`] followed by ReLU in the same pass when `relu` (the ReLU backward mask is
/// then `y > 0`).
pub fn conv_forward_act(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    bias: &ArrayD<f32>,
    relu: bool,
) -> Array4<f32> {
    let [n, h, w, c] = dims(x);
    let ws = wgt.shape();
    let (o, k) = (ws[0], ws[1]);
    assert_eq!(
        ws,
        &[o, k, k, c],
        "conv_forward: weight shape vs input channels"
    );
    assert_eq!(bias.len(), o, "conv_forward: bias length");
    let (oh, ow) = (h - k + 1, w - k + 1);
    let mut y = Array4::<f32>::zeros((n, oh, ow, o));
    let (xs, bs) = (x.as_slice().unwrap(), bias.as_slice().unwrap());
    let packed = pack_weights(wgt.as_slice().unwrap(), o, k * k * c);
    let g = ConvGeom { h, w, c, k, o };
    let (in_len, out_len) = (h * w * c, oh * ow * o);
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(out_len)
        .zip(xs.par_chunks(in_len))
        .for_each(|(yi, xi)| conv_direct_image(xi, g, &packed, bs, relu, yi));
    y
}

/// Conv backward. Returns `(dx, dw, db)`; `dx` only when `need_dx` (not for the first layer).
pub fn conv_backward(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    dy: &Array4<f32>,
    need_dx: bool,
) -> (Option<Array4<f32>>, ArrayD<f32>, ArrayD<f32>) {
    let [n, h, w, _] = dims(x);
    let k = wgt.shape()[1];
    let out_len = (h - k + 1) * (w - k + 1) * wgt.shape()[0];
    assert_eq!(
        dy.len(),
        n * out_len,
        "conv_backward: output gradient shape"
    );
    let dys = dy.as_slice().unwrap();
    conv_backward_with(x, wgt, need_dx, |i, d| {
        d.copy_from_slice(&dys[i * out_len..(i + 1) * out_len])
    })
}

/// Arg-max code of a fused pool window whose maximum (after ReLU) was 0: no gradient flows.
pub const POOL_NO_GRAD: u8 = 4;

/// Fused conv + bias + ReLU + 2x2/2 max-pool forward over a batch `[n, h, w, c]` ->
/// `[n, oh/2, ow/2, out_ch]`, one image at a time (the full-size conv output only ever exists
/// as a per-thread scratch image). Also returns, per pooled element, the arg-max position
/// 0..4 in its window (first maximum wins, as [`maxpool_forward`]) or [`POOL_NO_GRAD`] where
/// the maximum is 0 — exactly the gradient routing of the unfused conv, ReLU, pool.
pub fn conv_relu_pool_forward(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    bias: &ArrayD<f32>,
) -> (Array4<f32>, Vec<u8>) {
    let [n, h, w, c] = dims(x);
    let ws = wgt.shape();
    let (o, k) = (ws[0], ws[1]);
    assert_eq!(
        ws,
        &[o, k, k, c],
        "conv_relu_pool_forward: weight shape vs input channels"
    );
    assert_eq!(bias.len(), o, "conv_relu_pool_forward: bias length");
    let (oh, ow) = (h - k + 1, w - k + 1);
    let (ph, pw) = (oh / 2, ow / 2);
    let mut y = Array4::<f32>::zeros((n, ph, pw, o));
    let mut arg = vec![0u8; n * ph * pw * o];
    let (xs, bs) = (x.as_slice().unwrap(), bias.as_slice().unwrap());
    let packed = pack_weights(wgt.as_slice().unwrap(), o, k * k * c);
    let g = ConvGeom { h, w, c, k, o };
    let plen = ph * pw * o;
    if plen > 0 {
        y.as_slice_mut()
            .unwrap()
            .par_chunks_mut(plen)
            .zip(arg.par_chunks_mut(plen))
            .zip(xs.par_chunks(h * w * c))
            .for_each_init(
                || vec![0f32; oh * ow * o],
                |conv, ((yi, ai), xi)| {
                    conv_direct_image(xi, g, &packed, bs, true, conv);
                    pool_image(conv, [oh, ow, o], yi, ai, true);
                },
            );
    }
    (y, arg)
}

/// Backward of [`conv_relu_pool_forward`] from the pooled gradient `dpool [n, oh/2, ow/2, o]`
/// and the arg-max codes. Returns `(dx, dw, db)` like [`conv_backward`].
pub fn conv_relu_pool_backward(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    arg: &[u8],
    dpool: &Array4<f32>,
    need_dx: bool,
) -> (Option<Array4<f32>>, ArrayD<f32>, ArrayD<f32>) {
    let [n, h, w, _] = dims(x);
    let (o, k) = (wgt.shape()[0], wgt.shape()[1]);
    let (oh, ow) = (h - k + 1, w - k + 1);
    let (ph, pw) = (oh / 2, ow / 2);
    let plen = ph * pw * o;
    assert!(
        dpool.len() == n * plen && arg.len() == n * plen,
        "conv_relu_pool_backward: pooled gradient / arg-max shape"
    );
    let dps = dpool.as_slice().unwrap();
    conv_backward_with(x, wgt, need_dx, |i, dy| {
        dy.fill(0.0);
        let (dpi, ai) = (&dps[i * plen..][..plen], &arg[i * plen..][..plen]);
        for py in 0..ph {
            for px in 0..pw {
                let q0 = (py * pw + px) * o;
                for ch in 0..o {
                    let q = ai[q0 + ch];
                    if q < POOL_NO_GRAD {
                        let (yy, xx) = (2 * py + (q / 2) as usize, 2 * px + (q % 2) as usize);
                        dy[(yy * ow + xx) * o + ch] = dpi[q0 + ch];
                    }
                }
            }
        }
    })
}

/// 2x2/2 max-pool of one HWC image `[h, w, c]` into `y [h/2, w/2, c]` with arg-max codes;
/// with `no_grad_at_zero`, windows whose maximum is `<= 0` get [`POOL_NO_GRAD`].
fn pool_image(
    x: &[f32],
    [h, w, c]: [usize; 3],
    y: &mut [f32],
    arg: &mut [u8],
    no_grad_at_zero: bool,
) {
    let (oh, ow) = (h / 2, w / 2);
    for oy in 0..oh {
        for ox in 0..ow {
            let base = [
                ((2 * oy) * w + 2 * ox) * c,
                ((2 * oy) * w + 2 * ox + 1) * c,
                ((2 * oy + 1) * w + 2 * ox) * c,
                ((2 * oy + 1) * w + 2 * ox + 1) * c,
            ];
            let o = (oy * ow + ox) * c;
            for ch in 0..c {
                let mut best = x[base[0] + ch];
                let mut bi = 0u8;
                for (q, b) in base.iter().enumerate().skip(1) {
                    let v = x[b + ch];
                    if v > best {
                        best = v;
                        bi = q as u8;
                    }
                }
                y[o + ch] = best;
                arg[o + ch] = if no_grad_at_zero && best <= 0.0 {
                    POOL_NO_GRAD
                } else {
                    bi
                };
            }
        }
    }
}

/// Conv backward where `fill(i, dy)` writes the output gradient of image `i` into the scratch
/// `dy [oh*ow*o]` (so callers can build it from a pooled gradient without a batch-size array).
fn conv_backward_with<F>(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    need_dx: bool,
    fill: F,
) -> (Option<Array4<f32>>, ArrayD<f32>, ArrayD<f32>)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let [n, h, w, c] = dims(x);
    let ws = wgt.shape().to_vec();
    let (o, k) = (ws[0], ws[1]);
    assert_eq!(ws, [o, k, k, c], "conv_backward: weight shape vs input");
    let (oh, ow) = (h - k + 1, w - k + 1);
    let (p, kkc) = (oh * ow, k * k * c);
    let (in_len, out_len) = (h * w * c, p * o);
    let xs = x.as_slice().unwrap();
    let g = ConvGeom { h, w, c, k, o };
    // The input gradient is the forward kernel on dy zero-padded by k-1, flipped weights.
    let (ph, pw) = (h + k - 1, w + k - 1);
    let gpad = ConvGeom {
        h: ph,
        w: pw,
        c: o,
        k,
        o: c,
    };
    let flipped = need_dx.then(|| {
        pack_weights(
            &flip_weights(wgt.as_slice().unwrap(), o, k, c),
            c,
            k * k * o,
        )
    });
    let zero_bias = vec![0f32; c];
    let packed_len: usize = channel_blocks(o).iter().map(|b| b.2).sum::<usize>() * kkc;
    let fma = use_fma();
    let sparse_ok = k * c >= 16;
    let wrow = (sparse_ok && need_dx).then(|| pad_weight_rows(wgt.as_slice().unwrap(), o, k, c));
    let mut dx = if need_dx {
        Some(Array4::<f32>::zeros((n, h, w, c)))
    } else {
        None
    };
    let chunk_imgs = GRAD_CHUNK.min(n.max(1));
    let work = |chunk: usize, xc: &[f32], mut dxc: Option<&mut [f32]>| {
        let mut dwp = vec![0f32; packed_len];
        let mut db = vec![0f32; o];
        let mut dyp = Vec::new();
        let mut dyi = vec![0f32; out_len];
        let mut pad = if need_dx {
            vec![0f32; ph * pw * o]
        } else {
            Vec::new()
        };
        let mut dw_sparse = vec![0f32; if sparse_ok { o * kkc } else { 0 }];
        let mut sg = SparseGrad::default();
        let mut dx_slack = Vec::new();
        for (i, xi) in xc.chunks_exact(in_len).enumerate() {
            fill(chunk * chunk_imgs + i, &mut dyi);
            for row in dyi.chunks_exact(o) {
                for (b, g) in db.iter_mut().zip(row) {
                    *b += *g;
                }
            }
            if sparse_ok && sg.build(&dyi, g) {
                sparse_dw_image(&sg, xi, g, fma, &mut dw_sparse);
                if let (Some(dxc), Some(wr)) = (dxc.as_deref_mut(), wrow.as_deref()) {
                    dx_slack.clear();
                    dx_slack.resize(in_len + 8, 0.0);
                    sparse_dx_image(&sg, g, wr, fma, &mut dx_slack);
                    dxc[i * in_len..(i + 1) * in_len].copy_from_slice(&dx_slack[..in_len]);
                }
                continue;
            }
            conv_dw_image(xi, g, &dyi, &mut dyp, &mut dwp, fma);
            if let (Some(dxc), Some(fl)) = (dxc.as_deref_mut(), flipped.as_deref()) {
                for oy in 0..oh {
                    let dst = ((oy + k - 1) * pw + k - 1) * o;
                    pad[dst..dst + ow * o].copy_from_slice(&dyi[oy * ow * o..][..ow * o]);
                }
                let dxi = &mut dxc[i * in_len..(i + 1) * in_len];
                conv_direct_image(&pad, gpad, fl, &zero_bias, false, dxi);
            }
        }
        let mut dw = vec![0f32; o * kkc];
        unpack_weights(&dwp, o, kkc, &mut dw);
        if sparse_ok {
            dw.iter_mut().zip(&dw_sparse).for_each(|(a, b)| *a += *b);
        }
        (dw, db)
    };
    let partials: Vec<(Vec<f32>, Vec<f32>)> = match dx.as_mut() {
        Some(dx) => dx
            .as_slice_mut()
            .unwrap()
            .par_chunks_mut(in_len * chunk_imgs)
            .zip(xs.par_chunks(in_len * chunk_imgs))
            .enumerate()
            .map(|(ci, (dxc, xc))| work(ci, xc, Some(dxc)))
            .collect(),
        None => xs
            .par_chunks(in_len * chunk_imgs)
            .enumerate()
            .map(|(ci, xc)| work(ci, xc, None))
            .collect(),
    };
    let mut dw = vec![0f32; o * kkc];
    let mut db = vec![0f32; o];
    for (pw, pb) in &partials {
        dw.iter_mut().zip(pw).for_each(|(a, b)| *a += *b);
        db.iter_mut().zip(pb).for_each(|(a, b)| *a += *b);
    }
    (
        dx,
        ArrayD::from_shape_vec(IxDyn(&ws), dw).unwrap(),
        ArrayD::from_shape_vec(IxDyn(&[o]), db).unwrap(),
    )
}

/// Rows per parallel task in the dense kernels.
const DENSE_ROWS: usize = 32;

/// Dense forward: `x [n, 1, 1, in]`, `w [out, in]`, `b [out]` -> `[n, 1, 1, out]`.
pub fn dense_forward(x: &Array4<f32>, wgt: &ArrayD<f32>, bias: &ArrayD<f32>) -> Array4<f32> {
    let n = x.shape()[0];
    let (o, i) = (wgt.shape()[0], wgt.shape()[1]);
    assert_eq!(x.len(), n * i, "dense_forward: input features");
    let mut y = Array4::<f32>::zeros((n, 1, 1, o));
    let (xs, ws, bs) = (
        x.as_slice().unwrap(),
        wgt.as_slice().unwrap(),
        bias.as_slice().unwrap(),
    );
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(DENSE_ROWS * o)
        .zip(xs.par_chunks(DENSE_ROWS * i))
        .for_each(|(yc, xc)| {
            let rows = xc.len() / i;
            for row in yc.chunks_exact_mut(o) {
                row.copy_from_slice(bs);
            }
            gemm(rows, i, o, 1.0, Mat::n(xc, i), Mat::t(ws, i), 1.0, yc, o);
        });
    y
}

/// Dense backward: returns `(dx, dw, db)`; work split over output rows (dW) and batch rows (dX),
/// so no reduction across threads is needed.
pub fn dense_backward(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    dy: &Array4<f32>,
    need_dx: bool,
) -> (Option<Array4<f32>>, ArrayD<f32>, ArrayD<f32>) {
    let n = x.shape()[0];
    let (o, i) = (wgt.shape()[0], wgt.shape()[1]);
    let (xs, ws, dys) = (
        x.as_slice().unwrap(),
        wgt.as_slice().unwrap(),
        dy.as_slice().unwrap(),
    );
    let mut dw = vec![0f32; o * i];
    // dW[o, i] = dY^T[o, n] · X[n, i], split over o.
    let rows_per = o.div_ceil(rayon::current_num_threads().max(1)).max(1);
    dw.par_chunks_mut(rows_per * i)
        .enumerate()
        .for_each(|(t, dwc)| {
            let o0 = t * rows_per;
            let rows = dwc.len() / i;
            gemm(
                rows,
                n,
                i,
                1.0,
                Mat::t(&dys[o0..], o),
                Mat::n(xs, i),
                0.0,
                dwc,
                i,
            );
        });
    let mut db = vec![0f32; o];
    for row in dys.chunks_exact(o) {
        db.iter_mut().zip(row).for_each(|(a, b)| *a += *b);
    }
    let dx = need_dx.then(|| {
        let xshape = dims(x);
        let mut dx = Array4::<f32>::zeros((xshape[0], xshape[1], xshape[2], xshape[3]));
        dx.as_slice_mut()
            .unwrap()
            .par_chunks_mut(DENSE_ROWS * i)
            .zip(dys.par_chunks(DENSE_ROWS * o))
            .for_each(|(dxc, dyc)| {
                let rows = dyc.len() / o;
                gemm(rows, o, i, 1.0, Mat::n(dyc, o), Mat::n(ws, i), 0.0, dxc, i);
            });
        dx
    });
    (
        dx,
        ArrayD::from_shape_vec(IxDyn(&[o, i]), dw).unwrap(),
        ArrayD::from_shape_vec(IxDyn(&[o]), db).unwrap(),
    )
}

/// In-place ReLU; returns where the input was positive (the backward mask).
pub fn relu_forward(x: &mut Array4<f32>) -> Vec<bool> {
    let mut pos = vec![false; x.len()];
    x.as_slice_mut()
        .unwrap()
        .par_chunks_mut(1 << 14)
        .zip(pos.par_chunks_mut(1 << 14))
        .for_each(|(c, m)| {
            for (v, m) in c.iter_mut().zip(m) {
                *m = *v > 0.0;
                if !*m {
                    *v = 0.0;
                }
            }
        });
    pos
}

/// ReLU backward in place on `dy`: zero where the input was not positive.
pub fn relu_backward(pos: &[bool], dy: &mut Array4<f32>) {
    dy.as_slice_mut()
        .unwrap()
        .par_chunks_mut(1 << 14)
        .zip(pos.par_chunks(1 << 14))
        .for_each(|(d, m)| {
            for (d, m) in d.iter_mut().zip(m) {
                if !*m {
                    *d = 0.0;
                }
            }
        });
}

/// 2x2/2 max-pool forward; returns the output and the arg-max index (0..4, row-major in the
/// window; the first maximum wins) per output element.
pub fn maxpool_forward(x: &Array4<f32>) -> (Array4<f32>, Vec<u8>) {
    let [n, h, w, c] = dims(x);
    let (oh, ow) = (h / 2, w / 2);
    let mut y = Array4::<f32>::zeros((n, oh, ow, c));
    let mut arg = vec![0u8; n * oh * ow * c];
    let xs = x.as_slice().unwrap();
    if oh * ow * c > 0 {
        y.as_slice_mut()
            .unwrap()
            .par_chunks_mut(oh * ow * c)
            .zip(arg.par_chunks_mut(oh * ow * c))
            .zip(xs.par_chunks(h * w * c))
            .for_each(|((yi, ai), xi)| pool_image(xi, [h, w, c], yi, ai, false));
    }
    (y, arg)
}

/// Max-pool backward: routes each output gradient to its arg-max input.
pub fn maxpool_backward(in_shape: [usize; 4], arg: &[u8], dy: &Array4<f32>) -> Array4<f32> {
    let [n, h, w, c] = in_shape;
    let (oh, ow) = (h / 2, w / 2);
    let mut dx = Array4::<f32>::zeros((n, h, w, c));
    dx.as_slice_mut()
        .unwrap()
        .par_chunks_mut(h * w * c)
        .zip(dy.as_slice().unwrap().par_chunks(oh * ow * c))
        .zip(arg.par_chunks(oh * ow * c))
        .for_each(|((dxi, dyi), ai)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let o = (oy * ow + ox) * c;
                    for ch in 0..c {
                        let q = ai[o + ch] as usize;
                        let (dy_, dx_) = (q / 2, q % 2);
                        dxi[((2 * oy + dy_) * w + 2 * ox + dx_) * c + ch] += dyi[o + ch];
                    }
                }
            }
        });
    dx
}

/// Inverted dropout forward (in place); returns the multiplier mask.
pub fn dropout_forward(x: &mut Array4<f32>, p: f32, rng: &mut Rng) -> Vec<f32> {
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.len())
        .map(|_| if rng.chance(p) { 0.0 } else { keep })
        .collect();
    x.iter_mut().zip(&mask).for_each(|(v, m)| *v *= m);
    mask
}

/// Softmax of each row of `logits [n, classes]`.
pub fn softmax_rows(logits: &[f32], classes: usize) -> Vec<f32> {
    let mut p = logits.to_vec();
    for row in p.chunks_exact_mut(classes) {
        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut s = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            s += *v;
        }
        row.iter_mut().for_each(|v| *v /= s);
    }
    p
}

/// Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits.
/// Returns `(loss, dlogits, probabilities)`.
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[usize],
    classes: usize,
) -> (f32, Vec<f32>, Vec<f32>) {
    let n = labels.len();
    assert_eq!(
        logits.len(),
        n * classes,
        "softmax_cross_entropy: logits vs labels"
    );
    let probs = softmax_rows(logits, classes);
    let mut grad = probs.clone();
    let mut loss = 0f64;
    for (i, &y) in labels.iter().enumerate() {
        loss -= (probs[i * classes + y].max(1e-30) as f64).ln();
        grad[i * classes + y] -= 1.0;
    }
    let inv = 1.0 / n as f32;
    grad.iter_mut().for_each(|g| *g *= inv);
    ((loss / n as f64) as f32, grad, probs)
}
