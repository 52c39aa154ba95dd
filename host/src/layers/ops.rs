//! The other batch ops: dense forward/backward, ReLU, 2x2 max-pool, dropout, softmax and the
//! softmax cross-entropy loss.

use firmware::numerics::pool_out;
use ndarray::{Array4, ArrayD, IxDyn};
use rayon::prelude::*;

use super::batch::{dims, pool_image};
use super::gemm::{gemm, Mat};
use crate::rng::Rng;

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
    let (oh, ow) = (pool_out(h), pool_out(w));
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
    let (oh, ow) = (pool_out(h), pool_out(w));
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
    softmax_cross_entropy_smoothed(logits, labels, classes, 0.0)
}

/// [`softmax_cross_entropy`] against label-smoothed targets `q = (1 - eps) onehot + eps / C`:
/// loss `-sum q log p` (mean over rows), gradient `(p - q) / n`. `eps = 0` is the plain loss.
pub fn softmax_cross_entropy_smoothed(
    logits: &[f32],
    labels: &[usize],
    classes: usize,
    eps: f32,
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
    let off = eps / classes as f32;
    for (i, &y) in labels.iter().enumerate() {
        if eps == 0.0 {
            loss -= (probs[i * classes + y].max(1e-30) as f64).ln();
            grad[i * classes + y] -= 1.0;
            continue;
        }
        for c in 0..classes {
            let q = off + if c == y { 1.0 - eps } else { 0.0 };
            loss -= q as f64 * (probs[i * classes + c].max(1e-30) as f64).ln();
            grad[i * classes + c] -= q;
        }
    }
    let inv = 1.0 / n as f32;
    grad.iter_mut().for_each(|g| *g *= inv);
    ((loss / n as f64) as f32, grad, probs)
}
