//! The GEMM wrapper over `matrixmultiply::sgemm` and the single-image im2col reference conv
//! (public so tests can compare the direct kernels with it).

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
