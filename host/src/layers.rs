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
//! Convolution is im2col + GEMM (`matrixmultiply::sgemm`), one image at a time so the column
//! buffer stays in L2, parallel over images with rayon. With HWC activations each im2col row is
//! `k` contiguous copies of `k * in_ch` floats. Weight gradients are reduced over fixed chunks of
//! [`GRAD_CHUNK`] images in a fixed order, so results do not depend on the thread count.

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
            LayerSpec::Flatten => Ok([1, 1, s[0] * s[1] * s[2]]),
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
// Batch forward / backward
// ---------------------------------------------------------------------------------------------

fn dims(x: &Array4<f32>) -> [usize; 4] {
    let s = x.shape();
    [s[0], s[1], s[2], s[3]]
}

/// Conv forward over a batch `[n, h, w, c]` -> `[n, oh, ow, out_ch]`, parallel over images.
pub fn conv_forward(x: &Array4<f32>, wgt: &ArrayD<f32>, bias: &ArrayD<f32>) -> Array4<f32> {
    let [n, h, w, c] = dims(x);
    let ws = wgt.shape();
    let (o, k) = (ws[0], ws[1]);
    assert_eq!(
        ws,
        &[o, k, k, c],
        "conv_forward: weight shape vs input channels"
    );
    let (oh, ow) = (h - k + 1, w - k + 1);
    let mut y = Array4::<f32>::zeros((n, oh, ow, o));
    let (xs, ws, bs) = (
        x.as_slice().unwrap(),
        wgt.as_slice().unwrap(),
        bias.as_slice().unwrap(),
    );
    let (in_len, out_len) = (h * w * c, oh * ow * o);
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(out_len)
        .zip(xs.par_chunks(in_len))
        .for_each_init(
            || vec![0f32; oh * ow * k * k * c],
            |col, (yi, xi)| conv_forward_image(xi, [h, w, c], ws, bs, o, k, col, yi),
        );
    y
}

/// Conv backward. Returns `(dx, dw, db)`; `dx` only when `need_dx` (not for the first layer).
pub fn conv_backward(
    x: &Array4<f32>,
    wgt: &ArrayD<f32>,
    dy: &Array4<f32>,
    need_dx: bool,
) -> (Option<Array4<f32>>, ArrayD<f32>, ArrayD<f32>) {
    let [n, h, w, c] = dims(x);
    let ws = wgt.shape().to_vec();
    let (o, k) = (ws[0], ws[1]);
    let (oh, ow) = (h - k + 1, w - k + 1);
    let (p, kkc) = (oh * ow, k * k * c);
    let (in_len, out_len) = (h * w * c, p * o);
    let xs = x.as_slice().unwrap();
    let dys = dy.as_slice().unwrap();
    let wsl = wgt.as_slice().unwrap();
    let mut dx = if need_dx {
        Some(Array4::<f32>::zeros((n, h, w, c)))
    } else {
        None
    };
    let chunk_imgs = GRAD_CHUNK.min(n.max(1));
    let work = |xc: &[f32], dyc: &[f32], mut dxc: Option<&mut [f32]>| {
        let mut dw = vec![0f32; o * kkc];
        let mut db = vec![0f32; o];
        let mut col = vec![0f32; p * kkc];
        let mut dcol = if need_dx {
            vec![0f32; p * kkc]
        } else {
            Vec::new()
        };
        for (i, (xi, dyi)) in xc
            .chunks_exact(in_len)
            .zip(dyc.chunks_exact(out_len))
            .enumerate()
        {
            im2col(xi, h, w, c, k, &mut col);
            // dW[o, kkc] += dY^T[o, p] · col[p, kkc]
            gemm(
                o,
                p,
                kkc,
                1.0,
                Mat::t(dyi, o),
                Mat::n(&col, kkc),
                1.0,
                &mut dw,
                kkc,
            );
            for row in dyi.chunks_exact(o) {
                for (b, g) in db.iter_mut().zip(row) {
                    *b += *g;
                }
            }
            if let Some(dxc) = dxc.as_deref_mut() {
                // dcol[p, kkc] = dY[p, o] · W[o, kkc]
                gemm(
                    p,
                    o,
                    kkc,
                    1.0,
                    Mat::n(dyi, o),
                    Mat::n(wsl, kkc),
                    0.0,
                    &mut dcol,
                    kkc,
                );
                col2im_add(&dcol, h, w, c, k, &mut dxc[i * in_len..(i + 1) * in_len]);
            }
        }
        (dw, db)
    };
    let partials: Vec<(Vec<f32>, Vec<f32>)> = match dx.as_mut() {
        Some(dx) => dx
            .as_slice_mut()
            .unwrap()
            .par_chunks_mut(in_len * chunk_imgs)
            .zip(xs.par_chunks(in_len * chunk_imgs))
            .zip(dys.par_chunks(out_len * chunk_imgs))
            .map(|((dxc, xc), dyc)| work(xc, dyc, Some(dxc)))
            .collect(),
        None => xs
            .par_chunks(in_len * chunk_imgs)
            .zip(dys.par_chunks(out_len * chunk_imgs))
            .map(|(xc, dyc)| work(xc, dyc, None))
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
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(oh * ow * c)
        .zip(arg.par_chunks_mut(oh * ow * c))
        .zip(xs.par_chunks(h * w * c))
        .for_each(|((yi, ai), xi)| {
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
                        let mut best = xi[base[0] + ch];
                        let mut bi = 0u8;
                        for (q, b) in base.iter().enumerate().skip(1) {
                            let v = xi[b + ch];
                            if v > best {
                                best = v;
                                bi = q as u8;
                            }
                        }
                        yi[o + ch] = best;
                        ai[o + ch] = bi;
                    }
                }
            }
        });
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
