//! Sparse conv backward: input and weight gradients of one image as rank-1 updates over the
//! non-zero entries of its output gradient (behind a max-pool most entries are zero).

use super::conv::ConvGeom;

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
pub(super) struct SparseGrad {
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
    pub(super) fn build(&mut self, dy: &[f32], g: ConvGeom) -> bool {
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
pub(super) fn sparse_dx_image(
    sg: &SparseGrad,
    g: ConvGeom,
    wrow: &[f32],
    fma: bool,
    dx: &mut [f32],
) {
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
pub(super) fn sparse_dw_image(sg: &SparseGrad, x: &[f32], g: ConvGeom, fma: bool, dw: &mut [f32]) {
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
pub(super) fn pad_weight_rows(w: &[f32], o: usize, k: usize, c: usize) -> Vec<f32> {
    let kc = k * c;
    let kcp = kc.div_ceil(8) * 8;
    let mut out = vec![0f32; o * k * kcp];
    for (dst, src) in out.chunks_exact_mut(kcp).zip(w.chunks_exact(kc)) {
        dst[..kc].copy_from_slice(src);
    }
    out
}
