//! Direct convolution kernels on one HWC image: register-blocked forward, input-gradient and
//! weight-gradient tiles, compiled with AVX2+FMA (selected at run time) and portably.

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
pub(super) fn use_fma() -> bool {
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
pub(super) fn channel_blocks(o: usize) -> Vec<(usize, usize, usize)> {
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
pub(super) fn pack_weights(w: &[f32], o: usize, kkc: usize) -> Vec<f32> {
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
pub(super) struct ConvGeom {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c: usize,
    pub(super) k: usize,
    /// Output channels of the layer (row stride of `y`).
    pub(super) o: usize,
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
pub(super) fn conv_direct_image(
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
pub(super) fn conv_dw_image(
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
pub(super) fn unpack_weights(packed: &[f32], o: usize, kkc: usize, out: &mut [f32]) {
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
pub(super) fn flip_weights(w: &[f32], o: usize, k: usize, c: usize) -> Vec<f32> {
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
