//! Conv layers over a batch `[n, h, w, c]`: forward (optionally with ReLU), the fused
//! conv + ReLU + 2x2 max-pool, and their backward passes, parallel over images with a
//! thread-count-independent weight-gradient reduction.

use firmware::numerics::{conv_out, pool_out};
use ndarray::{Array4, ArrayD, IxDyn};
use rayon::prelude::*;

use super::conv::{
    channel_blocks, conv_direct_image, conv_dw_image, flip_weights, pack_weights, unpack_weights,
    use_fma, ConvGeom,
};
use super::sparse::{pad_weight_rows, sparse_dw_image, sparse_dx_image, SparseGrad};

/// Images per partial weight-gradient sum in the parallel conv backward pass.
pub const GRAD_CHUNK: usize = 8;

// ---------------------------------------------------------------------------------------------
// Batch forward / backward
// ---------------------------------------------------------------------------------------------

pub(super) fn dims(x: &Array4<f32>) -> [usize; 4] {
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
    let (oh, ow) = (conv_out(h, k), conv_out(w, k));
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
    let out_len = conv_out(h, k) * conv_out(w, k) * wgt.shape()[0];
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
/// 0..4 in its window (first maximum wins, as [`super::maxpool_forward`]) or [`POOL_NO_GRAD`] where
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
    let (oh, ow) = (conv_out(h, k), conv_out(w, k));
    let (ph, pw) = (pool_out(oh), pool_out(ow));
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
    let (oh, ow) = (conv_out(h, k), conv_out(w, k));
    let (ph, pw) = (pool_out(oh), pool_out(ow));
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
pub(super) fn pool_image(
    x: &[f32],
    [h, w, c]: [usize; 3],
    y: &mut [f32],
    arg: &mut [u8],
    no_grad_at_zero: bool,
) {
    let (oh, ow) = (pool_out(h), pool_out(w));
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
    let (oh, ow) = (conv_out(h, k), conv_out(w, k));
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
